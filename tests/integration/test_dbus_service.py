#!/usr/bin/python3
"""com.threatstop.DDR1 on a private system bus: properties, PropertiesChanged, statistics,
NotifyNetworkEvent, Reprobe, and the bus policy, against the real daemon and unbound."""

import os
import signal
import subprocess
import time

import dbus

import busrig
import rig
from busrig import BUS_NAME, IFACE, BusTestCase
from rig import wait_until


class TestDBusService(BusTestCase):

    def test_properties_in_forwarding_mode(self):
        d = self.start_bus_daemon()
        p = self.props()
        self.assertEqual(p['State'], 'forwarding')
        self.assertIsInstance(p['State'], dbus.String)
        self.assertIs(bool(p['Protected']), False)
        self.assertIsInstance(p['Protected'], dbus.Boolean)
        self.assertEqual(p['UnprotectedSince'], 0)
        self.assertIsInstance(p['UnprotectedSince'], dbus.UInt64)
        self.assertIsInstance(p['PausedUntil'], dbus.UInt64)
        self.assertEqual(p['PausedUntil'], 0)
        self.assertEqual(p['ServiceUrl'], self.unbound.url)
        self.assertTrue(p['ServiceReachable'])
        self.assertEqual(p['PortalUrl'], '')
        self.assertEqual(p['Network'], '')
        self.assertEqual(p['DnsBackend'], 'none')
        self.assertEqual(p['LastError'], '')
        self.assertRegex(p['Version'], r'^\d+\.\d+\.\d+')
        self.assertRegex(p['Reason'], r'^[A-Z].*\.$')
        self.assertIn('Roaming is off', p['Reason'])
        self.assertEqual(list(p['ListenAddresses']), ['127.0.0.1:%d' % d.port])
        self.assertEqual(p['CheckDomain'], 'check.test')
        # Get agrees with GetAll
        self.assertEqual(self.prop('State'), 'forwarding')

    def test_introspection_matches_xml(self):
        self.start_bus_daemon()
        xml = self.proxy().Introspect(dbus_interface='org.freedesktop.DBus.Introspectable')
        for member in ('GetStatistics', 'Reprobe', 'NotifyNetworkEvent', 'Pause', 'Resume',
                       'Reload', 'State', 'Protected', 'UnprotectedSince', 'LastError'):
            self.assertIn('"%s"' % member, xml)

    def test_statistics_keys_types_and_real_counts(self):
        d = self.start_bus_daemon()
        before = self.statistics()
        t_keys = ['queries', 'cache_hits', 'servfail', 'refused', 'malformed',
                  'inflight_overflow', 'upstream_errors', 'network_events']
        u_keys = ['latency_p50_us', 'latency_p99_us', 'inflight', 'uptime_s']
        for k in t_keys:
            self.assertIsInstance(before[k], dbus.UInt64, k)
        for k in u_keys:
            self.assertIsInstance(before[k], dbus.UInt32, k)
        self.assertEqual(before.signature, 'sv')
        ups = before['upstreams']
        self.assertEqual(ups.signature, 'a{sv}')
        self.assertEqual(len(ups), 1)
        self.assertEqual(ups[0]['url'], self.unbound.url)
        self.assertIsInstance(ups[0]['healthy'], dbus.Boolean)
        self.assertIsInstance(ups[0]['queries'], dbus.UInt64)
        self.assertIsInstance(ups[0]['errors'], dbus.UInt64)

        for i in range(5):
            self.assertAnswered(d.query('allowed.test', 'A'), 'NOERROR', 'query %d' % i)
        d.query('blocked.example', 'A')
        after = self.statistics()
        # wait_ready's probes happened before 'before'; exactly our 6 queries since
        self.assertEqual(after['queries'] - before['queries'], 6)
        self.assertGreaterEqual(after['cache_hits'] - before['cache_hits'], 4)
        self.assertGreater(after['latency_p50_us'], 0)
        self.assertGreaterEqual(after['latency_p99_us'], after['latency_p50_us'])
        self.assertGreaterEqual(after['upstreams'][0]['queries'], 2)
        self.assertTrue(after['upstreams'][0]['healthy'])
        # the same numbers SIGUSR1 logs
        stats, _ = d.statistics()
        self.assertEqual(int(stats['queries']), after['queries'])

    def test_notify_network_event_counts(self):
        self.start_bus_daemon()
        iface = self.iface()
        n0 = self.statistics()['network_events']
        iface.NotifyNetworkEvent('up', 'wlan0', {'CONNECTION_UUID': 'x', 'DEVICE_IFACE': 'wlan0'})
        iface.NotifyNetworkEvent('connectivity-change', '', {'CONNECTIVITY_STATE': 'FULL'})
        self.assertEqual(self.statistics()['network_events'], n0 + 2)
        self.assertDBusError('com.threatstop.DDR1.Error.InvalidArgs',
                             iface.NotifyNetworkEvent, '', 'eth0',
                             dbus.Dictionary({}, signature='ss'))
        self.assertEqual(self.statistics()['network_events'], n0 + 2)

    def test_reprobe_anyone(self):
        self.start_bus_daemon()
        self.iface().Reprobe()
        self.assertEqual(self.prop('State'), 'forwarding')

    def test_policy_unprivileged_user(self):
        """The bus policy: anyone reads and calls GetStatistics/Reprobe; only root may
        call NotifyNetworkEvent; Pause/Resume/Reload reach the daemon (polkit decides)."""
        rig.tool('setpriv')
        self.start_bus_daemon()
        script = r'''
import dbus, sys
bus = dbus.bus.BusConnection(sys.argv[1])
o = bus.get_object("com.threatstop.DDR1", "/com/threatstop/DDR1", introspect=False)
i = dbus.Interface(o, "com.threatstop.DDR1")
out = []
out.append(str(o.Get("com.threatstop.DDR1", "State", dbus_interface="org.freedesktop.DBus.Properties")))
out.append(str(len(i.GetStatistics())))
i.Reprobe()
out.append("reprobe")
for call in (lambda: i.NotifyNetworkEvent("up", "eth0", dbus.Dictionary({}, signature="ss")), lambda: i.Reload(),
             lambda: i.Pause(dbus.UInt32(5))):
    try:
        call()
        out.append("ok")
    except dbus.exceptions.DBusException as e:
        out.append(e.get_dbus_name())
print(" ".join(out))
'''
        p = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                            '/usr/bin/python3', '-c', script, self.bus_rig.address],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        words = p.stdout.split()
        self.assertEqual(words[0], 'forwarding')
        self.assertGreaterEqual(int(words[1]), 13)
        self.assertEqual(words[2], 'reprobe')
        self.assertEqual(words[3], 'org.freedesktop.DBus.Error.AccessDenied')
        # passed the bus, refused by (mock) polkit
        self.assertEqual(words[4], 'com.threatstop.DDR1.Error.NotAuthorized')
        self.assertEqual(words[5], 'com.threatstop.DDR1.Error.NotAuthorized')

    def test_name_taken_keeps_relaying(self):
        first = self.start_bus_daemon(name='first')
        port = rig.free_port()
        cfg = rig.relay_config(self.unbound, self.ca, port)
        second = busrig.BusDaemon(rig.daemon_binary(), self.path('second'), cfg, port=port)
        self._daemons.append(second)
        second.spawn()
        second.wait_ready()
        second.wait_log(r'cannot own com\.threatstop\.DDR1', 10)
        self.assertAnswered(second.query('allowed.test'), 'NOERROR', 'second daemon')
        self.assertAnswered(first.query('allowed.test'), 'NOERROR', 'first daemon')
        self.assertEqual(self.prop('ListenAddresses')[0], '127.0.0.1:%d' % first.port)


class TestWatchdog(BusTestCase):
    """Under systemd (WatchdogSec= in the unit) the main loop pets the watchdog at half
    the interval, so a hung loop is killed and restarted; without WATCHDOG_USEC, or with
    a WATCHDOG_PID that is not ours, it sends nothing (no idle wake-ups)."""

    def _notify_socket(self):
        import socket
        path = self.path('notify-%d.sock' % len(os.listdir(self.tmp)))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        self.addCleanup(s.close)
        return path, s

    def _messages(self, s, seconds):
        import select
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([s], [], [], left)[0]:
                out.append(s.recv(4096).decode())
        return out

    def test_watchdog_petted_while_the_loop_runs(self):
        path, s = self._notify_socket()
        d = self.start_bus_daemon(env={'NOTIFY_SOCKET': path, 'WATCHDOG_USEC': '400000'})
        msgs = self._messages(s, 1.5)
        self.assertTrue(any('READY=1' in m for m in msgs), msgs)
        pets = [m for m in msgs if m.strip() == 'WATCHDOG=1']
        self.assertGreaterEqual(len(pets), 4, 'WATCHDOG=1 every 200 ms expected: %r' % msgs)
        d.signal(signal.SIGSTOP)      # a hung main loop: systemd would kill it now
        try:
            self.assertEqual([m for m in self._messages(s, 0.6) if 'WATCHDOG' in m], [])
        finally:
            d.signal(signal.SIGCONT)

    def test_no_watchdog_no_wakeups(self):
        path, s = self._notify_socket()
        self.start_bus_daemon(env={'NOTIFY_SOCKET': path, 'WATCHDOG_USEC': '200000',
                                   'WATCHDOG_PID': '1'})
        msgs = self._messages(s, 1.0)
        self.assertEqual([m for m in msgs if 'WATCHDOG' in m], [],
                         'WATCHDOG_PID names another process')


class LaxPolicyBus(busrig.SystemBus):
    """A system bus whose policy for our name is broken open: anyone may call anything."""

    def __init__(self, dir, **kw):
        super().__init__(dir, **kw)
        lax = os.path.join(dir, 'lax-policy.conf')
        with open(lax, 'w') as f:
            f.write('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration '
                    '1.0//EN"\n "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
                    '<busconfig><policy user="root"><allow own="com.threatstop.DDR1"/></policy>'
                    '<policy context="default"><allow send_destination="com.threatstop.DDR1"/>'
                    '</policy></busconfig>\n')
        with open(self.conf, 'w') as f:
            f.write(busrig.bus_config(self.socket).replace(busrig.DDR_POLICY, lax))


class TestDaemonChecksCaller(BusTestCase):
    """NotifyNetworkEvent: the daemon checks uid 0 itself, whatever the bus policy says."""

    system_bus = LaxPolicyBus

    def test_unprivileged_network_event_refused_by_the_daemon(self):
        rig.tool('setpriv')
        self.start_bus_daemon()
        n0 = self.statistics()['network_events']
        script = r'''
import dbus, sys
bus = dbus.bus.BusConnection(sys.argv[1])
i = dbus.Interface(bus.get_object("com.threatstop.DDR1", "/com/threatstop/DDR1",
                                  introspect=False), "com.threatstop.DDR1")
try:
    i.NotifyNetworkEvent("up", "eth0", dbus.Dictionary({}, signature="ss"))
    print("ok")
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
'''
        p = subprocess.run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                            '/usr/bin/python3', '-c', script, self.bus_rig.address],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith('com.threatstop.DDR1.Error.NotAuthorized'), p.stdout)
        self.assertEqual(self.statistics()['network_events'], n0)
        # root still may
        self.iface().NotifyNetworkEvent('up', 'eth0', dbus.Dictionary({}, signature='ss'))
        self.assertEqual(self.statistics()['network_events'], n0 + 1)


class TestNoSystemBus(rig.RigTestCase):
    """Without a reachable system bus (and without --no-bus) the relay still serves."""

    def test_dead_bus_socket(self):
        u = self.start_unbound()
        dead = self.path('no-such-bus-socket')
        old = os.environ.get('DBUS_SYSTEM_BUS_ADDRESS')
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = 'unix:path=' + dead
        try:
            port = rig.free_port()
            d = busrig.BusDaemon(rig.daemon_binary(), self.path('ddrd'),
                                 rig.relay_config(u, self.ca, port), port=port)
            self._daemons.append(d)
            d.start()
        finally:
            if old is None:
                os.environ.pop('DBUS_SYSTEM_BUS_ADDRESS', None)
            else:
                os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = old
        self.assertNotIn('--no-bus', d.command())
        d.wait_log(r'no system bus .*relay keeps serving DNS', 5)
        self.assertEqual(len(__import__('re').findall('WARNING', d.log())), 1, d.log())
        for tcp in (False, True):
            self.assertAnswered(d.query('allowed.test', tcp=tcp), 'NOERROR', 'tcp=%s' % tcp)
        d.signal(signal.SIGHUP)
        d.wait_log('configuration reloaded', 5)
        self.assertAnswered(d.query('www.allowed.test'), 'NOERROR', 'after SIGHUP')


if __name__ == '__main__':
    import unittest
    unittest.main()
