#!/usr/bin/python3
"""A NetworkManager for tests: python3-dbusmock's `networkmanager` template extended by
nmmock_template.py, in its own process on a private system bus, and the test-side
controls: NMMock (set_network, add_vpn, set_connectivity, set_check_result,
remove_network, stop/start/restart, steering_active, own_profile, calls) and
NMBusTestCase (busrig.BusTestCase + the NM mock as self.nm).

libnm sees the mock as a real NM 1.42: primary connection, per-device connectivity,
nameservers/domains/searches of each active connection, VPNs, DnsManager.Configuration.
Example:
    class T(nmmock.NMBusTestCase):
        def test_x(self):
            self.nm.set_network(id='Cafe', servers=['127.0.0.2'], connectivity='PORTAL')
            ...
            self.assertTrue(self.nm.steering_active())
"""

import os
import signal
import subprocess

import dbus
from dbusmock import MOCK_IFACE

import busrig
import rig
from nmmock_template import (BUS_NAME, CONN_IFACE, CONNECTIVITY, MAIN_OBJ, MANAGER_OBJ, NM,
                             SETTINGS_IFACE, SETTINGS_OBJ)

OWN_UUID = 'd4d9a706-83e3-4e49-857d-a38ab2ca8dcf'   # DESIGN.md, Test seams
OWN_BOUND_UUID = 'd4d9a706-83e3-4e49-857d-a38ab2ca8dd0'
OWN_ID = 'threatstop-ddr'
OWN_IFACE = 'ddr0'
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'nmmock_template.py')


def _plain(v):
    """dbus-python values -> plain Python (for assertions)."""
    if isinstance(v, (dbus.Dictionary, dict)):
        return {_plain(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (dbus.Array, dbus.Struct, list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, (dbus.String, dbus.ObjectPath)):
        return str(v)
    if isinstance(v, (dbus.Double,)):
        return float(v)
    if isinstance(v, (dbus.Byte, dbus.Int16, dbus.UInt16, dbus.Int32, dbus.UInt32,
                      dbus.Int64, dbus.UInt64)):
        return int(v)
    return v


class NMMock:
    """The NM mock process on the bus at `address` (a busrig.SystemBus whose policy
    lets root own org.freedesktop.NetworkManager: see SYSTEM_BUS_POLICY)."""

    def __init__(self, address, logfile=None):
        self.address = address
        self.logfile = logfile
        self.proc = None
        self.bus = None
        self.networks = {}    # uuid -> spec, replayed by restart()
        self.vpns = {}
        self.resolv_conf = ''  # the file the mock writes (write_resolv_conf), kept by restart()

    # process ------------------------------------------------------------------------

    def start(self, timeout=10.0):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        out = open(self.logfile, 'ab') if self.logfile else subprocess.DEVNULL
        self.proc = subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system',
                                      BUS_NAME, MAIN_OBJ, 'org.freedesktop.DBus.ObjectManager'],
                                     stdout=out, stderr=subprocess.STDOUT, env=env)
        if out is not subprocess.DEVNULL:
            out.close()
        if self.bus is None:
            self.bus = dbus.bus.BusConnection(self.address)
        rig.wait_until(lambda: self.proc.poll() is None and self.bus.name_has_owner(BUS_NAME),
                       timeout, what='the NM mock to own ' + BUS_NAME)
        self.main = self.bus.get_object(BUS_NAME, MAIN_OBJ, introspect=False)
        self.mock = dbus.Interface(self.main, MOCK_IFACE)
        self.mock.AddTemplate(TEMPLATE, dbus.Dictionary({}, signature='sv'))
        return self

    def stop(self):
        """NM goes away (its bus name vanishes)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.bus is not None:
                rig.wait_until(lambda: not self.bus.name_has_owner(BUS_NAME), 5,
                           what='NM mock name to vanish')

    def restart(self):
        """NM restarts: a fresh process that knows the same networks (not our
        in-memory profile: NM forgets those)."""
        self.stop()
        self.start()
        for spec in self.networks.values():
            self.mock.DdrAddNetwork(self._spec(spec))
        for spec in self.vpns.values():
            self.mock.DdrAddVpn(self._spec(spec))
        if self.resolv_conf:
            self.mock.DdrSetResolvConf(self.resolv_conf)

    def close(self):
        self.stop()
        if self.bus is not None:
            self.bus.close()
            self.bus = None

    # networks -----------------------------------------------------------------------

    @staticmethod
    def _spec(d):
        out = {}
        for k, v in d.items():
            if v is None:
                continue
            if isinstance(v, (list, tuple)):
                out[k] = dbus.Array([str(x) for x in v], signature='s')
            elif isinstance(v, bool):
                out[k] = dbus.Boolean(v)
            elif isinstance(v, int):
                out[k] = dbus.UInt32(v)
            else:
                out[k] = dbus.String(v)
        return dbus.Dictionary(out, signature='sv')

    @staticmethod
    def connectivity_value(c):
        return CONNECTIVITY[c.upper()] if isinstance(c, str) else int(c)

    def set_network(self, id='HotelWiFi', uuid='5f0c4b0e-1111-4a6b-9a39-000000000001',
                    iface='wlan0', servers=('127.0.0.2',), domains=(), searches=(),
                    connectivity='FULL', type='802-11-wireless', primary=True):
        """The primary network (replaces any network of the same UUID)."""
        if uuid in self.networks:
            self.remove_network(uuid, quiet=True)
        spec = {'id': id, 'uuid': uuid, 'iface': iface, 'servers': list(servers),
                'domains': list(domains), 'searches': list(searches), 'type': type,
                'connectivity': self.connectivity_value(connectivity), 'primary': primary}
        self.networks[uuid] = spec
        return str(self.mock.DdrAddNetwork(self._spec(spec)))

    def add_vpn(self, id='CorpVPN', uuid='5f0c4b0e-2222-4a6b-9a39-000000000002',
                iface='tun0', servers=('127.0.0.2',), domains=('corp.example',), type='vpn'):
        """type: 'vpn' (a VPN plugin) or a device VPN: 'wireguard', 'tun', 'ip-tunnel'."""
        spec = {'id': id, 'uuid': uuid, 'iface': iface, 'servers': list(servers),
                'domains': list(domains), 'type': type}
        self.vpns[uuid] = spec
        return str(self.mock.DdrAddVpn(self._spec(spec)))

    def remove_network(self, uuid=None, quiet=False):
        """The network (default: the only one) goes away; connectivity NONE."""
        if uuid is None:
            uuid = next(iter(self.networks))
        self.networks.pop(uuid, None)
        self.vpns.pop(uuid, None)
        if not quiet or uuid in self.active_uuids():
            self.mock.DdrRemoveNetwork(uuid)

    def set_servers(self, uuid, servers):
        """The same network gets another DNS server list (IPv4 and IPv6 literals), in
        place: same connection, same device (a late IPv6 list, a DHCP renewal)."""
        self.networks[uuid]['servers'] = list(servers)
        self.mock.DdrSetServers(uuid, dbus.Array([str(s) for s in servers], signature='s'))

    def write_resolv_conf(self, path):
        """From now on the mock writes `path` (in place) from its DNS configuration, as
        NM with dns=default and rc-manager=file does ('' = stop)."""
        self.resolv_conf = path
        self.mock.DdrSetResolvConf(path)

    def renew_lease(self, uuid, address=None, servers=None, servers6=None):
        """A DHCP renewal of an active network: same connection and device, a new
        address and/or server list (servers6: IPv6 servers arriving late)."""
        spec = {}
        if servers6 is not None:
            spec['servers6'] = list(servers6)
        if address is not None:
            spec['address'] = address
        if servers is not None:
            spec['servers'] = list(servers)
            if uuid in self.networks:
                self.networks[uuid]['servers'] = list(servers)
        self.mock.DdrRenewLease(uuid, self._spec(spec))

    def deactivate_own(self):
        """`nmcli connection down threatstop-ddr`: a third party deactivates our owned
        active connection(s) through NM. Returns how many it deactivated."""
        mgr = self.bus.get_object(BUS_NAME, MANAGER_OBJ, introspect=False)
        n = 0
        for ac in self.manager_prop('ActiveConnections'):
            try:
                uuid = str(self.bus.get_object(BUS_NAME, ac, introspect=False).Get(
                    NM + '.Connection.Active', 'Uuid', dbus_interface=dbus.PROPERTIES_IFACE))
                if uuid in (OWN_UUID, OWN_BOUND_UUID):
                    mgr.DeactivateConnection(dbus.ObjectPath(ac), dbus_interface=NM)
                    n += 1
            except dbus.exceptions.DBusException:
                pass     # gone meanwhile (the daemon deactivated it itself)
        return n

    def set_connectivity(self, c):
        self.mock.DdrSetConnectivity(dbus.UInt32(self.connectivity_value(c)))

    def set_check_result(self, c):
        """What NM finds when someone calls CheckConnectivity() next."""
        self.mock.DdrSetCheckResult(dbus.Int32(-1 if c is None else self.connectivity_value(c)))

    def set_connectivity_check(self, available, uri=''):
        self.mock.DdrSetConnectivityCheck(dbus.Boolean(available), uri)

    # inspection ---------------------------------------------------------------------

    def active_uuids(self):
        return [str(u) for u in self.mock.DdrActiveUuids()]

    def steering_active(self):
        """Is our owned profile (DESIGN.md Test seams UUID) activated in NM?"""
        return OWN_UUID in self.active_uuids()

    def reactivations(self):
        """UUIDs of profiles that were activated again while active (NM then tears
        the old activation down first: a DNS leak window)."""
        return [str(u) for u in self.mock.DdrReactivations()]

    def own_profile(self):
        """The owned profile's settings (plain dict), or None when NM has none."""
        settings = dbus.Interface(self.bus.get_object(BUS_NAME, SETTINGS_OBJ, introspect=False),
                                  SETTINGS_IFACE)
        for path in settings.ListConnections():
            c = self.bus.get_object(BUS_NAME, path, introspect=False)
            s = _plain(c.GetSettings(dbus_interface=CONN_IFACE))
            if s.get('connection', {}).get('uuid') == OWN_UUID:
                return s
        return None

    def calls(self, method=''):
        """[(unix time, object path, [args])] of every call of method ('' = all, with
        the method name as args[0]) the mock received (the test's own included)."""
        return [(float(t), str(p), _plain(a)) for t, p, a in self.mock.DdrGetCalls(method)]

    def clear_calls(self):
        self.mock.DdrClearCalls()

    def manager_prop(self, name):
        return _plain(self.bus.get_object(BUS_NAME, MANAGER_OBJ, introspect=False).Get(
            NM, name, dbus_interface=dbus.PROPERTIES_IFACE))


# Policy lines (root's) a busrig.SystemBus config needs for the mocks of NetworkManager,
# logind and resolved, and for driving any dbusmock stand-in through its control interface.
SYSTEM_BUS_POLICY = '''
    <allow own="org.freedesktop.NetworkManager"/>
    <allow send_destination="org.freedesktop.NetworkManager"/>
    <allow own="org.freedesktop.login1"/>
    <allow send_destination="org.freedesktop.login1"/>
    <allow own="org.freedesktop.resolve1"/>
    <allow send_destination="org.freedesktop.resolve1"/>
    <allow send_interface="org.freedesktop.DBus.Mock"/>
'''


class NMSystemBus(busrig.SystemBus):
    """busrig's system-like bus, whose policy also lets root own and call the NM
    and logind mocks."""

    def __init__(self, dir):
        super().__init__(dir, root_policy=SYSTEM_BUS_POLICY)

    def stop(self):
        # dbusmock's stop_dbus() polls kill(pid) every 0.1 s and so waits out the
        # zombie of the forked dbus-daemon (about 2 s a test): a gone or zombie
        # process is stopped.
        if self.pid:
            self._kill()
        super().stop()

    def _kill(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid = None
            return

        def gone():
            try:
                with open('/proc/%d/stat' % self.pid) as f:
                    return f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
            except (FileNotFoundError, ProcessLookupError):
                return True
        try:
            rig.wait_until(gone, 5, interval=0.01, what='dbus-daemon to exit')
        except AssertionError:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None


class NMBusTestCase(busrig.BusTestCase):
    """busrig.BusTestCase (private system bus, mock polkitd, unbound) plus the NM
    mock as self.nm (no network yet: call self.nm.set_network())."""

    start_nm = True
    system_bus = NMSystemBus

    def setUp(self):
        self.nm = None
        # runs after the rig's cleanup (daemons, then the bus): NM outlives the daemon
        self.addCleanup(self._nm_cleanup)
        super().setUp()
        self.nm = NMMock(self.bus_rig.address, logfile=self.path('nm-mock.log'))
        if self.start_nm:
            self.nm.start()

    def _nm_cleanup(self):
        if self.nm is None:
            return
        if self.nm.proc is not None and self.nm.proc.poll() is None:
            self.nm.proc.terminate()
            self.nm.proc.wait(10)
        self.nm.proc = None
        if self.nm.bus is not None:
            self.nm.bus.close()
            self.nm.bus = None
