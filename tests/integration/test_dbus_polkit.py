#!/usr/bin/python3
"""Privileged calls (Pause/Resume/Reload) are checked with polkit, asynchronously, for
root too; Reload re-reads the configuration like SIGHUP and PropertiesChanged follows."""

import dbus

import rig
from busrig import (BUS_NAME, IFACE, OBJ_PATH, POLKIT_CONFIGURE, POLKIT_PAUSE, PROPS,
                    BusTestCase, wait_signal)

NOT_AUTHORIZED = 'com.threatstop.DDR1.Error.NotAuthorized'
FAILED = 'com.threatstop.DDR1.Error.Failed'
INVALID = 'com.threatstop.DDR1.Error.InvalidArgs'


class TestPolkit(BusTestCase):

    def test_refused_without_authorization_even_for_root(self):
        self.start_bus_daemon()
        i = self.iface()
        self.assertDBusError(NOT_AUTHORIZED, i.Pause, dbus.UInt32(5))
        self.assertDBusError(NOT_AUTHORIZED, i.Resume)
        self.assertDBusError(NOT_AUTHORIZED, i.Reload)
        # reading never needs polkit
        self.assertEqual(self.prop('State'), 'forwarding')
        self.statistics()

    def test_each_action_guards_its_methods(self):
        self.start_bus_daemon()
        i = self.iface()
        self.allow(POLKIT_CONFIGURE)
        i.Reload()
        self.assertDBusError(NOT_AUTHORIZED, i.Pause, dbus.UInt32(5))
        self.allow(POLKIT_PAUSE)
        self.assertDBusError(NOT_AUTHORIZED, i.Reload)
        # authorised, but there is nothing to pause while roaming is off
        e = self.assertDBusError(FAILED, i.Pause, dbus.UInt32(5))
        self.assertIn('nothing to pause', str(e).lower())
        self.assertDBusError(FAILED, i.Resume)
        self.assertDBusError(INVALID, i.Pause, dbus.UInt32(10081))

    def test_polkit_is_asynchronous(self):
        """While polkit has not answered, the daemon keeps serving bus and DNS."""
        d = self.start_bus_daemon()
        self.polkit.SimulateHangActions([POLKIT_CONFIGURE])
        self.allow(POLKIT_CONFIGURE)
        replies = []
        self.iface().Reload(reply_handler=lambda: replies.append('ok'),
                            error_handler=lambda e: replies.append(e.get_dbus_name()))
        rig.wait_until(lambda: self.polkit.HaveHangingCalls(), 5, what='polkit to be asked')
        self.assertEqual(self.prop('State'), 'forwarding')
        self.assertAnswered(d.query('allowed.test'), 'NOERROR', 'while polkit hangs')
        self.assertEqual(replies, [])
        self.polkit.ReleaseHangingCalls()
        wait_signal(self.bus, replies, lambda r: r, 10, 'the Reload reply')
        self.assertEqual(replies, ['ok'])

    def test_reload_changes_properties_and_emits(self):
        d = self.start_bus_daemon()
        second = self.start_unbound(name='two')
        changes = []
        self.bus.add_signal_receiver(
            lambda iface, changed, inval: changes.append((str(iface), dict(changed))),
            'PropertiesChanged', PROPS, BUS_NAME, OBJ_PATH)
        self.allow(POLKIT_CONFIGURE)

        d.config['service']['url'] = [second.url, self.unbound.url]
        d.config['service']['check-domain'] = 'which.test'
        d.write_config()
        self.iface().Reload()
        got = wait_signal(self.bus, changes,
                          lambda c: any('ServiceUrl' in ch for _, ch in c), 5,
                          'PropertiesChanged(ServiceUrl)')
        merged = {}
        for iface, ch in got:
            self.assertEqual(iface, IFACE)
            merged.update(ch)
        self.assertEqual(merged['ServiceUrl'], second.url)
        self.assertEqual(self.prop('ServiceUrl'), second.url)
        self.assertEqual(self.prop('CheckDomain'), 'which.test')
        self.assertEqual(len(self.statistics()['upstreams']), 2)
        m = d.query('which.test', 'TXT')
        self.assertEqual(m.values('TXT'), [['two']])

        # an invalid file is refused: Failed, LastError set (and emitted), config stays
        changes.clear()
        d.config['relay']['cache-size'] = 'lots'
        d.write_config()
        e = self.assertDBusError('com.threatstop.DDR1.Error.Failed', self.iface().Reload)
        self.assertIn('cache-size', str(e))
        wait_signal(self.bus, changes, lambda c: any('LastError' in ch for _, ch in c), 5,
                    'PropertiesChanged(LastError)')
        self.assertIn('cache-size', self.prop('LastError'))
        self.assertEqual(self.prop('ServiceUrl'), second.url)
        self.assertAnswered(d.query('allowed.test'), 'NOERROR', 'after a refused reload')

        # SIGHUP shares the path: a good file clears LastError
        changes.clear()
        d.config['relay']['cache-size'] = 100
        d.write_config()
        d.signal(__import__('signal').SIGHUP)
        wait_signal(self.bus, changes, lambda c: any(ch.get('LastError') == '' for _, ch in c),
                    5, 'LastError cleared')
