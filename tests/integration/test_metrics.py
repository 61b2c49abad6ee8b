#!/usr/bin/python3
"""Issue 13: `threatstop-ddr-admin --action=metrics` against the real daemon.

The roaming rig (roamrig.py: NM mock, portal responder, network DNS, unbound DoH in a
private namespace) drives the daemon through its states; in each one the CLI's text is
checked by `promtool check metrics` (Prometheus' own linter: it must say nothing) and
parsed: the state one-hot, protected, the counters, the upstream by URL, and no network
name anywhere. With the daemon stopped the text still says threatstop_ddr_up 0 and the
CLI exits 0. --output replaces the file atomically (strace: only rename() reaches the
final name). The packaged timer and service pass `systemd-analyze verify`. The README's
fleet one-liners run against a real Prometheus scraping real node_exporters (textfile
collector) of three "laptops"."""

import os
import re
import shlex
import subprocess
import time
import unittest
import urllib.request

import dbus

import busrig
import rig
import roamrig
from roamrig import WIFI_ID, WIFI_UUID, RoamTestCase

SRC = busrig.SRC
TEXTFILE = '/var/lib/prometheus/node-exporter/threatstop_ddr.prom'
STATES = ['starting', 'forwarding', 'offline', 'probing', 'portal', 'protected',
          'unreachable', 'trusted', 'paused', 'stopped']

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n' else m.group(1), v)


def parse(text):
    """{(name, ((label, value), ...)): float} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError('not a sample line: %r' % line)
        labels = tuple(sorted((k, unescape(v)) for k, v in LABEL.findall(m.group(2) or '')))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def promtool_check(test, text):
    p = subprocess.run([rig.tool('promtool'), 'check', 'metrics'], input=text,
                       capture_output=True, text=True, timeout=30)
    test.assertEqual((p.returncode, p.stdout + p.stderr), (0, ''), text)


def metric(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


class MetricsMixin:

    def scrape(self, expect_state, **kw):
        """The CLI's text in the current state: exit 0, promtool silent, one-hot."""
        r = self.admin('--action=metrics', **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        promtool_check(self, r.stdout)
        s = parse(r.stdout)
        states = {dict(k[1])['state']: v for k, v in s.items() if k[0] == 'threatstop_ddr_state'}
        self.assertEqual(sorted(states), sorted(STATES))
        self.assertEqual([k for k, v in states.items() if v == 1], [expect_state], r.stdout)
        self.assertEqual(sum(states.values()), 1)
        self.assertEqual(metric(s, 'threatstop_ddr_up'), 0 if expect_state == 'stopped' else 1)
        # private: no network name, no query name, no portal address
        for secret in (WIFI_ID, 'hotel', 'portal.test', 'allowed.test', 'example.com'):
            self.assertNotIn(secret, r.stdout)
        print('# metrics in state %s: %d samples, promtool silent' % (expect_state, len(s)))
        return s, r


class TestMetricsRoaming(MetricsMixin, RoamTestCase):

    def test_states_through_the_rig(self):
        self.allow(busrig.POLKIT_PAUSE)
        # probing: our portal probe has not answered yet (a slow portal; a real one:
        # the DoH service does not get through either)
        self.real_portal()
        self.portal.delay = 2.5
        d, _ = self.start_roam_daemon(wait_state='probing')
        self.scrape('probing')
        self.wait_state('portal', time.monotonic())
        s, _ = self.scrape('portal')
        self.assertEqual(metric(s, 'threatstop_ddr_protected'), 0)
        self.assertGreater(metric(s, 'threatstop_ddr_unprotected_since_seconds'), 1e9)

        # protected, with traffic: counters, upstream by URL, latency in seconds
        self.portal.delay = 0
        self.portal_login()
        t0 = time.monotonic()
        self.iface().Reprobe()
        self.wait_state('protected', t0, 15)
        for _ in range(3):
            self.assertIsNotNone(self.relay('allowed.test'))
        self.relay('allowed.test')       # a cache hit
        s, r = self.scrape('protected')
        stats = self.statistics()
        self.assertEqual(metric(s, 'threatstop_ddr_protected'), 1)
        self.assertEqual(metric(s, 'threatstop_ddr_unprotected_since_seconds'), 0)
        self.assertEqual(metric(s, 'threatstop_ddr_service_reachable'), 1)
        self.assertEqual(metric(s, 'threatstop_ddr_info', version=str(self.prop('Version')),
                                backend='networkmanager'), 1)
        self.assertGreaterEqual(metric(s, 'threatstop_ddr_queries_total'), 4)
        self.assertGreaterEqual(metric(s, 'threatstop_ddr_cache_hits_total'), 1)
        self.assertLessEqual(metric(s, 'threatstop_ddr_queries_total'), stats['queries'])
        url = self.unbound.url
        self.assertEqual(metric(s, 'threatstop_ddr_upstream_healthy', url=url), 1)
        self.assertGreaterEqual(metric(s, 'threatstop_ddr_upstream_queries_total', url=url), 1)
        # (the service probes behind the portal failed: errors are counted, not zero)
        self.assertIsNotNone(metric(s, 'threatstop_ddr_upstream_errors_total', url=url))
        p99 = metric(s, 'threatstop_ddr_answer_latency_p99_seconds')
        self.assertGreater(p99, 0)
        self.assertLess(p99, 5)
        for name in ('servfail_answers', 'refused_queries', 'malformed_queries',
                     'overflow_queries', 'network_events', 'local_forwards'):
            self.assertIsNotNone(metric(s, 'threatstop_ddr_%s_total' % name), name)

        t0 = time.monotonic()
        self.iface().Pause(dbus.UInt32(1))
        self.wait_state('paused', t0)
        self.scrape('paused')
        t0 = time.monotonic()
        self.iface().Resume()
        self.wait_state('protected', t0)

        t0 = time.monotonic()
        self.nm.set_connectivity('NONE')
        self.wait_state('offline', t0)
        self.scrape('offline')
        t0 = time.monotonic()
        self.nm.set_connectivity('FULL')
        self.wait_state('protected', t0)

        self.unbound.stop()
        t0 = time.monotonic()
        self.relay('allowed.test')
        self.wait_state('unreachable', t0, 10)
        s, _ = self.scrape('unreachable')
        self.assertEqual(metric(s, 'threatstop_ddr_upstream_healthy', url=url), 0)
        self.assertGreaterEqual(metric(s, 'threatstop_ddr_upstream_errors_total', url=url), 1)
        self.assertEqual(metric(s, 'threatstop_ddr_service_reachable'), 0)

        # stopped: a scrape must not fail
        self.assertEqual(d.stop(), 0)
        s, r = self.scrape('stopped')
        self.assertEqual(sorted(k[0] for k in s), ['threatstop_ddr_state'] * len(STATES)
                         + ['threatstop_ddr_up'])
        self.assertIn('not running', r.stderr)

        self.unbound.start()
        d, _ = self.start_roam_daemon('ddrd-trusted', wait_state='trusted',
                                      trusted_networks=WIFI_UUID)
        self.scrape('trusted')
        self.assertEqual(d.stop(), 0)
        d, _ = self.start_roam_daemon('ddrd-fwd', wait_state='forwarding', enabled='false')
        s, _ = self.scrape('forwarding')
        self.assertEqual(metric(s, 'threatstop_ddr_unprotected_since_seconds'), 0)


class TestMetricsOutput(MetricsMixin, busrig.BusTestCase):

    def setUp(self):
        roamrig.enter_private_world()    # importing roamrig unshared the network: lo up
        super().setUp()

    def test_output_replaces_the_file_atomically(self):
        self.start_bus_daemon()
        out = self.path('textfile', 'threatstop_ddr.prom')
        os.makedirs(os.path.dirname(out))
        with open(out, 'w') as f:
            f.write('old\n')
        trace = self.path('strace.txt')
        cmd = [rig.tool('strace'), '-f', '-qq', '-o', trace, '-e',
               'trace=open,openat,creat,truncate,rename,renameat,renameat2',
               busrig.admin_binary(), '--action=metrics', '--output=' + out]
        # LeakSanitizer cannot run under ptrace (sanitizer builds)
        env = dict(os.environ, ASAN_OPTIONS='detect_leaks=0')
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        with open(out) as f:
            text = f.read()
        promtool_check(self, text)
        self.assertEqual(metric(parse(text), 'threatstop_ddr_state', state='forwarding'), 1)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o644)
        self.assertEqual(os.listdir(os.path.dirname(out)), ['threatstop_ddr.prom'])
        with open(trace) as f:
            calls = [l for l in f.read().splitlines() if os.path.dirname(out) in l]
        # the final name is reached only by rename() of a temp file beside it
        self.assertEqual([c for c in calls if '"%s"' % out in c and 'rename' not in c], [],
                         calls)
        renames = [c for c in calls if 'rename' in c and c.rstrip().endswith('= 0')]
        self.assertEqual(len(renames), 1, calls)
        self.assertRegex(renames[0], r'"%s\.\w+", .*"%s"' % (re.escape(out), re.escape(out)))

    def test_daemon_down(self):
        # no daemon on the bus, then no bus at all: up 0, exit 0, promtool silent
        self.scrape('stopped')
        s, r = self.scrape('stopped', env={'DBUS_SYSTEM_BUS_ADDRESS':
                                           'unix:path=' + self.path('no-bus')})
        self.assertIn('system bus', r.stderr)
        out = self.path('m.prom')
        r = self.admin('--action=metrics', '--output=' + out,
                       env={'DBUS_SYSTEM_BUS_ADDRESS': 'unix:path=' + self.path('no-bus')})
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            self.assertIn('\nthreatstop_ddr_up 0\n', f.read())
        # an output that cannot be written is a failure, with a sentence
        r = self.admin('--action=metrics', '--output=' + self.path('missing', 'm.prom'))
        self.assertEqual(r.returncode, 1)
        self.assertIn('cannot write the metrics', r.stderr)
        # --output belongs to metrics
        r = self.admin('--action=status', '--output=' + out)
        self.assertEqual(r.returncode, 2)


class TestMetricsUnits(rig.RigTestCase):

    def render(self, name):
        bdir = os.path.abspath(rig.build_dir())
        with open(os.path.join(SRC, 'data', name + '.in')) as f:
            text = f.read()
        text = text.replace('@bindir@', os.path.join(bdir, 'src', 'admin'))
        self.assertNotIn('@', re.sub(r'@(system-service|privileged|resources)', '', text))
        return text

    def test_units_verify(self):
        udir = self.path('unit')
        os.makedirs(udir)
        for name in ('threatstop-ddr-metrics.service', 'threatstop-ddr-metrics.timer'):
            text = self.render(name) if name.endswith('.service') else \
                open(os.path.join(SRC, 'data', name)).read()
            with open(os.path.join(udir, name), 'w') as f:
                f.write(text)
        service = open(os.path.join(udir, 'threatstop-ddr-metrics.service')).read()
        self.assertRegex(service, r'\nExecStart=\S+/threatstop-ddr-admin --action=metrics '
                         r'--output=%s\n' % re.escape(TEXTFILE))
        timer = open(os.path.join(udir, 'threatstop-ddr-metrics.timer')).read()
        self.assertIn('\nOnCalendar=minutely\n', timer)
        mandir = self.path('man', 'man8')
        os.makedirs(mandir)
        os.symlink(os.path.join(SRC, 'data', 'man', 'threatstop-ddr-admin.8'),
                   os.path.join(mandir, 'threatstop-ddr-admin.8'))
        env = dict(os.environ, MANPATH=self.path('man'))
        for name in ('threatstop-ddr-metrics.service', 'threatstop-ddr-metrics.timer'):
            with self.subTest(unit=name):
                p = subprocess.run([rig.tool('systemd-analyze'), 'verify',
                                    os.path.join(udir, name)],
                                   capture_output=True, text=True, env=env, cwd=udir)
                self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ''))
        # root without capabilities on a read-only system: rated "OK" (1.2 with systemd 252)
        p = subprocess.run([rig.tool('systemd-analyze'), 'security', '--offline=true',
                            os.path.join(udir, 'threatstop-ddr-metrics.service')],
                           capture_output=True, text=True, env=env, cwd=udir)
        m = re.search(r'Overall exposure level for \S+: ([0-9.]+)', p.stdout + p.stderr)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        print('# systemd-analyze security threatstop-ddr-metrics.service: %s' % m.group(1))
        self.assertLessEqual(float(m.group(1)), 1.5)
        # and verify sees a broken one
        with open(os.path.join(udir, 'threatstop-ddr-metrics.service'), 'w') as f:
            f.write(service.replace('/threatstop-ddr-admin ', '/no-such-admin '))
        p = subprocess.run([rig.tool('systemd-analyze'), 'verify',
                            os.path.join(udir, 'threatstop-ddr-metrics.service')],
                           capture_output=True, text=True, env=env, cwd=udir)
        self.assertIn('no-such-admin', p.stdout + p.stderr)


class TestMetricsFleet(MetricsMixin, busrig.BusTestCase):
    """Three laptops as three node_exporters (textfile collector only) scraped every
    second by a Prometheus server: one with the real daemon's file (forwarding), one
    without our file (timer not enabled), one whose file says it has been unprotected
    for 20 minutes. The README's one-liners, taken from the README, must name each."""

    def setUp(self):
        roamrig.enter_private_world()    # importing roamrig unshared the network: lo up
        super().setUp()

    def spawn(self, name, cmd):
        log = open(self.path(name + '.log'), 'w')
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

        def stop():
            p.terminate()
            p.wait(10)
            log.close()
        self.addCleanup(stop)
        return p

    def ready(self, url):
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def readme_queries(self):
        with open(os.path.join(SRC, 'README.md')) as f:
            lines = [l for l in f.read().splitlines()
                     if l.startswith('promtool query instant http://prometheus:9090 ')]
        self.assertEqual(len(lines), 2, lines)
        return [shlex.split(l)[4] for l in lines]

    def test_readme_one_liners_on_a_real_prometheus(self):
        self.start_bus_daemon()
        laptops = {}
        for name in ('fwd', 'off', 'late'):
            d = self.path('textfile-' + name)
            os.makedirs(d)
            laptops[name] = (d, rig.free_port())
        r = self.admin('--action=metrics', '--output=' + os.path.join(laptops['fwd'][0],
                                                                     'threatstop_ddr.prom'))
        self.assertEqual(r.returncode, 0, r.stderr)
        # 'late': the same text as from a laptop unprotected since 20 minutes ago
        with open(os.path.join(laptops['fwd'][0], 'threatstop_ddr.prom')) as f:
            text = f.read()
        text = re.sub(r'(?m)^threatstop_ddr_unprotected_since_seconds 0$',
                      'threatstop_ddr_unprotected_since_seconds %d' % (time.time() - 1200), text)
        with open(os.path.join(laptops['late'][0], 'threatstop_ddr.prom'), 'w') as f:
            f.write(text)
        for name, (d, port) in laptops.items():
            self.spawn('node-exporter-' + name, [
                rig.tool('prometheus-node-exporter'), '--collector.disable-defaults',
                '--collector.textfile', '--collector.textfile.directory=' + d,
                '--web.listen-address=127.0.0.1:%d' % port])
        prom_port = rig.free_port()
        conf = self.path('prometheus.yml')
        with open(conf, 'w') as f:
            f.write('global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: node\n'
                    '    static_configs:\n      - targets: [%s]\n'
                    % ', '.join("'127.0.0.1:%d'" % p for _, p in laptops.values()))
        self.spawn('prometheus', [
            rig.tool('prometheus'), '--config.file=' + conf,
            '--storage.tsdb.path=' + self.path('prometheus-data'),
            '--web.listen-address=127.0.0.1:%d' % prom_port])
        url = 'http://127.0.0.1:%d' % prom_port
        rig.wait_until(lambda: self.ready(url + '/-/ready'), 30, what='Prometheus ready')
        state_q, late_q = self.readme_queries()
        t0 = time.monotonic()

        def query(q):
            p = subprocess.run([rig.tool('promtool'), 'query', 'instant', url, q],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual((p.returncode, p.stderr), (0, ''), q)
            return [l for l in p.stdout.splitlines() if l.strip()]
        rig.wait_until(lambda: len(query(state_q)) == 3, 30,
                       what='a state line for each of the three laptops')
        print('# Prometheus: the three laptops answered after %.1f s'
              % (time.monotonic() - t0))
        lines = query(state_q)
        for l in lines:
            print('#   ' + l)

        def line_of(name):
            inst = 'instance="127.0.0.1:%d"' % laptops[name][1]
            found = [l for l in lines if inst in l]
            self.assertEqual(len(found), 1, lines)
            return found[0]
        self.assertRegex(line_of('fwd'), r'^threatstop_ddr_state\{.*state="forwarding".*\} => 1 ')
        self.assertRegex(line_of('late'), r'^threatstop_ddr_state\{.*state="forwarding".*\} => 1 ')
        self.assertRegex(line_of('off'), r'^up\{.*state="no metrics".*\} => 1 ')
        late = query(late_q)
        self.assertEqual(len(late), 1, late)
        self.assertIn('instance="127.0.0.1:%d"' % laptops['late'][1], late[0])


if __name__ == '__main__':
    unittest.main()
