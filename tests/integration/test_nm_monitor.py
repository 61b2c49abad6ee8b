#!/usr/bin/python3
"""DdrNmMonitor against python3-dbusmock's NetworkManager template on a private system bus.

tests/tools/nm-monitor-dump runs the monitor and prints one JSON line per "changed"; the
test drives the mock (primary connection, the device's IP4Config, per-device connectivity,
a VPN, the owned steering profile, NM going away and coming back) and waits for the
snapshot to follow. The template lacks PrimaryConnection, Ip4Connectivity, Ip4Config and
friends: they are added here with AddProperty (values as dbus.UInt32, or libnm ignores
them) and announced with PropertiesChanged / InterfacesAdded as NetworkManager does."""

import json
import os
import subprocess
import sys
import threading

import dbus
import dbusmock

import busrig
import rig
from rig import RigTestCase, wait_until

NM = 'org.freedesktop.NetworkManager'
NM_PATH = '/org/freedesktop/NetworkManager'
SETTINGS_PATH = NM_PATH + '/Settings'
DEVICE_IFACE = NM + '.Device'
ACTIVE_IFACE = NM + '.Connection.Active'
IP4_IFACE = NM + '.IP4Config'
OM_IFACE = 'org.freedesktop.DBus.ObjectManager'
MOCK = dbusmock.MOCK_IFACE
ACTIVATED = 100
AC_ACTIVATED = 2
CONNECTIVITY = {'unknown': 0, 'none': 1, 'portal': 2, 'limited': 3, 'full': 4}

OWNED_UUID = 'd4d9a706-83e3-4e49-857d-a38ab2ca8dcf'
HOME_UUID = '0b0f1d5e-7c55-4a6e-9a64-9d2f3c1a0001'
VPN_UUID = '0b0f1d5e-7c55-4a6e-9a64-9d2f3c1a0002'

def dump_binary():
    return rig.built('nm-monitor-dump', 'tests', 'tools', 'nm-monitor-dump')


class Dump:
    """nm-monitor-dump: its JSON lines collected by a thread."""

    def __init__(self, logfile, bus_address):
        env = dict(os.environ)
        env.update({'DBUS_SYSTEM_BUS_ADDRESS': bus_address, 'G_DEBUG': 'fatal-criticals',
                    'G_MESSAGES_DEBUG': 'all', 'ASAN_OPTIONS': 'abort_on_error=1'})
        self.logfile = logfile
        self.log = open(logfile, 'w')
        self.proc = subprocess.Popen([dump_binary()], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.lines = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(json.loads(line))

    def changes(self):
        with self.lock:
            return [s for s in self.lines if s['event'] == 'changed']

    def last(self):
        c = self.changes()
        return c[-1] if c else None

    def wait(self, pred, what, timeout=10):
        def check():
            s = self.last()
            return s is not None and pred(s)
        try:
            wait_until(check, timeout, what=what)
        except AssertionError as e:
            raise AssertionError('%s; last snapshot: %s' % (e, json.dumps(self.last())))
        return self.last()

    def command(self, cmd):
        self.proc.stdin.write(cmd + '\n')
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError('nm-monitor-dump did not exit at end of input')
            self.reader.join(5)
            self.log.close()
            if rc != 0:
                raise AssertionError('nm-monitor-dump exited with %d' % rc)


class NmMock:
    """The networkmanager template plus what the monitor needs and the template lacks."""

    def __init__(self, bus):
        self.bus = bus
        self.proc, obj = dbusmock.DBusTestCase.spawn_server_template(
            'networkmanager', {}, stdout=subprocess.DEVNULL)
        self.root = dbus.Interface(obj, MOCK)        # /org/freedesktop: the ObjectManager
        self.manager = self.mock(NM_PATH)
        self.n_configs = 0
        for name, value in (('PrimaryConnection', dbus.ObjectPath('/')),
                            ('PrimaryConnectionType', ''),
                            ('ConnectivityCheckAvailable', False),
                            ('ConnectivityCheckUri', '')):
            self.manager.AddProperty(NM, name, value)

    def mock(self, path):
        return dbus.Interface(self.bus.get_object(NM, path), MOCK)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def set(self, path, iface, **props):
        """Change properties and emit PropertiesChanged, as NM does (Properties.Set: the
        mock's UpdateProperties cannot wrap an object path)."""
        obj = self.bus.get_object(NM, path)
        for name, value in props.items():
            obj.Set(iface, name, value, dbus_interface=dbus.PROPERTIES_IFACE)

    def add_object(self, path, iface, props):
        props = dbus.Dictionary(props, signature='sv')
        self.root.AddObject(path, iface, props, [])
        self.root.EmitSignal(OM_IFACE, 'InterfacesAdded', 'oa{sa{sv}}',
                             [dbus.ObjectPath(path),
                              dbus.Dictionary({iface: props}, signature='sa{sv}')])

    def add_ip4_config(self, servers=(), domains=(), searches=()):
        self.n_configs += 1
        path = NM_PATH + '/IP4Config/%d' % self.n_configs
        self.add_object(path, IP4_IFACE, {
            'NameserverData': dbus.Array([dbus.Dictionary({'address': s}, signature='sv')
                                          for s in servers], signature='a{sv}'),
            'Domains': dbus.Array(list(domains), signature='s'),
            'Searches': dbus.Array(list(searches), signature='s'),
        })
        return path

    def add_device(self, name, iface, ip4_config='/', connectivity='full'):
        path = self.root.AddEthernetDevice(name, iface, ACTIVATED)
        dev = self.mock(path)
        dev.AddProperty(DEVICE_IFACE, 'Ip4Config', dbus.ObjectPath('/'))
        dev.AddProperty(DEVICE_IFACE, 'Ip4Connectivity', dbus.UInt32(0))
        dev.AddProperty(DEVICE_IFACE, 'Ip6Connectivity', dbus.UInt32(0))
        self.set(path, DEVICE_IFACE, Ip4Config=dbus.ObjectPath(ip4_config), IpInterface=iface,
                 Ip4Connectivity=dbus.UInt32(CONNECTIVITY[connectivity]))
        return path

    def activate(self, devices, cid, uuid, ctype, name, primary=False, ip4_config=None):
        settings = dbus.Interface(self.bus.get_object(NM, SETTINGS_PATH), NM + '.Settings')
        conn = settings.AddConnection(dbus.Dictionary({
            'connection': dbus.Dictionary({'id': cid, 'uuid': uuid, 'type': ctype},
                                          signature='sv')}, signature='sa{sv}'))
        ac = self.root.AddActiveConnection(dbus.Array(devices, signature='s'), conn, '/', name,
                                           AC_ACTIVATED)
        if ip4_config is not None:
            self.mock(ac).AddProperty(ACTIVE_IFACE, 'Ip4Config', dbus.ObjectPath('/'))
            self.set(ac, ACTIVE_IFACE, Ip4Config=dbus.ObjectPath(ip4_config))
        if primary:
            self.set(NM_PATH, NM, PrimaryConnection=dbus.ObjectPath(ac),
                     PrimaryConnectionType=ctype)
        return ac

    def home(self, connectivity='full'):
        """eth0 with "Home" as the primary connection: DNS 192.0.2.53, 2001:db8::53 is not
        in an IP4Config, so only the v4 server; search lan, routing ~corp.example."""
        cfg = self.add_ip4_config(['192.0.2.53', '192.0.2.54'], domains=['~corp.example'],
                                  searches=['lan'])
        dev = self.add_device('eth0', 'eth0', cfg, connectivity)
        ac = self.activate([dev], 'Home', HOME_UUID, '802-3-ethernet', 'home', primary=True)
        return dev, ac, cfg


class TestNmMonitor(RigTestCase):

    def setUp(self):
        super().setUp()
        self.nms = []
        self.dumps = []
        self.bus = None
        self.bus_rig = busrig.SystemBus(self.path('bus'), permissive=True).start()
        self.addCleanup(self._cleanup)
        self.address = self.bus_rig.address
        self.bus = dbus.bus.BusConnection(self.address)

    def _cleanup(self):
        errors = []
        for d in self.dumps:
            try:
                d.stop()
            except AssertionError as e:
                errors.append(str(e))
        if self._failed() or errors:
            for d in self.dumps:
                with open(d.logfile) as f:
                    sys.stderr.write('\n===== nm-monitor-dump log =====\n%s\n' % f.read()[-6000:])
                sys.stderr.write('snapshots:\n%s\n' % '\n'.join(json.dumps(s) for s in d.lines))
        for nm in self.nms:
            nm.stop()
        if self.bus is not None:
            self.bus.close()
        self.bus_rig.stop()
        if errors:
            raise AssertionError('\n'.join(errors))

    def start_nm(self):
        nm = NmMock(self.bus)
        self.nms.append(nm)
        return nm

    def start_dump(self, address=None):
        d = Dump(self.path('dump-%d.log' % len(self.dumps)), address or self.address)
        self.dumps.append(d)
        return d

    # ----------------------------------------------------------------------

    def test_primary_connection_servers_and_domains(self):
        nm = self.start_nm()
        nm.set(NM_PATH, NM, ConnectivityCheckAvailable=True,
               ConnectivityCheckUri='http://check.example.net/nm')
        nm.home()
        d = self.start_dump()
        s = d.wait(lambda s: s['have_primary'] and s['primary']['servers'], 'the primary connection')
        self.assertTrue(s['ready'])
        self.assertTrue(s['nm_running'])
        self.assertEqual(s['primary']['id'], 'Home')
        self.assertEqual(s['primary']['uuid'], HOME_UUID)
        self.assertEqual(s['primary_type'], '802-3-ethernet')
        self.assertEqual(s['primary_iface'], 'eth0')
        self.assertEqual(s['primary']['servers'], ['192.0.2.53', '192.0.2.54'])
        # searches first, then the routing domain without its "~"
        self.assertEqual(s['primary']['domains'], ['lan', 'corp.example'])
        self.assertEqual(s['connectivity'], 'full')
        self.assertTrue(s['check_available'])
        self.assertEqual(s['check_host'], 'check.example.net')
        self.assertEqual(s['vpns'], [])

    def test_connectivity_follows_the_primary_device(self):
        nm = self.start_nm()
        dev, _, cfg = nm.home()
        d = self.start_dump()
        d.wait(lambda s: s['connectivity'] == 'full', 'FULL')
        for state in ('portal', 'none', 'full'):
            nm.set(dev, DEVICE_IFACE, Ip4Connectivity=dbus.UInt32(CONNECTIVITY[state]))
            d.wait(lambda s, st=state: s['connectivity'] == st, state.upper())
        # the best of IPv4 and IPv6: a portal on v4, full on v6 is full. One property at a
        # time, each wait on a real change: the loop ended at FULL, so a wait for FULL
        # right after setting both would pass on the old snapshot, and the next wait on
        # the PORTAL the monitor sees between the two properties.
        nm.set(dev, DEVICE_IFACE, Ip4Connectivity=dbus.UInt32(CONNECTIVITY['portal']))
        d.wait(lambda s: s['connectivity'] == 'portal', 'PORTAL on IPv4')
        nm.set(dev, DEVICE_IFACE, Ip6Connectivity=dbus.UInt32(CONNECTIVITY['full']))
        d.wait(lambda s: s['connectivity'] == 'full', 'FULL through IPv6')
        nm.set(dev, DEVICE_IFACE, Ip6Connectivity=dbus.UInt32(CONNECTIVITY['limited']))
        d.wait(lambda s: s['connectivity'] == 'portal', 'PORTAL over LIMITED')
        # NM's global connectivity (another device) does not count while there is a primary
        seen = len(d.changes())
        nm.root.SetConnectivity(dbus.UInt32(CONNECTIVITY['none']))
        nm.set(dev, DEVICE_IFACE, Ip6Connectivity=dbus.UInt32(CONNECTIVITY['none']))
        # the device's DNS changes: a new IP4Config object (and, as signals from one sender
        # arrive in order, proof that the changes above were seen)
        cfg2 = nm.add_ip4_config(['198.51.100.1'], searches=['hotel.example'])
        nm.set(dev, DEVICE_IFACE, Ip4Config=dbus.ObjectPath(cfg2))
        s = d.wait(lambda s: s['primary']['servers'] == ['198.51.100.1'], 'the new DNS server')
        self.assertEqual(s['primary']['domains'], ['hotel.example'])
        self.assertEqual([x['connectivity'] for x in d.changes()[seen:]],
                         ['portal'] * (len(d.changes()) - seen))
        # ... and a change inside the current IP4Config
        nm.set(cfg2, IP4_IFACE, Searches=dbus.Array(['lobby.example'], signature='s'))
        d.wait(lambda s: s['primary']['domains'] == ['lobby.example'], 'the new search domain')

    def test_global_connectivity_without_primary(self):
        nm = self.start_nm()
        d = self.start_dump()
        d.wait(lambda s: s['nm_running'] and s['connectivity'] == 'full', 'global FULL')
        self.assertFalse(d.last()['have_primary'])
        nm.root.SetConnectivity(dbus.UInt32(CONNECTIVITY['portal']))
        d.wait(lambda s: s['connectivity'] == 'portal', 'global PORTAL')
        nm.root.SetConnectivity(dbus.UInt32(CONNECTIVITY['none']))
        d.wait(lambda s: s['connectivity'] == 'none', 'global NONE')

    def test_vpn_servers_and_domains(self):
        nm = self.start_nm()
        nm.home()
        d = self.start_dump()
        d.wait(lambda s: s['have_primary'], 'the primary connection')
        vcfg = nm.add_ip4_config(['10.8.0.1'], domains=['~corp.example', '~10.in-addr.arpa'],
                                 searches=['intra.corp.example'])
        nm.activate([], 'Office VPN', VPN_UUID, 'vpn', 'vpn0', ip4_config=vcfg)
        s = d.wait(lambda s: s['vpns'] and s['vpns'][0]['servers'], 'the VPN')
        self.assertEqual(len(s['vpns']), 1)
        vpn = s['vpns'][0]
        self.assertEqual(vpn['id'], 'Office VPN')
        self.assertEqual(vpn['uuid'], VPN_UUID)
        self.assertEqual(vpn['servers'], ['10.8.0.1'])
        self.assertEqual(vpn['domains'], ['intra.corp.example', 'corp.example', '10.in-addr.arpa'])
        self.assertEqual(s['primary']['id'], 'Home')

    def test_device_vpns_count_as_vpns(self):
        """Issue 10.9: NetworkManager's native WireGuard (and tun, ip-tunnel) are device
        connections, not VPN plugins (Vpn false); they are VPNs for split DNS all the
        same. A second ordinary connection (a docking Ethernet) is not."""
        nm = self.start_nm()
        nm.home()
        d = self.start_dump()
        d.wait(lambda s: s['have_primary'], 'the primary connection')
        kinds = [('wireguard', 'wg0', '10.9.0.1', 'wg.example'),
                 ('tun', 'tun7', '10.9.1.1', 'tun.example'),
                 ('ip-tunnel', 'gre1', '10.9.2.1', 'gre.example')]
        for n, (ctype, iface, server, domain) in enumerate(kinds):
            cfg = nm.add_ip4_config([server], domains=['~' + domain])
            dev = nm.add_device(iface, iface, cfg)
            nm.activate([dev], 'VPN ' + ctype, '0b0f1d5e-7c55-4a6e-9a64-9d2f3c1a01%02d' % n,
                        ctype, iface)
        dcfg = nm.add_ip4_config(['192.0.2.99'], searches=['dock.example'])
        ddev = nm.add_device('eth1', 'eth1', dcfg)
        nm.activate([ddev], 'Dock', '0b0f1d5e-7c55-4a6e-9a64-9d2f3c1a0199', '802-3-ethernet',
                    'dock')
        s = d.wait(lambda s: len([v for v in s['vpns'] if v['servers']]) == 3,
                   'three device VPNs')
        got = {v['id']: (v['servers'], v['domains']) for v in s['vpns']}
        self.assertEqual(got, {'VPN ' + c: ([srv], [dom]) for c, _, srv, dom in kinds})
        self.assertEqual(s['primary']['id'], 'Home')

    def test_owned_steering_profile_is_never_reported(self):
        nm = self.start_nm()
        _, home, home_cfg = nm.home()
        ocfg = nm.add_ip4_config(['127.0.0.1'], domains=['~.'])
        odev = nm.add_device('ddr0', 'ddr0', ocfg)
        owned = nm.activate([odev], 'threatstop-ddr', OWNED_UUID, 'dummy', 'owned')
        d = self.start_dump()
        d.wait(lambda s: s['have_primary'], 'the primary connection')
        # even as NM's primary connection, the owned profile stays invisible: the other
        # connection with a default route stands in
        nm.set(NM_PATH, NM, PrimaryConnection=dbus.ObjectPath(owned),
               PrimaryConnectionType='dummy')
        nm.set(odev, DEVICE_IFACE, Ip4Connectivity=dbus.UInt32(CONNECTIVITY['none']))
        nm.set(ocfg, IP4_IFACE, Searches=dbus.Array(['owned.example'], signature='s'))
        # a later change on Home proves the ones above went through the monitor
        nm.set(home_cfg, IP4_IFACE, Searches=dbus.Array(['after.example'], signature='s'))
        d.wait(lambda s: 'after.example' in s['primary']['domains'], 'the later change')
        d.command('snapshot')
        wait_until(lambda: any(x['event'] == 'snapshot' for x in d.lines), 5, what='a snapshot')
        for s in d.lines:
            text = json.dumps(s)
            self.assertNotIn(OWNED_UUID, text)
            self.assertNotIn('threatstop-ddr', text)
            self.assertNotIn('127.0.0.1', text)
            self.assertNotIn('ddr0', text)
            self.assertNotIn('owned.example', text)
            self.assertEqual(s['primary']['id'], 'Home')
            self.assertEqual(s['connectivity'], 'full')
        self.assertTrue(home)

    def test_nm_stops_and_comes_back(self):
        nm = self.start_nm()
        nm.home()
        d = self.start_dump()
        d.wait(lambda s: s['have_primary'], 'the primary connection')
        nm.stop()
        s = d.wait(lambda s: not s['nm_running'], 'nm_running false')
        self.assertFalse(s['have_primary'])
        self.assertEqual(s['vpns'], [])
        nm2 = self.start_nm()
        nm2.home(connectivity='portal')
        s = d.wait(lambda s: s['nm_running'] and s['have_primary']
                   and s['primary']['servers'], 'NM back with its primary connection')
        self.assertEqual(s['primary']['uuid'], HOME_UUID)
        self.assertEqual(s['connectivity'], 'portal')

    def test_nm_absent_at_start(self):
        d = self.start_dump()
        s = d.wait(lambda s: s['ready'], 'ready without NM')
        self.assertFalse(s['nm_running'])
        self.assertEqual(len(d.changes()), 1)
        nm = self.start_nm()
        nm.home()
        d.wait(lambda s: s['nm_running'] and s['have_primary'], 'NM appearing')

    def test_no_system_bus(self):
        d = self.start_dump(address='unix:path=' + self.path('no-such-socket'))
        s = d.wait(lambda s: s['ready'], 'ready without a bus')
        self.assertFalse(s['nm_running'])
        self.assertFalse(s['have_primary'])
        d.command('recheck')      # nothing to ask: logged, no crash
        d.stop()

    def test_recheck_asks_nm(self):
        nm = self.start_nm()
        d = self.start_dump()
        d.wait(lambda s: s['nm_running'], 'NM')
        nm.manager.ClearCalls()
        d.command('recheck')
        wait_until(lambda: any(c[1] == 'CheckConnectivity' for c in nm.manager.GetCalls()), 5,
                   what='CheckConnectivity')
