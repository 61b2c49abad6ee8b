#!/usr/bin/python3
"""The networkmanager steering backend and threatstop-ddr-admin --action=restore-dns
against the NM mock (nmmock.py) on a private system bus: the owned profile as DESIGN.md
describes it, on/off without re-activation, stale-profile clean-up, an NM restart, and
a crash undone by restore-dns. By default the mock offers no AddAndActivateConnection2
(an NM before 1.16): the plain path. With it offered: the bound, volatile activation
(bind-activation=dbus-client) and the fall-back to the plain path when NM refuses it."""

import os
import time

import dbus

import nmmock
import rig
import steerrig
from busrig import admin_binary  # noqa: F401 - the CLI must be built

ADDR_127_0_0_1 = 0x0100007f    # ipv4.dns 'au': network byte order read as little-endian
BOUND_UUID = 'd4d9a706-83e3-4e49-857d-a38ab2ca8dd0'   # the bound activation (ddr-steer.h)


class TestSteerNM(nmmock.NMBusTestCase):

    def setUp(self):
        super().setUp()
        self.nm.set_network()
        self.root = self.path('root')
        self.state = self.path('state')
        os.makedirs(os.path.join(self.root, 'etc'))
        self.drivers = []
        self.addCleanup(self._close_drivers)

    def _close_drivers(self):
        for d in self.drivers:
            d.close()
            if self._failed() and d.log and os.path.exists(d.log):
                with open(d.log, errors='replace') as f:
                    print('--- %s ---\n%s' % (d.log, f.read()[-6000:]))

    def driver(self, backend='auto', link='veth'):
        d = steerrig.Driver(['--backend=' + backend, '--root=' + self.root,
                             '--state-dir=' + self.state],
                            env={'THREATSTOP_DDR_STEER_LINK': link},
                            log=self.path('driver-%d.log' % len(self.drivers)))
        self.drivers.append(d)
        return d

    def restore_dns(self):
        return self.admin('--action=restore-dns', '--root=' + self.root,
                          '--state-dir=' + self.state)

    def own_profiles(self):
        return [s for s in self._all_settings()
            if s['connection'].get('uuid') == nmmock.OWN_UUID
                or s['connection'].get('id') == nmmock.OWN_ID]

    def profile(self, uuid):
        for s in self._all_settings():
            if s['connection'].get('uuid') == uuid:
                return s
        return None

    def driver_log(self, d):
        with open(d.log, errors='replace') as f:
            return f.read()

    def _all_settings(self):
        settings = dbus.Interface(self.nm.bus.get_object(nmmock.BUS_NAME, nmmock.SETTINGS_OBJ,
                                                         introspect=False),
                                  nmmock.SETTINGS_IFACE)
        out = []
        for path in settings.ListConnections():
            c = self.nm.bus.get_object(nmmock.BUS_NAME, path, introspect=False)
            out.append(nmmock._plain(c.GetSettings(dbus_interface=nmmock.CONN_IFACE)))
        return out

    def test_profile_on_off_never_reactivated(self):
        d = self.driver()
        self.assertEqual(d.backend, 'networkmanager')
        self.assertFalse(self.nm.steering_active())
        d.set(True)
        self.assertTrue(self.nm.steering_active())

        p = self.nm.own_profile()
        self.assertIsNotNone(p)
        self.assertEqual(p['connection']['id'], 'threatstop-ddr')
        self.assertEqual(p['connection']['interface-name'], 'ddr0')
        self.assertEqual(p['connection']['type'], 'veth')
        self.assertFalse(p['connection']['autoconnect'])
        self.assert_no_multicast_names(p)
        self.assertEqual(p['veth']['peer'], 'ddr0p')
        ip4 = p['ipv4']
        self.assertEqual(ip4['method'], 'manual')
        self.assertEqual(ip4['address-data'], [{'address': '192.0.0.8', 'prefix': 32}])
        self.assertEqual(ip4['dns'], [ADDR_127_0_0_1])
        self.assertEqual(ip4['dns-search'], ['~.'])
        self.assertEqual(ip4['dns-priority'], -500)
        self.assertTrue(ip4['never-default'])
        self.assertEqual(p['ipv6']['method'], 'disabled')

        added = self.nm.calls('AddConnection2')
        self.assertEqual(len(added), 1)
        self.assertEqual(added[0][2][1], 0x22)
        activated = self.nm.calls('ActivateConnection')
        self.assertEqual(len(activated), 1)
        self.assertEqual(activated[0][2][1:], ['/', '/'])

        # on again: already active, so no second activation (a leak window in real NM)
        d.set(True)
        self.assertEqual(len(self.nm.calls('ActivateConnection')), 1)
        self.assertTrue(self.nm.steering_active())

        d.set(False)
        self.assertFalse(self.nm.steering_active())
        self.assertEqual(len(self.nm.calls('DeactivateConnection')), 1)
        self.assertIsNotNone(self.nm.own_profile(), 'off keeps the profile for the next on')
        d.set(False)
        self.assertEqual(len(self.nm.calls('DeactivateConnection')), 1)

        d.set(True)
        self.assertTrue(self.nm.steering_active())
        self.assertEqual(len(self.nm.calls('AddConnection2')), 1)
        self.assertEqual(len(self.nm.calls('ActivateConnection')), 2)

    def test_dummy_is_the_default_type(self):
        d = steerrig.Driver(['--backend=networkmanager', '--state-dir=' + self.state],
                            env={'THREATSTOP_DDR_STEER_LINK': ''},
                            log=self.path('driver-dummy.log'))
        self.drivers.append(d)
        d.set(True)
        p = self.nm.own_profile()
        self.assertEqual(p['connection']['type'], 'dummy')
        self.assertNotIn('veth', p)

    def test_stale_profiles_removed_at_first_use(self):
        settings = dbus.Interface(self.nm.bus.get_object(nmmock.BUS_NAME, nmmock.SETTINGS_OBJ,
                                                         introspect=False),
                                  nmmock.SETTINGS_IFACE)
        # one by UUID (a crashed run), one by id only (an older version)
        for uuid, cid in ((nmmock.OWN_UUID, 'old-name'),
                          ('0b7a3c52-0000-4000-8000-00000000beef', 'threatstop-ddr')):
            settings.AddConnection2(
                {'connection': {'id': cid, 'uuid': uuid, 'type': 'dummy',
                                'interface-name': 'ddr0'}},
                dbus.UInt32(0x22), dbus.Dictionary({}, signature='sv'))
        self.assertEqual(len(self.own_profiles()), 2)
        d = self.driver()
        d.set(True)
        profiles = self.own_profiles()
        self.assertEqual(len(profiles), 1, profiles)
        self.assertEqual(profiles[0]['connection']['uuid'], nmmock.OWN_UUID)
        self.assertEqual(profiles[0]['connection']['id'], 'threatstop-ddr')
        self.assertEqual(len(self.nm.calls('Delete')), 2)
        self.assertTrue(self.nm.steering_active())

    def test_nm_restart_forgets_and_readds(self):
        d = self.driver()
        d.set(True)
        self.assertTrue(self.nm.steering_active())
        self.nm.restart()      # a fresh NM: our in-memory profile is gone
        self.assertIsNone(self.nm.own_profile())
        d.set(True)
        self.assertTrue(self.nm.steering_active())
        self.assertIsNotNone(self.nm.own_profile())
        d.set(False)
        self.assertFalse(self.nm.steering_active())

    def test_someone_else_deactivates(self):
        d = self.driver()
        d.set(True)
        # "nmcli connection down threatstop-ddr" behind our back
        ac = [a for a in self.nm.manager_prop('ActiveConnections')]
        nm = dbus.Interface(self.nm.bus.get_object(nmmock.BUS_NAME, nmmock.MANAGER_OBJ,
                                                   introspect=False), nmmock.NM)
        for a in ac:
            props = self.nm.bus.get_object(nmmock.BUS_NAME, a, introspect=False).GetAll(
                'org.freedesktop.NetworkManager.Connection.Active',
                dbus_interface=dbus.PROPERTIES_IFACE)
            if props['Uuid'] == nmmock.OWN_UUID:
                t0 = time.monotonic()
                nm.DeactivateConnection(a)
        self.assertFalse(self.nm.steering_active())
        self.wait_lost(d, 1, t0, 'DeactivateConnection by someone else')
        self.assertIn('deactivated by someone else', d.losses()[1])
        d.set(True)
        self.assertTrue(self.nm.steering_active())
        d.set(False)
        d.set(True)
        self.assertEqual(d.losses()[0], 1, 'our own changes are no loss')

    def wait_lost(self, d, n, t0, what):
        """Wait for the n-th "lost" report; print the time it took; at most 1 s."""
        rig.wait_until(lambda: d.losses()[0] >= n, 5, interval=0.01,
                       what='the loss reported: ' + what)
        ms = (time.monotonic() - t0) * 1000
        print('# %s -> lost reported: %d ms' % (what, ms), flush=True)
        self.assertEqual(d.losses()[0], n)
        self.assertLess(ms, 1000, what)

    def test_bound_activation_lost(self):
        """The bound activation ended by someone else ("nmcli connection down", or
        "ip link del ddr0": NM deactivates what was on it): reported once; our own
        off, on and the veth anchor's hand-over are no loss."""
        self.nm.mock.DdrSetAddAndActivate2('works')
        d = self.driver()
        d.set(True)
        d.set(False)
        d.set(True)
        self.assertEqual(d.losses()[0], 0)
        bound = [a for a in self.nm.manager_prop('ActiveConnections')
                 if self.nm.bus.get_object(nmmock.BUS_NAME, a, introspect=False).Get(
                     'org.freedesktop.NetworkManager.Connection.Active', 'Uuid',
                     dbus_interface=dbus.PROPERTIES_IFACE) == BOUND_UUID]
        self.assertEqual(len(bound), 1)
        nm = dbus.Interface(self.nm.bus.get_object(nmmock.BUS_NAME, nmmock.MANAGER_OBJ,
                                                   introspect=False), nmmock.NM)
        t0 = time.monotonic()
        nm.DeactivateConnection(bound[0])
        self.wait_lost(d, 1, t0, 'bound activation deactivated by someone else')
        d.set(True)
        self.assertIn(BOUND_UUID, self.nm.active_uuids())
        self.assertEqual(d.losses()[0], 1)

    def test_crash_then_restore_dns(self):
        d = self.driver()
        d.set(True)
        d.kill()
        self.assertTrue(self.nm.steering_active(), 'NM keeps the profile up after a crash')

        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('Deactivated the NetworkManager profile threatstop-ddr', r.stdout)
        self.assertIn('Deleted the NetworkManager profile threatstop-ddr (%s)'
                      % nmmock.OWN_UUID, r.stdout)
        self.assertEqual(r.stderr, '')
        self.assertFalse(self.nm.steering_active())
        self.assertIsNone(self.nm.own_profile())
        self.assertEqual(self.own_profiles(), [])

        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('Nothing to restore'), r.stdout)
        self.assertEqual(r.stdout.count('\n'), 1, r.stdout)

    def test_restore_dns_without_nm_translated(self):
        self.nm.stop()
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('Nothing to restore'), r.stdout)
        r = self.admin('--action=restore-dns', '--root=' + self.root,
                       '--state-dir=' + self.state,
                       env={'LANGUAGE': 'de', 'LANG': 'C.UTF-8', 'LC_ALL': '',
                            'THREATSTOP_DDR_LOCALEDIR': os.path.join(
                                steerrig.rig.build_dir(), 'po')})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('Nichts wiederherzustellen'), r.stdout)

    def test_restore_dns_resolv_conf_without_bus(self):
        """The resolv.conf backend steered under --root; restore-dns with no system bus
        at all puts the original back."""
        resolv = os.path.join(self.root, 'etc', 'resolv.conf')
        with open(resolv, 'w') as f:
            f.write('nameserver 198.51.100.53\n')
        d = self.driver('resolv.conf')
        d.set(True)
        d.kill()
        with open(resolv) as f:
            self.assertIn('nameserver 127.0.0.1\n', f.read())
        r = self.admin('--action=restore-dns', '--root=' + self.root,
                       '--state-dir=' + self.state,
                       env={'DBUS_SYSTEM_BUS_ADDRESS': 'unix:path=' + self.path('no-bus')})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'Restored the original %s\n' % resolv)
        with open(resolv) as f:
            self.assertEqual(f.read(), 'nameserver 198.51.100.53\n')
        # the profile in NM was never touched: that bus was not reachable
        self.assertEqual(self.nm.calls('ListConnections'), [])

    # AddAndActivateConnection2 with bind-activation -----------------------------------

    def assert_no_multicast_names(self, p):
        '''ddr0 does no LLMNR nor mDNS: connection.llmnr = connection.mdns = NO (0).'''
        self.assertEqual(p['connection'].get('llmnr'), 0, p['connection'])
        self.assertEqual(p['connection'].get('mdns'), 0, p['connection'])

    def assert_steering_settings(self, p):
        ip4 = p['ipv4']
        self.assertEqual(ip4['method'], 'manual')
        self.assertEqual(ip4['address-data'], [{'address': '192.0.0.8', 'prefix': 32}])
        self.assertEqual(ip4['dns'], [ADDR_127_0_0_1])
        self.assertEqual(ip4['dns-search'], ['~.'])
        self.assertEqual(ip4['dns-priority'], -500)
        self.assertEqual(p['ipv6']['method'], 'disabled')

    def test_plain_path_logged_once_without_add_and_activate2(self):
        d = self.driver()
        for on in (True, False, True):
            d.set(on)
        self.assertEqual(self.driver_log(d).count('has no AddAndActivateConnection2'), 1)
        self.assertEqual(self.nm.calls('AddAndActivateConnection2'), [])
        self.assertTrue(self.nm.steering_active())

    def test_bound_activation_veth(self):
        self.nm.mock.DdrSetAddAndActivate2('works')
        d = self.driver()
        d.set(True)
        self.assertIn(BOUND_UUID, self.nm.active_uuids())
        self.assertNotIn(nmmock.OWN_UUID, self.nm.active_uuids())
        # the anchor creates the pair and steers nothing
        anchor = self.nm.own_profile()
        self.assertEqual(anchor['connection']['id'], 'threatstop-ddr')
        self.assertEqual(anchor['veth']['peer'], 'ddr0p')
        self.assertEqual(anchor['ipv4'], {'method': 'disabled'})
        self.assert_no_multicast_names(anchor)
        self.assertEqual(len(self.nm.calls('ActivateConnection')), 1)
        aac = self.nm.calls('AddAndActivateConnection2')
        self.assertEqual(len(aac), 1)
        settings, dev, specific, options = aac[0][2]
        self.assertEqual((dev, specific), ('/', '/'))
        self.assertEqual(options, {'persist': 'volatile', 'bind-activation': 'dbus-client'})
        self.assertEqual(settings['connection']['uuid'], BOUND_UUID)
        self.assertEqual(settings['connection']['id'], 'threatstop-ddr')
        self.assertEqual(settings['connection']['interface-name'], 'ddr0')
        self.assertNotIn('veth', settings, 'NM rejects a peer on an existing pair')
        self.assert_steering_settings(settings)
        self.assert_no_multicast_names(settings)

        d.set(True)     # already on: nothing is activated again
        self.assertEqual(len(self.nm.calls('ActivateConnection')), 1)
        self.assertEqual(len(self.nm.calls('AddAndActivateConnection2')), 1)

        d.set(False)
        self.assertEqual(len(self.nm.calls('DeactivateConnection')), 1)
        self.assertEqual(self.nm.active_uuids().count(BOUND_UUID), 0)
        self.assertIsNone(self.profile(BOUND_UUID), 'the volatile profile is deleted')
        self.assertIsNotNone(self.nm.own_profile(), 'the anchor stays for the next on')

        d.set(True)
        self.assertIn(BOUND_UUID, self.nm.active_uuids())
        self.assertEqual(len(self.nm.calls('AddAndActivateConnection2')), 2)
        self.assertEqual(len(self.nm.calls('AddConnection2')), 1)

        # the bus client dies: the mock, like NM, ends the activation it was bound to
        d.kill()
        self.assertEqual(len(self.nm.calls('BoundClientVanished')), 1)
        self.assertNotIn(BOUND_UUID, self.nm.active_uuids())
        self.assertIsNone(self.profile(BOUND_UUID))
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'Deleted the NetworkManager profile threatstop-ddr (%s)\n'
                         % nmmock.OWN_UUID)
        self.assertEqual(self.own_profiles(), [])

    def test_bound_activation_dummy(self):
        """dummy: the inactive anchor (with the DNS settings, for the plain path) is what
        makes NM know ddr0; nothing else is activated."""
        self.nm.mock.DdrSetAddAndActivate2('works')
        d = self.driver(link='')
        d.set(True)
        self.assertEqual(self.nm.active_uuids().count(BOUND_UUID), 1)
        self.assertEqual(self.nm.calls('ActivateConnection'), [])
        anchor = self.nm.own_profile()
        self.assertEqual(anchor['connection']['type'], 'dummy')
        self.assert_steering_settings(anchor)
        settings = self.nm.calls('AddAndActivateConnection2')[0][2][0]
        self.assertEqual(settings['connection']['type'], 'dummy')
        self.assertIn('dummy', settings)
        self.assert_steering_settings(settings)
        # restore-dns while bound: both profiles go
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('Deactivated the NetworkManager profile threatstop-ddr', r.stdout)
        self.assertIn('Deleted the NetworkManager profile threatstop-ddr (%s)'
                      % nmmock.OWN_UUID, r.stdout)
        self.assertEqual(self.own_profiles(), [])
        self.assertEqual(self.nm.active_uuids().count(BOUND_UUID), 0)

    def test_refused_bound_activation_falls_back_this_time(self):
        """NM refuses the bound activation: this steering takes the plain path (the
        anchor with the DNS settings), and the next steering tries bind-activation
        again - one refusal never disables it for the life of the process (issue 10.11)."""
        self.nm.mock.DdrSetAddAndActivate2('refuse')
        d = self.driver()
        d.set(True)
        self.assertTrue(self.nm.steering_active())
        self.assert_steering_settings(self.nm.own_profile())
        update = self.nm.calls('Update2')
        self.assertEqual(len(update), 1)
        self.assertEqual(update[0][2][1], 0x2, 'the anchor stays in memory')
        # one more try 250 ms later (NM refuses while it deletes a software link)
        self.assertEqual(len(self.nm.calls('AddAndActivateConnection2')), 2)
        self.assertEqual(self.driver_log(d).count('refused the bound activation'), 1)
        d.set(False)
        self.assertFalse(self.nm.steering_active())
        d.set(True)
        self.assertTrue(self.nm.steering_active())
        self.assertEqual(len(self.nm.calls('AddAndActivateConnection2')), 4,
                         'the next steering tries bind-activation again')
        self.assertEqual(self.driver_log(d).count('refused the bound activation'), 2)

        # NM takes it now: the next steering is bound, the anchor holds the link only
        self.nm.mock.DdrSetAddAndActivate2('works')
        d.set(False)
        self.assertFalse(self.nm.steering_active())
        d.set(True)
        self.assertEqual(len(self.nm.calls('AddAndActivateConnection2')), 5)
        self.assertIn(BOUND_UUID, self.nm.active_uuids())
        self.assertEqual(self.nm.own_profile()['ipv4'], {'method': 'disabled'},
                         'the anchor steers nothing next to the bound activation')
        d.set(False)
        self.assertNotIn(BOUND_UUID, self.nm.active_uuids())
        self.assertFalse(self.nm.steering_active())
