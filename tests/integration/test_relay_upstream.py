#!/usr/bin/python3
"""Upstream failures: TLS, dead, hung and HTTP-error upstreams, failover, cache, statistics."""

import signal
import time
import unittest

import rig
from rig import RigTestCase

TIMEOUT_MS = 1500
SLACK = 0.5    # seconds allowed beyond timeout-ms


class TestRelayUpstream(RigTestCase):

    def assertServfailEde(self, m, what):
        self.assertIsNotNone(m, '%s: no answer at all (silence instead of SERVFAIL)' % what)
        self.assertEqual(m.rcode_name, 'SERVFAIL', '%s: %r' % (what, m))
        self.assertEqual(m.answer, [], '%s: SERVFAIL with an answer' % what)
        self.assertTrue(m.ede, '%s: SERVFAIL without an Extended DNS Error: %r' % (what, m))

    def timed_query(self, d, name, qtype='A', tcp=False):
        t0 = time.monotonic()
        m = d.query(name, qtype, tcp=tcp, timeout=TIMEOUT_MS / 1000 + 5)
        return m, time.monotonic() - t0

    def test_wrong_ca_servfail(self):
        ca = self.ca
        wrong = ca.wrong(self.path('wrong-ca'))
        u = self.start_unbound(cert=wrong)       # serves a certificate of another CA
        d = self.start_daemon(u)                 # trusts only ca
        for name, tcp in [('allowed.test', False), ('check.test', True),
                          ('x1.bench.test', False)]:
            m, took = self.timed_query(d, name, tcp=tcp)
            self.assertServfailEde(m, 'wrong CA, %s' % name)
            self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)
        r = rig.dig(*d.addr, 'allowed.test', 'A')
        self.assertEqual(r.status, 'SERVFAIL', repr(r))
        self.assertTrue(r.ede, 'dig shows no EDE: %r' % r)
        stats, ups = d.statistics()
        self.assertGreaterEqual(int(stats.get('upstream_errors', 0)), 1, stats)
        self.assertGreaterEqual(int(stats.get('servfail', 0)), 3, stats)

    def test_upstream_killed_servfail_within_timeout(self):
        u = self.start_unbound()
        d = self.start_daemon(u, timeout_ms=TIMEOUT_MS)
        self.assertAnswered(d.query('allowed.test', 'A'), 'NOERROR')
        u.kill()
        for i, tcp in enumerate((False, True, False)):
            m, took = self.timed_query(d, 'gone%d.bench.test' % i, tcp=tcp)
            self.assertServfailEde(m, 'upstream killed (tcp=%s)' % tcp)
            self.assertLess(took, TIMEOUT_MS / 1000 + SLACK,
                            'SERVFAIL after %.2fs, timeout-ms=%d' % (took, TIMEOUT_MS))
        self.assertTrue(d.alive())

    def test_upstream_paused_servfail_within_timeout(self):
        u = self.start_unbound()
        d = self.start_daemon(u, timeout_ms=TIMEOUT_MS)
        self.assertAnswered(d.query('allowed.test', 'A'), 'NOERROR')   # connection is up
        u.pause()
        self.addCleanup(u.resume)
        for i, tcp in enumerate((False, True)):
            m, took = self.timed_query(d, 'hung%d.bench.test' % i, tcp=tcp)
            self.assertServfailEde(m, 'upstream paused (tcp=%s)' % tcp)
            self.assertLess(took, TIMEOUT_MS / 1000 + SLACK,
                            'SERVFAIL after %.2fs, timeout-ms=%d' % (took, TIMEOUT_MS))
            self.assertGreater(took, TIMEOUT_MS / 1000 * 0.5,
                               'SERVFAIL after %.2fs: before the upstream could answer' % took)
        u.resume()
        # it comes back without a relay restart
        counter = iter(range(10000))

        def answers():
            m = d.query('back%d.bench.test' % next(counter), timeout=3)
            return m is not None and m.rcode_name == 'NOERROR'
        rig.wait_until(answers, 15, interval=0.2, what='answers after the upstream resumed')

    def test_paused_before_first_query(self):
        u = self.start_unbound()
        d = self.start_daemon(u, timeout_ms=TIMEOUT_MS)   # ready check already talked to it
        u.pause()
        self.addCleanup(u.resume)
        m, took = self.timed_query(d, 'first.bench.test')
        self.assertServfailEde(m, 'paused upstream')
        self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)

    def _which(self, d):
        m = d.query('which.test', 'TXT', timeout=TIMEOUT_MS / 1000 + 5)
        if m is None or m.rcode_name != 'NOERROR':
            return m and m.rcode_name
        return m.values('TXT')[0][0]

    def test_failover_and_back(self):
        one = self.start_unbound('one')
        two = self.start_unbound('two')
        d = self.start_daemon([one, two], cache_size=0, timeout_ms=TIMEOUT_MS)
        self.assertEqual(self._which(d), 'one')
        self.assertEqual(self._which(d), 'one')
        one.kill()
        t0 = time.monotonic()
        first = self._which(d)
        took = time.monotonic() - t0
        self.assertEqual(first, 'two', 'first query after the primary died')
        self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)
        for _ in range(5):
            self.assertEqual(self._which(d), 'two')
        stats, ups = d.statistics()
        by_index = {u['index']: u for u in ups}
        self.assertIn(0, by_index, ups)
        self.assertEqual(by_index[0].get('healthy'), 'no', ups)
        self.assertEqual(by_index[1].get('healthy'), 'yes', ups)
        # restart the primary on the same port: traffic returns after its back-off
        one.start()
        t0 = time.monotonic()
        rig.wait_until(lambda: self._which(d) == 'one', 10, interval=0.2,
                       what='answers from the restarted primary')
        for _ in range(5):
            self.assertEqual(self._which(d), 'one')
        self.assertTrue(d.alive())

    def test_failover_primary_paused(self):
        one = self.start_unbound('one')
        two = self.start_unbound('two')
        d = self.start_daemon([one, two], cache_size=0, timeout_ms=TIMEOUT_MS)
        self.assertEqual(self._which(d), 'one')
        one.pause()
        self.addCleanup(one.resume)
        # within one query timeout: an answer from two (or at worst SERVFAIL for the first)
        t0 = time.monotonic()
        m = d.query('which.test', 'TXT', timeout=TIMEOUT_MS / 1000 + 5)
        took = time.monotonic() - t0
        self.assertIsNotNone(m, 'no answer with a hung primary')
        self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)
        rig.wait_until(lambda: self._which(d) == 'two', 10, interval=0.1,
                       what='failover to the second upstream')

    def test_all_upstreams_down(self):
        one = self.start_unbound('one')
        two = self.start_unbound('two')
        d = self.start_daemon([one, two], cache_size=0, timeout_ms=TIMEOUT_MS)
        self.assertEqual(self._which(d), 'one')
        one.kill()
        two.kill()
        m, took = self.timed_query(d, 'which.test', 'TXT')
        self.assertServfailEde(m, 'both upstreams down')
        self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)

    def test_cached_answer_with_upstream_gone(self):
        u = self.start_unbound()
        d = self.start_daemon(u)
        first = d.query('allowed.test', 'A')
        self.assertAnswered(first, 'NOERROR')
        ttl0 = first.answer[0].ttl
        u.kill()
        second = d.query('allowed.test', 'A')
        self.assertSameAnswer(second, first, 'cached answer, upstream gone')
        for r in second.answer:
            self.assertLessEqual(r.ttl, ttl0)
        self.assertEqual(sorted(second.values('A')), sorted(rig.ALLOWED_A))
        third = d.query('allowed.test', 'A', tcp=True)
        self.assertSameAnswer(third, first, 'cached answer over TCP')
        # a name that was never asked still fails properly
        self.assertServfailEde(d.query('never.bench.test', timeout=5), 'uncached name')

    def test_negative_answer_cached(self):
        u = self.start_unbound()
        d = self.start_daemon(u)
        first = d.query('blocked.example', 'A')
        self.assertAnswered(first, 'NXDOMAIN')
        u.kill()
        second = d.query('blocked.example', 'A')
        self.assertAnswered(second, 'NXDOMAIN', 'negative answer from the cache')

    def test_http_404_servfail(self):
        u = self.start_unbound()
        cfg_url = 'https://doh.test:%d/wrong' % u.doh_port
        d = self.make_daemon(u)
        d.config['service']['url'] = cfg_url
        d.spawn()
        d.wait_ready()
        m, took = self.timed_query(d, 'allowed.test')
        self.assertServfailEde(m, 'HTTP 404 from the upstream')
        self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)

    def test_connection_refused_port(self):
        u = self.start_unbound()
        dead = rig.free_port(('127.0.0.1',))
        d = self.make_daemon(u)
        d.config['service']['url'] = 'https://doh.test:%d/dns-query' % dead
        d.spawn()
        d.wait_ready()
        m, took = self.timed_query(d, 'allowed.test')
        self.assertServfailEde(m, 'nothing listening upstream')
        self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)

    def test_statistics(self):
        u = self.start_unbound()
        d = self.start_daemon(u)
        before, _ = d.statistics()
        n = 20
        for i in range(n):
            self.assertAnswered(d.query('allowed.test' if i % 2 else 's%d.bench.test' % i))
        stats, ups = d.statistics()
        for key in ('queries', 'cache_hits', 'servfail', 'refused', 'malformed',
                    'inflight_overflow', 'upstream_errors', 'latency_p50_us', 'latency_p99_us'):
            self.assertIn(key, stats, 'statistics line lacks %s: %r' % (key, stats))
            self.assertRegex(stats[key], r'^\d+$', key)
        self.assertGreaterEqual(int(stats['queries']) - int(before['queries']), n, stats)
        self.assertGreaterEqual(int(stats['cache_hits']), n // 2 - 1, stats)
        self.assertEqual(int(stats['servfail']), 0, stats)
        self.assertEqual(int(stats['upstream_errors']), 0, stats)
        self.assertLessEqual(int(stats['latency_p50_us']), int(stats['latency_p99_us']), stats)
        self.assertGreater(int(stats['latency_p99_us']), 0, stats)
        self.assertEqual(len(ups), 1, ups)
        self.assertEqual(ups[0]['url'], u.url, ups)
        self.assertEqual(ups[0]['healthy'], 'yes', ups)
        self.assertGreaterEqual(int(ups[0]['queries']), n // 2, ups)
        self.assertEqual(int(ups[0]['errors']), 0, ups)
        self.assertTrue(d.alive())

    def test_statistics_after_failures(self):
        u = self.start_unbound()
        d = self.start_daemon(u, timeout_ms=TIMEOUT_MS)
        self.assertAnswered(d.query('allowed.test'))
        u.kill()
        for i in range(3):
            self.assertServfailEde(d.query('f%d.bench.test' % i, timeout=5), 'killed')
        stats, ups = d.statistics()
        self.assertGreaterEqual(int(stats['servfail']), 3, stats)
        self.assertGreaterEqual(int(stats['upstream_errors']), 1, stats)
        self.assertEqual(ups[0]['healthy'], 'no', ups)
        self.assertGreaterEqual(int(ups[0]['errors']), 1, ups)

    def test_sighup_reload_keeps_serving(self):
        u = self.start_unbound()
        d = self.start_daemon(u)
        self.assertAnswered(d.query('allowed.test'))
        start = len(d.log())
        d.signal(signal.SIGHUP)
        # serving continues through the reload
        for i in range(10):
            self.assertAnswered(d.query('h%d.bench.test' % i), 'NOERROR', 'after SIGHUP')
        self.assertTrue(d.alive())
        # an invalid file is refused and the running configuration stays
        d.config['relay']['acl'] = 'not-a-cidr'
        d.write_config()
        d.signal(signal.SIGHUP)
        d.wait_log(r'not-a-cidr', 5, start)
        self.assertAnswered(d.query('allowed.test'), 'NOERROR', 'after a bad reload')
        self.assertTrue(d.alive())


    def test_single_upstream_comes_back(self):
        u = self.start_unbound()
        d = self.start_daemon(u, cache_size=0, timeout_ms=TIMEOUT_MS)
        self.assertAnswered(d.query('allowed.test'))
        u.kill()
        for i in range(3):
            self.assertServfailEde(d.query('down%d.bench.test' % i, timeout=5), 'down')
        u.start()
        counter = iter(range(10000))

        def answers():
            m = d.query('up%d.bench.test' % next(counter), timeout=3)
            return m is not None and m.rcode_name == 'NOERROR'
        t0 = time.monotonic()
        rig.wait_until(answers, 10, interval=0.2, what='answers after the upstream restarted')
        self.assertLess(time.monotonic() - t0, 10)
        stats, ups = d.statistics()
        self.assertEqual(ups[0]['healthy'], 'yes', ups)

    def test_ttl_honoured(self):
        u = self.start_unbound(extra_zone_lines=['local-data: "flip.test. 2 IN A 192.0.2.1"'])
        d = self.start_daemon(u)
        m = d.query('flip.test')
        self.assertEqual(m.values('A'), ['192.0.2.1'])
        t_first = time.monotonic()
        u.stop()
        u.extra = ['local-data: "flip.test. 2 IN A 192.0.2.2"']
        u.start()
        # within the TTL: the cached answer
        if time.monotonic() - t_first < 1.5:
            self.assertEqual(d.query('flip.test').values('A'), ['192.0.2.1'])
        # after it: the new data, fetched again (not served stale while the upstream is up)
        rig.wait_until(lambda: d.query('flip.test').values('A') == ['192.0.2.2'], 6,
                       interval=0.2, what='the new answer after the 2 s TTL expired')
        self.assertLess(time.monotonic() - t_first, 5.0)

    def test_serve_stale_when_upstream_down(self):
        u = self.start_unbound(extra_zone_lines=['local-data: "stale.test. 1 IN A 192.0.2.77"'])
        d = self.start_daemon(u, timeout_ms=TIMEOUT_MS)
        self.assertEqual(d.query('stale.test').values('A'), ['192.0.2.77'])
        t_first = time.monotonic()
        u.kill()
        # let the 1 s TTL run out (the passing of time is what is tested)
        time.sleep(max(0, 1.5 - (time.monotonic() - t_first)))
        m, took = self.timed_query(d, 'stale.test')
        self.assertIsNotNone(m, 'no answer for an expired entry with the upstream down')
        self.assertEqual(m.rcode_name, 'NOERROR', 'expected a stale answer: %r' % m)
        self.assertEqual(m.values('A'), ['192.0.2.77'])
        self.assertLessEqual(m.answer[0].ttl, 30, 'stale TTL above 30 s')
        self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)

    def test_check_domain_never_from_cache(self):
        # check-domain proves "the service answers" (--action=check): a cached answer,
        # fresh or stale, would prove it during an outage. Other names keep the cache.
        u = self.start_unbound(extra_zone_lines=['local-data: "stale.test. 1 IN A 192.0.2.77"'])
        d = self.start_daemon(u, timeout_ms=TIMEOUT_MS)
        self.assertEqual(d.query('CHECK.test').values('A'), [rig.CHECK_A])
        self.assertEqual(d.query('stale.test').values('A'), ['192.0.2.77'])
        u.kill()
        for name in ('check.test', 'Check.Test'):
            m, took = self.timed_query(d, name)
            self.assertIsNotNone(m, 'no answer for %s with the service down' % name)
            self.assertEqual(m.rcode_name, 'SERVFAIL',
                             '%s answered from the cache while the service is down: %r'
                             % (name, m))
            self.assertLess(took, TIMEOUT_MS / 1000 + SLACK)
        time.sleep(1.2)   # stale.test's 1 s TTL runs out: it is served stale
        self.assertEqual(d.query('stale.test').values('A'), ['192.0.2.77'])
        self.assertEqual(d.query('check.test').rcode_name, 'SERVFAIL', 'stale check-domain')

    def test_max_inflight_overflow(self):
        u = self.start_unbound()
        d = self.start_daemon(u, max_inflight=5, timeout_ms=TIMEOUT_MS)
        self.assertAnswered(d.query('allowed.test'))
        u.pause()
        self.addCleanup(u.resume)
        host, port = d.addr
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        n = 30
        t0 = time.monotonic()
        for i in range(n):
            s.sendto(rig.build_query('of%d.bench.test' % i, 'A', qid=i), (host, port))
        got = {}
        while len(got) < n and time.monotonic() - t0 < TIMEOUT_MS / 1000 + 3:
            s.settimeout(0.2)
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                continue
            m = rig.Message(data)
            got[m.id] = (m, time.monotonic() - t0)
        self.assertEqual(len(got), n, 'some queries got no answer at all (silence)')
        for qid, (m, took) in got.items():
            self.assertEqual(m.rcode_name, 'SERVFAIL', repr(m))
            self.assertLess(took, TIMEOUT_MS / 1000 + SLACK + 0.5)
        fast = [qid for qid, (m, took) in got.items() if took < 0.5]
        self.assertGreaterEqual(len(fast), n - 5 - 2,
                                'queries beyond max-inflight=5 were not refused at once')
        u.resume()
        stats, _ = d.statistics()
        self.assertGreaterEqual(int(stats['inflight_overflow']), n - 5 - 2, stats)

    def test_sighup_changes_listen(self):
        u = self.start_unbound()
        d = self.start_daemon(u)
        old_host, old_port = d.addr
        new_port = rig.free_port()
        d.config['relay']['listen'] = ['127.0.0.1:%d' % new_port]
        d.write_config()
        d.signal(signal.SIGHUP)
        rig.wait_until(lambda: rig.udp_query('127.0.0.1', new_port, 'check.test', timeout=0.3),
                       5, what='the relay on the new listen port after SIGHUP')
        m = rig.tcp_query('127.0.0.1', new_port, 'allowed.test')
        self.assertAnswered(m, 'NOERROR', 'TCP on the new port')
        rig.wait_until(lambda: rig.udp_query(old_host, old_port, 'check.test', timeout=0.3) is None,
                       5, what='the old listen port to close')
        self.assertTrue(d.alive())

if __name__ == '__main__':
    unittest.main()
