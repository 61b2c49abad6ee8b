#!/usr/bin/python3
"""The resolved steering backend against a resolve1 mock (resolvedmock_template.py) on a
private system bus. The owned link ddr0 is real, so everything that touches links runs
inside a network namespace of the test's own (a veth pair: this kernel has no dummy):
the steering driver and restore-dns are started there through nsenter."""

import ast
import json
import os
import subprocess
import time

import dbus
import dbusmock

import busrig
import rig
import steerrig
from rig import RigTestCase, wait_until

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'resolvedmock_template.py')
RESOLVED = 'org.freedesktop.resolve1'
POLICY = '''
    <allow own="org.freedesktop.resolve1"/>
    <allow send_destination="org.freedesktop.resolve1"/>
'''


class TestSteerResolved(RigTestCase):

    def setUp(self):
        super().setUp()
        self.drivers = []
        self.resolved = None
        self.netns = None
        self.addCleanup(self._cleanup)
        self.bus_rig = busrig.SystemBus(self.path('bus'), root_policy=POLICY).start()
        self.bus = dbus.bus.BusConnection(self.bus_rig.address)
        self.start_resolved()
        # a network namespace held by a sleeping process: it dies with the process
        self.netns = subprocess.Popen([rig.tool('unshare'), '-n', '--', 'sleep', '3600'])
        own = os.readlink('/proc/self/ns/net')
        wait_until(lambda: os.readlink('/proc/%d/ns/net' % self.netns.pid) != own, 5,
                   what='the test network namespace')
        self.ns = [rig.tool('nsenter'), '-t', str(self.netns.pid), '-n', '--']
        self.root = self.path('root')
        self.state = self.path('state')
        os.makedirs(os.path.join(self.root, 'etc'))

    def _cleanup(self):
        for d in self.drivers:
            d.close()
            if self._failed() and d.log and os.path.exists(d.log):
                with open(d.log, errors='replace') as f:
                    print('--- %s ---\n%s' % (d.log, f.read()[-6000:]))
        if self.netns is not None:
            self.netns.kill()
            self.netns.wait()
        self.stop_resolved()
        self.bus.close()
        self.bus_rig.stop()

    # the resolve1 mock ------------------------------------------------------------------

    def start_resolved(self):
        # --template loads the methods before the main loop runs, so like the real
        # resolved the mock answers its first call (a re-apply races its start)
        log = open(self.path('resolved-mock.log'), 'ab')
        self.resolved = subprocess.Popen(['/usr/bin/python3', '-m', 'dbusmock', '--system',
                                          '--template', TEMPLATE],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ))
        log.close()
        def up():
            if self.resolved.poll() is not None:
                with open(self.path('resolved-mock.log'), errors='replace') as f:
                    raise AssertionError('the resolve1 mock exited (%d):\n%s'
                                         % (self.resolved.returncode, f.read()[-3000:]))
            return self.bus.name_has_owner(RESOLVED)
        wait_until(up, 30, what='the resolve1 mock on the bus')
        obj = self.bus.get_object(RESOLVED, '/org/freedesktop/resolve1', introspect=False)
        self.mock = dbus.Interface(obj, dbusmock.MOCK_IFACE)

    def stop_resolved(self):
        if self.resolved is not None:
            self.resolved.terminate()
            self.resolved.wait(10)
            self.resolved = None
            wait_until(lambda: not self.bus.name_has_owner(RESOLVED), 5,
                       what='the resolve1 mock to leave the bus')

    def calls(self, method=None):
        out = [(str(m), [a for a in args]) for _, m, args in self.mock.GetCalls()]
        return [c for c in out if method is None or c[0] == method]

    def links(self):
        return ast.literal_eval(str(self.mock.DdrLinks()))

    # the namespace ------------------------------------------------------------------

    def ip_json(self, *args):
        r = subprocess.run(self.ns + [rig.tool('ip'), '-j'] + list(args), capture_output=True,
                           text=True, timeout=10)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def ddr0(self):
        """The link ddr0 in the namespace: (ifindex, kind, up, [IPv4 addresses]) or None."""
        info = self.ip_json('-d', 'addr', 'show', 'dev', 'ddr0')
        if not info:
            return None
        link = info[0]
        addrs = ['%s/%d' % (a['local'], a['prefixlen']) for a in link.get('addr_info', [])
                 if a['family'] == 'inet']
        return (link['ifindex'], link.get('linkinfo', {}).get('info_kind'),
                'UP' in link['flags'], addrs)

    def driver(self):
        d = steerrig.Driver(['--backend=auto', '--root=' + self.root,
                             '--state-dir=' + self.state],
                            env={'THREATSTOP_DDR_STEER_LINK': 'veth'}, prefix=self.ns,
                            log=self.path('driver-%d.log' % len(self.drivers)))
        self.drivers.append(d)
        return d

    def restore_dns(self):
        e = dict(os.environ, G_DEBUG='fatal-criticals')
        e.pop('G_MESSAGES_DEBUG', None)
        return subprocess.run(self.ns + [busrig.admin_binary(), '--action=restore-dns',
                                         '--root=' + self.root, '--state-dir=' + self.state],
                              capture_output=True, text=True, timeout=30, env=e,
                              stdin=subprocess.DEVNULL)

    def assert_steered(self, ifindex):
        links = self.links()
        self.assertEqual(links.get(ifindex), {'dns': [(2, [127, 0, 0, 1])],
                                              'domains': [('.', True)],
                                              'default-route': True,
                                              'llmnr': 'no', 'mdns': 'no'}, links)

    # tests --------------------------------------------------------------------------

    def test_on_off(self):
        self.assertIsNone(self.ddr0())
        d = self.driver()
        self.assertEqual(d.backend, 'resolved')
        d.set(True)
        link = self.ddr0()
        self.assertIsNotNone(link, 'ddr0 was not created in the namespace')
        ifindex, kind, up, addrs = link
        self.assertEqual(kind, 'veth')
        self.assertTrue(up)
        self.assertEqual(addrs, ['192.0.0.8/32'])
        self.assertEqual([c[0] for c in self.calls()],
                         ['SetLinkDNS', 'SetLinkDomains', 'SetLinkDefaultRoute',
                          'SetLinkLLMNR', 'SetLinkMulticastDNS', 'FlushCaches'])
        self.assertEqual(self.calls('SetLinkDNS')[0][1][0], ifindex)
        self.assert_steered(ifindex)

        d.set(True)      # idempotent: same link, same settings
        self.assertEqual(self.ddr0()[0], ifindex)
        self.assert_steered(ifindex)

        d.set(False)
        self.assertEqual(self.calls('RevertLink'), [('RevertLink', [ifindex])])
        self.assertEqual(self.links(), {})
        self.assertIsNotNone(self.ddr0(), 'off keeps the link for the next on')
        d.set(True)
        self.assert_steered(ifindex)

    def wait_lost(self, d, n, t0, what):
        """Wait for the n-th "lost" report; print and return the time it took (ms)."""
        wait_until(lambda: d.losses()[0] >= n, 5, interval=0.01, what='the loss reported: ' + what)
        ms = (time.monotonic() - t0) * 1000
        print('# %s -> lost reported: %d ms' % (what, ms), flush=True)
        self.assertEqual(d.losses()[0], n)
        self.assertLess(ms, 1000, what)
        return ms

    def test_revert_by_someone_else_is_lost(self):
        """"resolvectl revert ddr0" behind the backend's back: reported at once, once;
        steering again puts it back; our own off is no loss."""
        d = self.driver()
        d.set(True)
        ifindex = self.ddr0()[0]
        self.assert_steered(ifindex)
        manager = dbus.Interface(self.bus.get_object(RESOLVED, '/org/freedesktop/resolve1',
                                                     introspect=False),
                                 'org.freedesktop.resolve1.Manager')
        t0 = time.monotonic()
        manager.RevertLink(ifindex)
        self.wait_lost(d, 1, t0, 'RevertLink(ddr0)')
        self.assertIn('reverted', d.losses()[1])
        self.assertEqual(self.links(), {})
        d.set(True)
        self.assert_steered(ifindex)
        d.set(False)
        d.set(True)
        d.set(False)
        self.assertEqual(d.losses()[0], 1, 'our own changes are no loss')

    def test_link_deleted_is_lost(self):
        """"ip link del ddr0" takes the link's settings with it and resolved says
        nothing: the backend hears it from rtnetlink; steering again makes a new link."""
        d = self.driver()
        d.set(True)
        t0 = time.monotonic()
        r = subprocess.run(self.ns + [rig.tool('ip'), 'link', 'del', 'ddr0'],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_lost(d, 1, t0, 'ip link del ddr0')
        self.assertIn('deleted', d.losses()[1])
        d.set(True)
        self.assert_steered(self.ddr0()[0])
        self.assertEqual(d.losses()[0], 1)

    def test_resolved_restart_reapplies(self):
        d = self.driver()
        d.set(True)
        ifindex = self.ddr0()[0]
        t0 = time.monotonic()
        self.stop_resolved()
        self.wait_lost(d, 1, t0, 'resolved stopped')
        self.start_resolved()    # a fresh resolved knows nothing of ddr0
        wait_until(lambda: self.links().get(ifindex), 10,
                   what='the steering to be re-applied after resolved restarted')
        wait_until(lambda: len(self.calls('FlushCaches')) == 1, 5, what='FlushCaches')
        self.assert_steered(ifindex)

        # while off, a restart re-applies nothing
        d.set(False)
        self.stop_resolved()
        self.start_resolved()
        d.set(False)             # a round trip through the driver's main loop
        self.assertEqual(self.links(), {})
        self.assertEqual(self.calls('SetLinkDNS'), [])

    def test_crash_then_restore_dns(self):
        d = self.driver()
        d.set(True)
        ifindex = self.ddr0()[0]
        d.kill()
        self.assert_steered(ifindex)

        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'Reverted the DNS settings of ddr0 in systemd-resolved\n'
                                   'Deleted the link ddr0\n')
        self.assertEqual(self.calls('RevertLink'), [('RevertLink', [ifindex])])
        self.assertEqual(self.links(), {})
        self.assertIsNone(self.ddr0())
        self.assertIsNone(self.ip_json('link', 'show', 'dev', 'ddr0p'), 'the veth peer is gone')
        self.assertFalse(os.path.exists(os.path.join(self.state, 'steering.record')))

        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('Nothing to restore'), r.stdout)
        self.assertEqual(len(self.calls('RevertLink')), 1)

    def test_restore_without_record_finds_the_link(self):
        """A link named ddr0 with our address is ours even when the record is lost."""
        d = self.driver()
        d.set(True)
        d.kill()
        os.unlink(os.path.join(self.state, 'steering.record'))
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('Deleted the link ddr0', r.stdout)
        self.assertIsNone(self.ddr0())
        self.assertEqual(self.links(), {})

    def test_link_not_known_yet(self):
        """resolved answers NoSuchLink until it has seen the new link: on retries, off
        and restore take it as nothing to revert."""
        self.mock.DdrUnknownLink(dbus.UInt32(3))
        d = self.driver()
        d.set(True)
        ifindex = self.ddr0()[0]
        self.assert_steered(ifindex)
        self.assertGreaterEqual(len(self.calls('SetLinkDNS')), 2, 'no retry')

        self.mock.DdrUnknownLink(dbus.UInt32(1))
        d.set(False)
        d.kill()
        self.mock.DdrUnknownLink(dbus.UInt32(1))
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'Deleted the link ddr0\n')
        self.assertIsNone(self.ddr0())
