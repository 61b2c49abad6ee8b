#!/usr/bin/python3
"""The networkmanager steering backend (tests/tools/steer-driver) and restore-dns
against the real NetworkManager 1.42 in network namespaces (nmrig.py): NM's own
resolv.conf flips to the relay and back through the bound activation (veth: the anchor
creates the pair without DNS, AddAndActivateConnection2 with bind-activation takes it
over), an active profile is never re-activated, a SIGKILLed steerer is undone by NM
itself within 1 s (no restore-dns), restore-dns cleans both owned profiles, start-up
clean-up removes stale ones, and glibc fails closed while steered (no query reaches
the network's server).

The tests run in order on one world (NetworkManager starts once).
Run alone:  meson test -C build --suite e2e --print-errorlogs test_steer_real_nm
Root only. DDR_KEEP_TMP=1 keeps the logs."""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

import dbus

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import nmrig  # noqa: E402
import rig  # noqa: E402
import steerrig  # noqa: E402
from nmrig import PEER_ADDR  # noqa: E402
from rig import wait_until  # noqa: E402

OWNED_ID = 'threatstop-ddr'
OWNED_UUID = 'd4d9a706-83e3-4e49-857d-a38ab2ca8dcf'          # the anchor
BOUND_UUID = 'd4d9a706-83e3-4e49-857d-a38ab2ca8dd0'          # the bound activation
RELAY = '127.0.0.1'
NM = 'org.freedesktop.NetworkManager'


def reaction(what, ms):
    """A TAP comment line with a measured time."""
    sys.stdout.write('# reaction %s: %.1f ms\n' % (what, ms))
    sys.stdout.flush()


class TestSteerRealNM(unittest.TestCase):
    world = None
    setup_error = None
    driver = None
    started = False
    any_failed = False

    @classmethod
    def set_up_world(cls):
        cls.started = True
        atexit.register(cls.tear_down_world)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        cls.tmp = tempfile.mkdtemp(prefix='ddr-steer-realnm-')
        cls.torn_down = False
        try:
            if os.geteuid() != 0:
                raise AssertionError('the real-NetworkManager test needs root (netns, mounts)')
            cls.admin = os.path.abspath(os.path.join(rig.build_dir(), 'src', 'admin',
                                                     'threatstop-ddr-admin'))
            steerrig.driver_binary()
            cls.world = nmrig.World(os.path.join(cls.tmp, 'world'))
            cls.world.start()
            cls.root = os.path.join(cls.tmp, 'root')
            cls.state = os.path.join(cls.tmp, 'state')
            os.makedirs(os.path.join(cls.root, 'etc'))
        except Exception:  # noqa: BLE001
            cls.setup_error = traceback.format_exc()

    @classmethod
    def tear_down_world(cls):
        if cls.torn_down:
            return []
        cls.torn_down = True
        errors = []
        if cls.driver is not None:
            cls.driver.close()
        if cls.world is not None:
            if cls.any_failed or cls.setup_error:
                sys.stderr.write(cls.world.logs() + '\n')
                if cls.driver is not None and os.path.exists(cls.driver.log):
                    with open(cls.driver.log, errors='replace') as f:
                        sys.stderr.write('===== steer-driver =====\n%s\n' % f.read()[-20000:])
            errors = cls.world.stop()
            cls.world = None
        if os.environ.get('DDR_KEEP_TMP'):
            sys.stderr.write('kept %s\n' % cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        return errors

    def setUp(self):
        if not self.started:
            self.set_up_world()
        if self.setup_error:
            self.fail('rig set-up failed:\n' + self.setup_error)
        if self.world is None:
            self.fail('the world is gone (an earlier test tore it down)')
        self.w = self.world

    def tearDown(self):
        outcome = getattr(self, '_outcome', None)
        if outcome is not None and not getattr(outcome, 'success', True):
            type(self).any_failed = True

    # helpers ----------------------------------------------------------------

    def activations(self, uuid):
        """How often NM started activating the owned profile with this UUID (its log)."""
        return self.w.nm.log().count("Activation: starting connection '%s' (%s)"
                                     % (OWNED_ID, uuid))

    def active_uuids(self):
        out = []
        for p in self.w.nm_prop('ActiveConnections'):
            try:
                out.append(str(self.w.nm_prop('Uuid', p, NM + '.Connection.Active')))
            except dbus.DBusException:
                pass    # gone meanwhile
        return out

    def own_profiles(self):
        """{uuid: flags} of every profile with the owned id or an owned UUID."""
        settings = dbus.Interface(self.w.bus.get_object(NM, '/org/freedesktop/NetworkManager/'
                                                        'Settings', introspect=False),
                                  NM + '.Settings')
        out = {}
        for path in settings.ListConnections():
            obj = self.w.bus.get_object(NM, path, introspect=False)
            try:
                c = obj.GetSettings(dbus_interface=NM + '.Settings.Connection')['connection']
                flags = int(obj.Get(NM + '.Settings.Connection', 'Flags',
                                    dbus_interface=dbus.PROPERTIES_IFACE))
            except dbus.DBusException:
                continue
            if str(c['id']) == OWNED_ID or str(c['uuid']) in (OWNED_UUID, BOUND_UUID):
                out[str(c['uuid'])] = flags
        return out

    def multicast_names(self, uuid):
        """(connection.llmnr, connection.mdns) of the profile with this UUID, as NM keeps
        them (None where NM has the default, -1)."""
        settings = dbus.Interface(self.w.bus.get_object(NM, '/org/freedesktop/NetworkManager/'
                                                        'Settings', introspect=False),
                                  NM + '.Settings')
        path = settings.GetConnectionByUuid(uuid)
        obj = self.w.bus.get_object(NM, path, introspect=False)
        c = obj.GetSettings(dbus_interface=NM + '.Settings.Connection')['connection']
        return tuple(int(c[k]) if k in c else None for k in ('llmnr', 'mdns'))

    def link_exists(self, name):
        return subprocess.run(self.w.inside(['ip', 'link', 'show', name]),
                              capture_output=True).returncode == 0

    def wait_servers(self, servers, what):
        wait_until(lambda: self.w.resolv_nameservers() == servers, 5,
                   what='%s: resolv.conf nameservers %s (have %s)'
                   % (what, servers, self.w.resolv_nameservers()))

    def restore_dns(self):
        return subprocess.run(self.w.inside([self.admin, '--action=restore-dns',
                                             '--root=' + self.root,
                                             '--state-dir=' + self.state]),
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL, env=self.w.env())

    def new_driver(self, name):
        cls = type(self)
        if cls.driver is not None:
            cls.driver.close()
        cls.driver = steerrig.Driver(
            ['--backend=auto', '--root=' + self.root, '--state-dir=' + self.state],
            env=self.w.env(THREATSTOP_DDR_STEER_LINK='veth'), prefix=self.w.inside([]),
            log=os.path.join(self.tmp, name + '.log'))
        return cls.driver

    # tests, in order ----------------------------------------------------------

    def test_1_on_off_never_reactivated(self):
        self.assertEqual(self.w.resolv_nameservers(), [PEER_ADDR])
        d = self.new_driver('steer-driver')
        self.assertEqual(d.backend, 'networkmanager')
        d.set(True)
        self.wait_servers([RELAY], 'on')
        # the bound, volatile activation steers; the anchor (no DNS) only made the pair
        self.assertIn(BOUND_UUID, self.active_uuids())
        self.assertNotIn(OWNED_UUID, self.active_uuids())
        self.assertEqual(self.activations(BOUND_UUID), 1)
        self.assertEqual(self.activations(OWNED_UUID), 1)
        profiles = self.own_profiles()
        self.assertEqual(sorted(profiles), sorted([OWNED_UUID, BOUND_UUID]), profiles)
        self.assertEqual(profiles[BOUND_UUID] & 0x4, 0x4, 'the bound profile is volatile')
        self.assertEqual(profiles[OWNED_UUID] & 0x4, 0, 'the anchor is not volatile')
        # ddr0 does no LLMNR nor mDNS (NM accepted NO = 0 on both profiles)
        self.assertEqual(self.multicast_names(BOUND_UUID), (0, 0))
        self.assertEqual(self.multicast_names(OWNED_UUID), (0, 0))
        self.assertIn('NetworkManager profile threatstop-ddr activated, bound to this bus '
                      'connection', open(d.log, errors='replace').read())

        d.set(True)
        self.assertEqual(self.activations(BOUND_UUID), 1, 'an active profile was activated again')
        self.assertEqual(self.activations(OWNED_UUID), 1)
        self.assertEqual(self.w.resolv_nameservers(), [RELAY])

        d.set(False)
        self.wait_servers([PEER_ADDR], 'off')
        self.assertNotIn(BOUND_UUID, self.active_uuids())
        self.assertNotIn(OWNED_UUID, self.active_uuids())
        # NM deletes the volatile bound profile and the veth pair; the anchor stays
        wait_until(lambda: list(self.own_profiles()) == [OWNED_UUID], 5,
                   what='NM to delete the volatile bound profile (have %s)' % self.own_profiles())
        wait_until(lambda: not self.link_exists('ddr0') and not self.link_exists('ddr0p'), 5,
                   what='NM to delete the ddr0 veth pair after the fall-back')

        d.set(True)
        self.wait_servers([RELAY], 'on again')
        self.assertEqual(self.activations(BOUND_UUID), 2)
        self.assertIn(BOUND_UUID, self.active_uuids())

        # off and at once on again: the bound profile (same UUID) and the pair NM is
        # still deleting must not make the new activation clash or fall back
        d.set(False)
        d.set(True)
        self.wait_servers([RELAY], 'on right after off')
        wait_until(lambda: BOUND_UUID in self.active_uuids(), 5,
                   what='the bound activation after a quick off/on')
        self.assertEqual(self.activations(BOUND_UUID), 3)
        self.assertNotIn('without bind-activation', open(d.log, errors='replace').read())

    def test_2_steered_fails_closed(self):
        """Nothing answers on 127.0.0.1:53 here: glibc must fail, not ask the network."""
        self.assertEqual(self.w.resolv_nameservers(), [RELAY])
        before = len(self.w.dns_queries())
        rc, addrs = self.w.getent('steered.check.test')
        self.assertNotEqual(rc, 0, addrs)
        self.assertEqual(len(self.w.dns_queries()), before, 'a query leaked to the network')

    def test_3_sigkill_undone_by_nm(self):
        """The steerer dies: NM itself (bind-activation) gives the network its DNS back,
        without restore-dns."""
        self.assertEqual(self.w.resolv_nameservers(), [RELAY])
        d = type(self).driver
        t_kill = time.monotonic()
        d.proc.send_signal(signal.SIGKILL)
        changed = None
        while time.monotonic() - t_kill < 3:
            if self.w.resolv_nameservers() == [PEER_ADDR]:
                changed = time.monotonic()
                break
            time.sleep(0.0005)
        d.kill()
        self.assertIsNotNone(changed, 'resolv.conf still %s 3 s after SIGKILL'
                             % self.w.resolv_nameservers())
        reaction('SIGKILL of the bus client -> resolv.conf has the network server (by NM, '
                 'no restore-dns)', (changed - t_kill) * 1000)
        self.assertLessEqual(changed - t_kill, 1.0)
        self.assertNotIn(BOUND_UUID, self.active_uuids())
        wait_until(lambda: list(self.own_profiles()) == [OWNED_UUID], 5,
                   what='NM to delete the bound profile (have %s)' % self.own_profiles())
        wait_until(lambda: not self.link_exists('ddr0'), 5, what='NM to delete the pair')
        rc, addrs = self.w.getent('after-kill.check.test')
        self.assertEqual(rc, 0, 'the network DNS answers again')

        # the inactive anchor is what is left: restore-dns deletes it
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(),
                         ['Deleted the NetworkManager profile threatstop-ddr (%s)' % OWNED_UUID])
        self.assertEqual(self.own_profiles(), {})

    def test_4_restore_dns_cleans_both(self):
        """restore-dns while the bound activation is up (the steerer alive)."""
        d = self.new_driver('steer-driver-2')
        d.set(True)
        self.wait_servers([RELAY], 'on')
        self.assertIn(BOUND_UUID, self.active_uuids())
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn('Deactivated the NetworkManager profile threatstop-ddr', lines)
        self.assertIn('Deleted the NetworkManager profile threatstop-ddr (%s)' % OWNED_UUID,
                      lines)
        self.wait_servers([PEER_ADDR], 'after restore-dns')
        self.assertEqual([u for u in self.active_uuids() if u in (OWNED_UUID, BOUND_UUID)], [])
        wait_until(lambda: self.own_profiles() == {}, 5,
                   what='no owned profile left (have %s)' % self.own_profiles())
        wait_until(lambda: not self.link_exists('ddr0'), 5, what='NM to delete the ddr0 pair')

        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('Nothing to restore'), r.stdout)
        d.close()

    def test_5_startup_cleanup_removes_stale(self):
        """Left-overs of both kinds (an anchor, an inactive bound profile from disk) are
        deleted at the first use; steering then works as usual."""
        settings = dbus.Interface(self.w.bus.get_object(NM, '/org/freedesktop/NetworkManager/'
                                                        'Settings', introspect=False),
                                  NM + '.Settings')
        for uuid, conn_type in ((OWNED_UUID, 'veth'), (BOUND_UUID, 'veth')):
            c = {'connection': {'id': OWNED_ID, 'uuid': uuid, 'type': conn_type,
                                'interface-name': 'ddr0', 'autoconnect': False},
                 'veth': {'peer': 'ddr0p'},
                 'ipv4': {'method': 'disabled'}, 'ipv6': {'method': 'disabled'}}
            settings.AddConnection2(c, dbus.UInt32(0x22), dbus.Dictionary({}, signature='sv'),
                                    signature='a{sa{sv}}ua{sv}')
        self.assertEqual(sorted(self.own_profiles()), sorted([OWNED_UUID, BOUND_UUID]))
        d = self.new_driver('steer-driver-3')
        d.set(False)    # first use: clean-up only
        self.assertEqual(self.own_profiles(), {})
        self.assertEqual(self.w.resolv_nameservers(), [PEER_ADDR])
        d.set(True)
        self.wait_servers([RELAY], 'on after the clean-up')
        self.assertIn(BOUND_UUID, self.active_uuids())
        d.set(False)
        self.wait_servers([PEER_ADDR], 'off')
        d.close()
        wait_until(lambda: list(self.own_profiles()) == [OWNED_UUID], 5,
                   what='only the anchor left (have %s)' % self.own_profiles())

    def test_6_world_leaves_no_trace(self):
        errors = type(self).tear_down_world()
        self.assertEqual(errors, [])
