#!/usr/bin/python3
"""The networkmanager steering backend (tests/tools/steer-driver) and restore-dns
against the real NetworkManager 1.42 in network namespaces (nmrig.py): NM's own
resolv.conf flips to the relay and back, an active profile is never re-activated, a
SIGKILLed steerer is undone by restore-dns, and glibc fails closed while steered (no
query reaches the network's server).

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
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import nmrig  # noqa: E402
import rig  # noqa: E402
import steerrig  # noqa: E402
from nmrig import PEER_ADDR  # noqa: E402
from rig import wait_until  # noqa: E402

OWNED_ID = 'threatstop-ddr'
OWNED_UUID = 'd4d9a706-83e3-4e49-857d-a38ab2ca8dcf'
RELAY = '127.0.0.1'


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

    def activations(self):
        """How often NM started activating the owned profile (its log)."""
        return self.w.nm.log().count("Activation: starting connection '%s'" % OWNED_ID)

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

    # tests, in order ----------------------------------------------------------

    def test_1_on_off_never_reactivated(self):
        cls = type(self)
        self.assertEqual(self.w.resolv_nameservers(), [PEER_ADDR])
        cls.driver = steerrig.Driver(
            ['--backend=auto', '--root=' + self.root, '--state-dir=' + self.state],
            env=self.w.env(THREATSTOP_DDR_STEER_LINK='veth'), prefix=self.w.inside([]),
            log=os.path.join(self.tmp, 'steer-driver.log'))
        d = cls.driver
        self.assertEqual(d.backend, 'networkmanager')
        d.set(True)
        self.wait_servers([RELAY], 'on')
        self.assertIn(OWNED_ID, self.w.active_connection_ids())
        self.assertEqual(self.activations(), 1)

        d.set(True)
        self.assertEqual(self.activations(), 1, 'an active profile was activated again')
        self.assertEqual(self.w.resolv_nameservers(), [RELAY])

        d.set(False)
        self.wait_servers([PEER_ADDR], 'off')
        self.assertNotIn(OWNED_ID, self.w.active_connection_ids())

        d.set(True)
        self.wait_servers([RELAY], 'on again')
        self.assertEqual(self.activations(), 2)

    def test_2_steered_fails_closed(self):
        """Nothing answers on 127.0.0.1:53 here: glibc must fail, not ask the network."""
        self.assertEqual(self.w.resolv_nameservers(), [RELAY])
        before = len(self.w.dns_queries())
        rc, addrs = self.w.getent('steered.check.test')
        self.assertNotEqual(rc, 0, addrs)
        self.assertEqual(len(self.w.dns_queries()), before, 'a query leaked to the network')

    def test_3_sigkill_then_restore_dns(self):
        type(self).driver.kill()
        self.assertEqual(self.w.resolv_nameservers(), [RELAY],
                         'NM keeps the profile up when the steerer dies')
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn('Deactivated the NetworkManager profile threatstop-ddr', lines)
        self.assertIn('Deleted the NetworkManager profile threatstop-ddr (%s)' % OWNED_UUID,
                      lines)
        self.wait_servers([PEER_ADDR], 'after restore-dns')
        self.assertNotIn(OWNED_ID, self.w.active_connection_ids())
        wait_until(lambda: subprocess.run(self.w.inside(['ip', 'link', 'show', 'ddr0']),
                                          capture_output=True).returncode != 0, 5,
                   what='NM to delete the ddr0 veth pair')

        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('Nothing to restore'), r.stdout)
        rc, addrs = self.w.getent('after.check.test')
        self.assertEqual(rc, 0, 'the network DNS answers again')

    def test_4_world_leaves_no_trace(self):
        errors = type(self).tear_down_world()
        self.assertEqual(errors, [])
