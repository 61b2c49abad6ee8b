#!/usr/bin/python3
"""threatstop-ddr-admin against the real daemon on a private system bus: status (human
and --json), check, reload, pause/resume/reprobe, usage errors, daemon not running."""

import json
import os
import subprocess

import rig
from busrig import POLKIT_CONFIGURE, POLKIT_PAUSE, BusTestCase, admin_binary

DOCUMENTED_KEYS = {'state', 'reason', 'protected', 'network', 'service_url',
                   'service_reachable', 'portal_url', 'paused_until', 'unprotected_since',
                   'dns_backend', 'version', 'statistics'}


class TestAdminCli(BusTestCase):

    def test_status_json_agrees_with_getstatistics(self):
        d = self.start_bus_daemon()
        for _ in range(3):
            d.query('allowed.test')
        r = self.admin('--action=status', '--json')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, '')
        obj = json.loads(r.stdout)
        self.assertTrue(DOCUMENTED_KEYS <= set(obj), set(obj) ^ DOCUMENTED_KEYS)
        self.assertEqual(obj['state'], 'forwarding')
        self.assertIs(obj['protected'], False)
        self.assertEqual(obj['unprotected_since'], 0)
        self.assertEqual(obj['paused_until'], 0)
        self.assertEqual(obj['service_url'], self.unbound.url)
        self.assertIs(obj['service_reachable'], True)
        self.assertEqual(obj['dns_backend'], 'none')
        self.assertEqual(obj['reason'], self.prop('Reason'))
        self.assertEqual(obj['version'], self.prop('Version'))
        stats = self.statistics()
        js = obj['statistics']
        self.assertEqual(set(js), {str(k) for k in stats})
        for k in ('queries', 'cache_hits', 'servfail', 'refused', 'malformed',
                  'inflight_overflow', 'upstream_errors', 'network_events', 'latency_p50_us',
                  'latency_p99_us', 'inflight'):
            self.assertEqual(js[k], int(stats[k]), k)
            self.assertIsInstance(js[k], int, k)
        self.assertGreaterEqual(js['queries'], 3)
        self.assertEqual(js['upstreams'], [{str(k): (bool(v) if k == 'healthy' else
                                                   (str(v) if k == 'url' else int(v)))
                                            for k, v in u.items()}
                                           for u in stats['upstreams']])

    def test_status_human(self):
        self.start_bus_daemon()
        r = self.admin('--action=status', env={'LANGUAGE': 'C', 'LC_ALL': 'C.UTF-8'})
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        for text in ('State:', 'forwarding (roaming off)', 'Reason:', 'Roaming is off',
                     'Protected:', 'Network:', 'Service URL:', self.unbound.url,
                     'Queries:', 'Cache hits:', 'Latency:', 'Upstreams:', 'healthy'):
            self.assertIn(text, out)

    def test_check_not_protected_names_both_paths(self):
        d = self.start_bus_daemon()
        r = self.admin('--action=check', env={'LANGUAGE': 'C', 'LC_ALL': 'C.UTF-8'})
        # check.test exists only in the test DoH service: the system resolver cannot
        # answer it, so the machine is not protected (exit 1), but the relay path works
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('Relay (127.0.0.1 port %d): check.test answered' % d.port, r.stdout)
        self.assertIn('System resolver: check.test did not resolve', r.stdout)
        self.assertIn('NOT protected: the relay works', r.stdout)

    def test_check_relay_failing(self):
        d = self.start_bus_daemon(check_domain='nx.allowed.test')
        r = self.admin('--action=check', env={'LANGUAGE': 'C', 'LC_ALL': 'C.UTF-8'})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('nx.allowed.test did not resolve: an error answer (DNS rcode 3)', r.stdout)

    def test_reload_authorised_and_refused(self):
        self.start_bus_daemon()
        r = self.admin('--action=reload')
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, '')
        self.assertEqual(r.stderr.count('\n'), 1, r.stderr)
        self.assertIn('not authorized', r.stderr)
        self.assertNotIn('com.threatstop', r.stderr)
        self.allow(POLKIT_CONFIGURE)
        r = self.admin('--action=reload')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('reloaded', r.stdout)

    def test_pause_resume_reprobe(self):
        self.start_bus_daemon()
        r = self.admin('--action=reprobe')
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.admin('--action=pause', '--minutes=5')
        self.assertEqual(r.returncode, 1)
        self.assertIn('not authorized', r.stderr)
        self.allow(POLKIT_PAUSE)
        r = self.admin('--action=pause')
        self.assertEqual(r.returncode, 1)
        self.assertIn('Nothing to pause', r.stderr)
        self.assertEqual(r.stderr.count('\n'), 1, r.stderr)
        r = self.admin('--action=resume')
        self.assertEqual(r.returncode, 1)
        self.assertIn('Nothing to resume', r.stderr)

    def test_daemon_not_running(self):
        # the bus is up but nobody owns the name; NO_AUTO_START means nothing is started
        for action in ('status', 'check', 'reload', 'pause', 'resume', 'reprobe'):
            r = self.admin('--action=' + action)
            self.assertEqual(r.returncode, 1, action)
            self.assertEqual(r.stderr, 'The ThreatSTOP DDR daemon (threatstop-ddrd) is not '
                             'running.\n', action)
        # a script gets JSON it can parse, and the exit code (issue 12 item 6)
        r = self.admin('--action=status', '--json')
        self.assertEqual(r.returncode, 1)
        j = json.loads(r.stdout)
        self.assertEqual(j['state'], 'stopped')
        self.assertIs(j['protected'], False)
        self.assertIn('not running', j['reason'])

    def test_daemon_stopped_after_running(self):
        d = self.start_bus_daemon()
        self.assertEqual(self.admin('--action=status').returncode, 0)
        d.stop()
        r = self.admin('--action=status')
        self.assertEqual(r.returncode, 1)
        self.assertIn('is not running', r.stderr)

    def test_no_system_bus(self):
        r = self.admin('--action=status',
                       env={'DBUS_SYSTEM_BUS_ADDRESS': 'unix:path=' + self.path('dead')})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.count('\n'), 1, r.stderr)
        self.assertIn('system bus is not available', r.stderr)


class TestAdminUsage(rig.RigTestCase):
    """Usage errors never need a daemon or a bus."""

    def run_admin(self, *args):
        env = dict(os.environ, LANGUAGE='C', LC_ALL='C.UTF-8',
                   DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + self.path('dead'))
        return subprocess.run([admin_binary()] + list(args), capture_output=True, text=True,
                              timeout=30, env=env, stdin=subprocess.DEVNULL)

    def test_help(self):
        r = self.run_admin('--help')
        self.assertEqual(r.returncode, 0)
        for text in ('--action', '--json', '--minutes', 'status'):
            self.assertIn(text, r.stdout)

    def test_bad_usage_exit_2_naming_the_value(self):
        cases = [
            (['--action=frobnicate'], 'frobnicate'),
            (['--action=pause', '--minutes=soon'], 'soon'),
            (['--action=pause', '--minutes=20000'], '20000'),
            (['--action=check', '--json'], '--json'),
            (['--action=status', '--minutes=5'], '--minutes'),
            (['--bogus'], '--bogus'),
            (['--action=status', 'extra'], 'extra'),
            ([], '--action'),
            (['--action=install'], '--url'),
            (['--action=status', '--state-dir=/tmp'], '--state-dir'),
            (['--action=restore-dns', '--root=/nonexistent/ddr-root'], '/nonexistent/ddr-root'),
        ]
        for args, text in cases:
            with self.subTest(args=args):
                r = self.run_admin(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(text, r.stderr)
                self.assertEqual(r.stderr.count('\n'), 1, r.stderr)
                self.assertEqual(r.stdout, '')
