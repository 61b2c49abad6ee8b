#!/usr/bin/python3
"""dispatcher/90-threatstop-ddr run the way nm-dispatcher runs it (only NM's variables
and PATH in the environment, $1 = interface, $2 = action; RIG.md): against the real
daemon on a private system bus, against a recording stand-in for the daemon (to see
the exact arguments), and with no daemon or no bus at all."""

import os
import re
import signal
import subprocess
import time

import dbus
import dbusmock

import busrig
import rig
from busrig import BUS_NAME, IFACE, OBJ_PATH
from nmmock import NMBusTestCase

SCRIPT = os.path.join(busrig.SRC, 'dispatcher', '90-threatstop-ddr')
PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

UP_ENV = {
    'CONNECTION_UUID': '5f0c4b0e-1111-4a6b-9a39-000000000001',
    'CONNECTION_ID': 'Hotel Wi-Fi',           # a space: one argument all the same
    'CONNECTION_DBUS_PATH': '/org/freedesktop/NetworkManager/Settings/1',  # not forwarded
    'DEVICE_IFACE': 'wlan0',
    'DEVICE_IP_IFACE': 'wlan0',
    'IP4_NAMESERVERS': '192.168.1.1 192.168.1.2',
    'IP4_DOMAINS': 'home.arpa',
    'IP4_ADDRESS_0': '192.168.1.20/24 192.168.1.1',  # not forwarded
    'NM_DISPATCHER_ACTION': 'up',
}
FORWARDED = ['CONNECTION_UUID', 'CONNECTION_ID', 'DEVICE_IFACE', 'DEVICE_IP_IFACE',
             'IP4_NAMESERVERS', 'IP4_DOMAINS', 'IP6_NAMESERVERS', 'IP6_DOMAINS',
             'VPN_IP4_DOMAINS', 'CONNECTIVITY_STATE', 'NM_DISPATCHER_ACTION']


def run_script(iface, action, env, bus_address, timeout=10):
    """Run the hook as nm-dispatcher does; returns (CompletedProcess, seconds)."""
    e = {'PATH': PATH}
    if bus_address is not None:
        e['DBUS_SYSTEM_BUS_ADDRESS'] = bus_address
    e.update(env)
    t0 = time.monotonic()
    p = subprocess.run([SCRIPT, iface, action], env=e, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p, time.monotonic() - t0


class TestDispatcherScript(NMBusTestCase):

    start_nm = False   # only its bus policy, which lets root drive a dbusmock stand-in

    def setUp(self):
        super().setUp()
        rig.tool('busctl')
        st = os.stat(SCRIPT)
        # nm-dispatcher runs only root-owned scripts that nobody else may write
        self.assertTrue(st.st_mode & 0o100, 'dispatcher script is not executable')
        self.assertFalse(st.st_mode & 0o022, 'dispatcher script is group/other-writable')

    def events(self):
        return int(self.statistics()['network_events'])

    def test_up_and_connectivity_change_reach_the_daemon(self):
        d = self.start_bus_daemon()
        n0 = self.events()
        p, took = run_script('wlan0', 'up', UP_ENV, self.bus_rig.address)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        self.assertLess(took, 2.0)
        self.assertEqual(self.events(), n0 + 1)
        # the 7 forwarded variables that are set (not CONNECTION_DBUS_PATH, IP4_ADDRESS_0)
        d.wait_log(r'network event up on wlan0 \(7 variables\)', 5)

        # connectivity-change: empty interface, only CONNECTIVITY_STATE and the action
        p, took = run_script('', 'connectivity-change',
                             {'CONNECTIVITY_STATE': 'PORTAL',
                              'NM_DISPATCHER_ACTION': 'connectivity-change'},
                             self.bus_rig.address)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        self.assertEqual(self.events(), n0 + 2)
        d.wait_log(r'network event connectivity-change on \(no interface\) \(2 variables\)', 5)

        for action in ('down', 'dhcp4-change', 'dhcp6-change', 'vpn-up', 'vpn-down'):
            p, _ = run_script('tun0', action, {'NM_DISPATCHER_ACTION': action},
                              self.bus_rig.address)
            self.assertEqual(p.returncode, 0, action)
            d.wait_log(r'network event %s on tun0 \(1 variables\)' % action, 5)
        self.assertEqual(self.events(), n0 + 7)

    def test_other_actions_send_nothing(self):
        d = self.start_bus_daemon()
        n0 = self.events()
        start = len(d.log())
        for action in ('pre-up', 'pre-down', 'hostname', 'dns-change', 'reapply',
                       'device-add', 'vpn-pre-up', 'bogus', ''):
            p, took = run_script('wlan0', action, dict(UP_ENV, NM_DISPATCHER_ACTION=action),
                                 self.bus_rig.address)
            self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''), action)
            self.assertLess(took, 1.0, action)
        # a known action afterwards is counted: nothing before it was
        run_script('wlan0', 'up', UP_ENV, self.bus_rig.address)
        self.assertEqual(self.events(), n0 + 1)
        self.assertEqual(re.findall(r'network event (\S+)', d.log()[start:]), ['up'])

    def test_exact_arguments(self):
        """A recording stand-in owns com.threatstop.DDR1: the call carries action,
        interface and exactly the NM variables that are set, values unchanged."""
        mock = subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system',
                                 BUS_NAME, OBJ_PATH, IFACE], stdout=subprocess.DEVNULL)
        self.addCleanup(lambda: (mock.terminate(), mock.wait()))
        rig.wait_until(lambda: self.bus.name_has_owner(BUS_NAME), 10, what='stand-in')
        ctl = dbus.Interface(self.bus.get_object(BUS_NAME, OBJ_PATH), dbusmock.MOCK_IFACE)
        ctl.AddMethod(IFACE, 'NotifyNetworkEvent', 'ssa{ss}', '', '')
        env = dict(UP_ENV, IP6_NAMESERVERS='fd00::1', VPN_IP4_DOMAINS='corp.example lab.example',
                   IP4_DOMAINS='')   # set but empty: forwarded as empty
        p, _ = run_script('wlan0', 'up', env, self.bus_rig.address)
        self.assertEqual(p.returncode, 0, p.stderr)
        calls = ctl.GetMethodCalls('NotifyNetworkEvent')
        self.assertEqual(len(calls), 1)
        action, iface, sent = calls[0][1]
        self.assertEqual((str(action), str(iface)), ('up', 'wlan0'))
        want = {k: v for k, v in env.items() if k in FORWARDED}
        self.assertEqual({str(k): str(v) for k, v in sent.items()}, want)
        self.assertEqual(sent['CONNECTION_ID'], 'Hotel Wi-Fi')

        ctl.ClearCalls()
        run_script('', 'connectivity-change', {'CONNECTIVITY_STATE': 'FULL',
                                               'NM_DISPATCHER_ACTION': 'connectivity-change'},
                   self.bus_rig.address)
        calls = ctl.GetMethodCalls('NotifyNetworkEvent')
        self.assertEqual([(str(a), str(i), dict(e)) for a, i, e in (c[1] for c in calls)],
                         [('connectivity-change', '', {'CONNECTIVITY_STATE': 'FULL',
                                                       'NM_DISPATCHER_ACTION':
                                                       'connectivity-change'})])

    def test_no_daemon_exit_0_quickly(self):
        # the bus runs, nobody owns the name (--auto-start=no: nothing is activated)
        p, took = run_script('wlan0', 'up', UP_ENV, self.bus_rig.address)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        self.assertLess(took, 3.0)

    def test_no_bus_exit_0_quickly(self):
        p, took = run_script('wlan0', 'up', UP_ENV, 'unix:path=' + self.path('no-such-socket'))
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        self.assertLess(took, 3.0)

    def test_hung_daemon_bounded(self):
        """A daemon that owns the name but never answers (SIGSTOP): the hook gives up
        after busctl's 2 s timeout and still exits 0."""
        d = self.start_bus_daemon()
        d.signal(signal.SIGSTOP)
        try:
            p, took = run_script('wlan0', 'up', UP_ENV, self.bus_rig.address)
        finally:
            d.signal(signal.SIGCONT)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        self.assertLess(took, 3.0)
        self.assertGreaterEqual(took, 1.5)


if __name__ == '__main__':
    import unittest
    unittest.main()
