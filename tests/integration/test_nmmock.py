#!/usr/bin/python3
"""The NM mock (nmmock.py) as libnm sees it: what the daemon's monitor and steering rely
on is checked through libnm itself (gir1.2-nm) and through raw D-Bus, so a mock that
drifts from NetworkManager fails here and not as a puzzling roaming failure."""

import socket
import time

import dbus

import nmmock
from nmmock import OWN_UUID, NMBusTestCase

WIFI_UUID = '5f0c4b0e-1111-4a6b-9a39-000000000001'


def libnm():
    try:
        import gi
        gi.require_version('NM', '1.0')
        from gi.repository import NM, GLib
    except (ImportError, ValueError) as e:
        raise AssertionError('libnm introspection missing (install gir1.2-nm-1.0): %s' % e)
    return NM, GLib


def steering_settings():
    """The owned profile as DESIGN.md describes it (what the daemon's backend sends)."""
    return {
        'connection': {'id': nmmock.OWN_ID, 'uuid': OWN_UUID, 'type': 'dummy',
                       'interface-name': nmmock.OWN_IFACE, 'autoconnect': False},
        'ipv4': {'method': 'manual',
                 'address-data': dbus.Array([{'address': '192.0.0.8',
                                              'prefix': dbus.UInt32(32)}], signature='a{sv}'),
                 'never-default': True,
                 'dns': dbus.Array([dbus.UInt32(0x0100007f)], signature='u'),
                 'dns-search': ['~.'], 'dns-priority': dbus.Int32(-500)},
        'ipv6': {'method': 'disabled'},
    }


class TestNMMock(NMBusTestCase):

    def client(self):
        NM, GLib = libnm()
        c = NM.Client.new(None)
        self.addCleanup(lambda: None)
        return NM, GLib, c

    def spin(self, GLib, cond, timeout=3.0, what='libnm'):
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError('timed out waiting for ' + what)
            ctx.iteration(False)
            time.sleep(0.002)

    def test_libnm_sees_network_vpn_and_dns(self):
        self.nm.set_network(id='HotelWiFi', uuid=WIFI_UUID, servers=['127.0.0.2'],
                            domains=['home.arpa'], searches=['com'], connectivity='PORTAL')
        self.nm.add_vpn(id='CorpVPN', servers=['127.0.0.2'], domains=['corp.example'])
        NM, GLib, c = self.client()
        self.assertTrue(c.get_nm_running())
        self.assertEqual(c.get_connectivity(), NM.ConnectivityState.PORTAL)
        self.assertTrue(c.connectivity_check_get_available())
        self.assertTrue(c.connectivity_check_get_uri().startswith('http://'))
        p = c.get_primary_connection()
        self.assertIsNotNone(p)
        self.assertEqual((p.get_id(), p.get_uuid(), p.get_connection_type(), p.get_vpn()),
                         ('HotelWiFi', WIFI_UUID, '802-11-wireless', False))
        dev = p.get_devices()[0]
        self.assertEqual((dev.get_iface(), dev.get_ip_iface()), ('wlan0', 'wlan0'))
        self.assertEqual(dev.get_connectivity(socket.AF_INET), NM.ConnectivityState.PORTAL)
        ip4 = p.get_ip4_config()
        self.assertEqual(list(ip4.get_nameservers()), ['127.0.0.2'])
        self.assertEqual(list(ip4.get_domains()), ['home.arpa'])
        self.assertEqual(list(ip4.get_searches()), ['com'])
        vpns = [a for a in c.get_active_connections() if a.get_vpn()]
        self.assertEqual([v.get_id() for v in vpns], ['CorpVPN'])
        self.assertIsInstance(vpns[0], NM.VpnConnection)
        self.assertEqual(list(vpns[0].get_ip4_config().get_domains()), ['corp.example'])
        dns = {e.get_interface(): (list(e.get_nameservers()), list(e.get_domains()), e.get_vpn())
               for e in c.get_dns_configuration()}
        self.assertEqual(dns['tun0'], (['127.0.0.2'], ['corp.example'], True))
        self.assertEqual(dns['wlan0'], (['127.0.0.2'], ['home.arpa', 'com'], False))

        # set_connectivity: device and manager, with notify within milliseconds
        seen = []
        c.connect('notify::connectivity', lambda *a: seen.append('manager'))
        dev.connect('notify::ip4-connectivity', lambda *a: seen.append('device'))
        self.nm.set_connectivity('FULL')
        self.spin(GLib, lambda: len(seen) >= 2, what='connectivity notifications')
        self.assertEqual(c.get_connectivity(), NM.ConnectivityState.FULL)
        self.assertEqual(dev.get_connectivity(socket.AF_INET), NM.ConnectivityState.FULL)

        # the network goes away: no primary, connectivity NONE
        self.nm.remove_network(WIFI_UUID)
        # two PropertiesChanged (PrimaryConnection, then Connectivity): wait for both
        self.spin(GLib, lambda: c.get_primary_connection() is None
                  and c.get_connectivity() == NM.ConnectivityState.NONE,
                  what='primary to go and connectivity NONE')

    def test_steering_recipe_over_raw_dbus(self):
        self.nm.set_network(uuid=WIFI_UUID)
        bus = self.nm.bus
        S = dbus.Interface(bus.get_object(nmmock.BUS_NAME, nmmock.SETTINGS_OBJ), nmmock.SETTINGS_IFACE)
        M = dbus.Interface(bus.get_object(nmmock.BUS_NAME, nmmock.MANAGER_OBJ), nmmock.NM)
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            S.GetConnectionByUuid(OWN_UUID)
        self.assertEqual(cm.exception.get_dbus_name(),
                         'org.freedesktop.NetworkManager.Settings.InvalidConnection')
        path, _ = S.AddConnection2(steering_settings(), dbus.UInt32(0x22),
                                   dbus.Dictionary({}, signature='sv'))
        self.assertEqual(S.GetConnectionByUuid(OWN_UUID), path)
        self.assertIn(path, S.ListConnections())
        self.assertFalse(self.nm.steering_active())
        ac = M.ActivateConnection(path, '/', '/')
        self.assertTrue(self.nm.steering_active())
        st = bus.get_object(nmmock.BUS_NAME, ac).Get(
            'org.freedesktop.NetworkManager.Connection.Active', 'State',
            dbus_interface=dbus.PROPERTIES_IFACE)
        self.assertEqual(st, 2)
        self.assertEqual(self.nm.own_profile()['ipv4']['dns-priority'], -500)
        # the primary stays the Wi-Fi: the owned profile never becomes the default
        self.assertEqual(self.nm.manager_prop('PrimaryConnectionType'), '802-11-wireless')
        M.DeactivateConnection(ac)
        self.assertFalse(self.nm.steering_active())
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            M.DeactivateConnection(ac)
        self.assertEqual(cm.exception.get_dbus_name(),
                         'org.freedesktop.NetworkManager.Manager.ConnectionNotActive')
        M.ActivateConnection(path, '/', '/')
        bus.get_object(nmmock.BUS_NAME, path).Delete(dbus_interface=nmmock.CONN_IFACE)
        self.assertFalse(self.nm.steering_active())
        self.assertIsNone(self.nm.own_profile())
        calls = [a[0] for _, _, a in self.nm.calls() if a[0] != 'GetSettings']
        self.assertEqual(calls, ['GetConnectionByUuid', 'AddConnection2', 'GetConnectionByUuid',
                                 'ListConnections', 'ActivateConnection', 'ListConnections',
                                 'DeactivateConnection', 'DeactivateConnection',
                                 'ActivateConnection', 'Delete', 'ListConnections'])
        flags = self.nm.calls('AddConnection2')[0][2][1]
        self.assertEqual(flags, 0x22)

    def test_check_connectivity_and_nm_restart(self):
        self.nm.set_network(uuid=WIFI_UUID, connectivity='PORTAL')
        M = dbus.Interface(self.nm.bus.get_object(nmmock.BUS_NAME, nmmock.MANAGER_OBJ), nmmock.NM)
        self.assertEqual(M.CheckConnectivity(), 2)
        self.nm.set_check_result('FULL')
        self.assertEqual(M.CheckConnectivity(), 4)
        self.assertEqual(self.nm.manager_prop('Connectivity'), 4)
        self.assertEqual(len(self.nm.calls('CheckConnectivity')), 2)
        NM, GLib, c = self.client()
        self.nm.stop()
        self.spin(GLib, lambda: not c.get_nm_running(), what='nm-running false')
        self.nm.restart()
        self.spin(GLib, lambda: c.get_nm_running() and c.get_primary_connection() is not None,
                  what='NM back with its network')
        self.assertEqual(c.get_primary_connection().get_uuid(), WIFI_UUID)


if __name__ == '__main__':
    import unittest
    unittest.main()
