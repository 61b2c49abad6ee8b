#!/usr/bin/python3
"""A hostile or broken DoH upstream (hostile_doh.py, HTTP/2 in-process) never crashes or
hangs the relay: every failure is a SERVFAIL with an Extended DNS Error within timeout-ms,
counted in upstream_errors, and the relay answers again once the upstream behaves.
The relay never passes a bad answer on.

Names are unique per query (x<N>.bench.test) so that the cache and serve-stale never
stand in for the upstream."""

import itertools
import socket
import sys
import time
import unittest

import rig
from rig import RigTestCase
from hostile_doh import HostileDoH

TIMEOUT_MS = 1000
TIMEOUT = TIMEOUT_MS / 1000
SLACK = 0.5          # seconds allowed beyond timeout-ms for one query
BURST_SLACK = 1.5    # the same for a burst of 200 on 2 shared cores
RSS_LIMIT_KB = 60 * 1024

EDE_NO_REACHABLE_AUTHORITY = 22
EDE_NETWORK_ERROR = 23

# mode -> the EDE info code its SERVFAIL must carry
FAILING_MODES = {
    'status500': EDE_NETWORK_ERROR,
    'status404': EDE_NETWORK_ERROR,
    'status429': EDE_NETWORK_ERROR,
    'wrong-content-type': EDE_NETWORK_ERROR,
    'no-content-type': EDE_NETWORK_ERROR,
    'garbage': EDE_NETWORK_ERROR,
    'empty': EDE_NETWORK_ERROR,
    'short': EDE_NETWORK_ERROR,
    'mismatched-question': EDE_NETWORK_ERROR,
    'echo-query': EDE_NETWORK_ERROR,
    'huge': EDE_NETWORK_ERROR,
    'hang': EDE_NO_REACHABLE_AUTHORITY,
    'slow-headers': EDE_NO_REACHABLE_AUTHORITY,
    'reset': EDE_NETWORK_ERROR,
    'goaway': EDE_NETWORK_ERROR,
    'close': EDE_NETWORK_ERROR,
}
SLOW_MODES = ('hang', 'slow-headers')   # fail by the timeout, not at once

_names = itertools.count()


def note(text):
    """A measurement for the log (stderr; run.py's TAP stays clean)."""
    sys.stderr.write('# %s\n' % text)


def fresh(prefix='x'):
    """A name nobody asked before: bench.test answers every name under it."""
    return '%s%d.bench.test' % (prefix, next(_names))


class TestRelayHostile(RigTestCase):

    # -- rig ------------------------------------------------------------------

    def start_hostile(self, backend, mode='ok', **kw):
        h = HostileDoH(self.ca, backend.plain_port, mode=mode, **kw).start()
        self.addCleanup(h.stop)
        return h

    def start_relay(self, mode='ok', tag='', **overrides):
        """unbound (the real data), the hostile server in front of it, the relay on it."""
        u = self.start_unbound('one' + tag)
        h = self.start_hostile(u)
        overrides.setdefault('timeout_ms', TIMEOUT_MS)
        d = self.start_daemon([h], name='ddrd' + tag, **overrides)
        self.assertOk(d, 'before the upstream turns hostile')
        h.set_mode(mode)
        return u, h, d

    def timed(self, d, name, qtype='A', tcp=False):
        t0 = time.monotonic()
        m = d.query(name, qtype, tcp=tcp, timeout=TIMEOUT + 5)
        return m, time.monotonic() - t0

    def stat(self, d, key):
        stats, _ = d.statistics()
        self.assertIn(key, stats, 'statistics line lacks %s: %r' % (key, stats))
        return int(stats[key])

    def rss_kb(self, d):
        with open('/proc/%d/status' % d.pid()) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        raise AssertionError('no VmRSS for the daemon')

    # -- assertions -------------------------------------------------------------

    def assertOk(self, d, what, tcp=False):
        name = fresh('ok')
        m = d.query(name, 'A', tcp=tcp, timeout=TIMEOUT + 5)
        self.assertAnswered(m, 'NOERROR', '%s (%s)' % (what, name))
        self.assertEqual(m.values('A'), [rig.BENCH_A], '%s: %r' % (what, m))
        self.assertFalse(m.tc, '%s: %r' % (what, m))
        return m

    def assertServfailEde(self, m, what, ede=None):
        self.assertIsNotNone(m, '%s: no answer at all (silence instead of SERVFAIL)' % what)
        self.assertEqual(m.rcode_name, 'SERVFAIL', '%s: a bad upstream answer passed on: %r'
                         % (what, m))
        self.assertEqual(m.answer, [], '%s: SERVFAIL with an answer: %r' % (what, m))
        self.assertTrue(m.ede, '%s: SERVFAIL without an Extended DNS Error: %r' % (what, m))
        if ede is not None:
            self.assertIn(ede, [c for c, _ in m.ede], '%s: EDE %r' % (what, m.ede))

    def wait_recovered(self, d, h, what):
        """Mode ok again: the relay answers (after its 1 s back-off at most), polled."""
        h.set_mode('ok')
        t0 = time.monotonic()

        def answers():
            m = d.query(fresh('back'), timeout=TIMEOUT + 1)
            return m is not None and m.rcode_name == 'NOERROR' and m.values('A') == [rig.BENCH_A]
        rig.wait_until(answers, 15, interval=0.1, what='answers again after %s' % what)
        self.assertTrue(d.alive(), 'daemon died after %s' % what)
        self.assertOk(d, 'after %s' % what)
        self.assertOk(d, 'after %s (TCP)' % what, tcp=True)
        return time.monotonic() - t0

    # -- one test per hostile mode ---------------------------------------------

    def check_failing_mode(self, mode, ede, tag='', **overrides):
        u, h, d = self.start_relay(mode, tag, **overrides)
        errors0 = self.stat(d, 'upstream_errors')
        servfail0 = self.stat(d, 'servfail')
        n = 0
        conns0 = h.connections
        times = []
        for tcp in (False, True, False):
            name = fresh(mode.replace('-', ''))
            m, took = self.timed(d, name, tcp=tcp)
            n += 1
            times.append(round(took, 3))
            what = '%s upstream, %s %s' % (mode, 'TCP' if tcp else 'UDP', name)
            self.assertServfailEde(m, what, ede)
            self.assertLess(took, TIMEOUT + SLACK,
                            '%s: SERVFAIL after %.2fs, timeout-ms=%d' % (what, took, TIMEOUT_MS))
            if mode in SLOW_MODES:
                self.assertGreater(took, TIMEOUT * 0.5,
                                   '%s: SERVFAIL after %.2fs, before the upstream could answer'
                                   % (what, took))
        # dig shows the EDE too
        t0 = time.monotonic()
        r = rig.dig(*d.addr, fresh('dig'), 'A')
        took = time.monotonic() - t0
        n += 1
        self.assertEqual(r.status, 'SERVFAIL', repr(r))
        self.assertTrue(r.ede, 'dig shows no EDE: %r' % r)
        self.assertLess(took, TIMEOUT + SLACK + 0.5, 'dig took %.2fs' % took)
        # the queries really reached the hostile server in that mode
        self.assertGreaterEqual(h.total(mode), 1, 'the hostile server saw no request: %r'
                                % h.requests)
        self.assertTrue(d.alive(), 'daemon died in %s mode' % mode)
        errors = self.stat(d, 'upstream_errors') - errors0
        self.assertGreaterEqual(errors, n, 'upstream_errors rose by %d for %d failed queries'
                                % (errors, n))
        self.assertGreaterEqual(self.stat(d, 'servfail') - servfail0, n)
        # no reconnect storm: a few connections per failed query at most (curl may retry
        # a refused stream once on a new connection)
        conns = h.connections - conns0
        self.assertLessEqual(conns, 4 * n, '%d new connections for %d queries' % (conns, n))
        note('%s: SERVFAIL after %s s, dig %.3f s, %d requests, %d new connections, '
             '%d stream resets, upstream_errors +%d'
             % (mode, times, took, h.total(mode), conns, h.resets, errors))
        took = self.wait_recovered(d, h, '%s mode' % mode)
        note('%s: answering again %.3f s after mode ok, %d stream resets' % (mode, took, h.resets))
        if mode in SLOW_MODES:
            # the relay gave up on each hung stream (RST_STREAM) rather than leaving it
            # open on the connection.  curl sends the last one with the connection's
            # next frames, so count after the recovery queries.
            rig.wait_until(lambda: h.resets >= n, 5, what='RST_STREAM for %d timed-out '
                           'queries (got %d)' % (n, h.resets))
        return u, h, d

    # wrong-id: RFC 8484 §4.1 has the client send ID 0 and the relay put the client's ID
    # back on whatever comes: an answer with ID 0x1234 for the right question is a good
    # answer, and the client must see its own ID on it.
    def test_mode_ok(self):
        u, h, d = self.start_relay('ok')
        for tcp in (False, True):
            self.assertOk(d, 'ok mode', tcp=tcp)
        m = d.query('allowed.test', 'A')
        self.assertSameAnswer(m, u.query('allowed.test', 'A'), 'ok mode, allowed.test')
        self.assertGreaterEqual(h.total('ok'), 3, h.requests)
        self.assertEqual(self.stat(d, 'upstream_errors'), 0)

    def test_mode_wrong_id_answered(self):
        u, h, d = self.start_relay('wrong-id')
        errors0 = self.stat(d, 'upstream_errors')
        for tcp in (False, True):
            qid = 0x4321
            name = fresh('wid')
            q = rig.build_query(name, 'A', qid=qid)
            host, port = d.addr
            m = (rig.tcp_exchange if tcp else rig.udp_exchange)(host, port, q, timeout=TIMEOUT + 5)
            self.assertAnswered(m, 'NOERROR', 'wrong-id (tcp=%s)' % tcp)
            self.assertEqual(m.id, qid, 'the client did not get its own ID back: %r' % m)
            self.assertEqual(m.values('A'), [rig.BENCH_A], repr(m))
            self.assertEqual(m.questions[0][0].lower(), name + '.', repr(m))
        self.assertGreaterEqual(h.total('wrong-id'), 2, h.requests)
        self.assertEqual(self.stat(d, 'upstream_errors'), errors0)

    def test_mode_truncated_tc_not_cached(self):
        u, h, d = self.start_relay('truncated-tc')
        name = fresh('tc')
        for tcp in (False, True):
            m, took = self.timed(d, name, tcp=tcp)
            self.assertIsNotNone(m, 'no answer for a TC answer from the upstream')
            self.assertLess(took, TIMEOUT + SLACK)
            if m.rcode_name == 'SERVFAIL':
                self.assertServfailEde(m, 'TC answer (tcp=%s)' % tcp)
            else:
                # passed on: it must still say it is truncated
                self.assertTrue(m.tc, 'a TC answer lost its TC bit (tcp=%s): %r' % (tcp, m))
        before = h.total('truncated-tc')
        self.assertGreaterEqual(before, 1, h.requests)
        # not cached: with the upstream fine again, the same name is asked upstream and
        # comes back whole
        h.set_mode('ok')
        ok_before = h.total('ok')
        for tcp in (False, True):
            m = d.query(name, 'A', tcp=tcp, timeout=TIMEOUT + 5)
            self.assertAnswered(m, 'NOERROR', 'after TC, tcp=%s' % tcp)
            self.assertFalse(m.tc, 'the TC answer was cached (tcp=%s): %r' % (tcp, m))
            self.assertEqual(m.values('A'), [rig.BENCH_A])
        self.assertGreaterEqual(h.total('ok') - ok_before, 1,
                                'the name was not asked upstream again: a TC answer was cached')
        self.assertTrue(d.alive())

    def test_get_method(self):
        """The same failures with method=get (the query in ?dns=)."""
        for mode in ('garbage', 'status500', 'hang', 'mismatched-question'):
            with self.subTest(mode=mode):
                u, h, d = self.check_failing_mode(mode, FAILING_MODES[mode], tag='-' + mode,
                                                  method='get')
                self.assertGreaterEqual(h.total('ok'), 1)
                d.stop()
                h.stop()

    # -- two upstreams ------------------------------------------------------------

    def check_failover(self, mode):
        one = self.start_unbound('one')      # behind the hostile server
        two = self.start_unbound('two')      # the good second upstream
        h = self.start_hostile(one, mode=mode)
        d = self.start_daemon([h, two], cache_size=0, timeout_ms=TIMEOUT_MS)
        errors0 = self.stat(d, 'upstream_errors')
        for i in range(8):
            t0 = time.monotonic()
            m = d.query('which.test', 'TXT', tcp=bool(i % 2), timeout=TIMEOUT + 5)
            took = time.monotonic() - t0
            self.assertAnswered(m, 'NOERROR', '%s first upstream, query %d' % (mode, i))
            self.assertEqual(m.values('TXT'), [['two']],
                             'answer not from the second upstream (%s): %r' % (mode, m))
            self.assertLess(took, TIMEOUT + SLACK, 'query %d took %.2fs' % (i, took))
        self.assertGreaterEqual(h.total(mode), 1, 'hostile first upstream never asked: %r'
                                % h.requests)
        stats, ups = d.statistics()
        by_index = {u['index']: u for u in ups}
        self.assertEqual(by_index[0].get('healthy'), 'no', ups)
        self.assertEqual(by_index[1].get('healthy'), 'yes', ups)
        self.assertGreaterEqual(int(by_index[0].get('errors', 0)), 1, ups)
        # clients got answers, so no query failed as a whole
        self.assertEqual(int(stats['upstream_errors']), errors0, stats)
        # the first comes back once it behaves
        h.set_mode('ok')
        rig.wait_until(lambda: d.query('which.test', 'TXT', timeout=TIMEOUT + 2)
                       .values('TXT') == [['one']], 15, interval=0.1,
                       what='answers from the first upstream again')
        self.assertTrue(d.alive())

    def test_failover_from_garbage(self):
        self.check_failover('garbage')

    def test_failover_from_status500(self):
        self.check_failover('status500')

    def test_failover_from_hang(self):
        self.check_failover('hang')

    def test_failover_from_reset(self):
        self.check_failover('reset')

    # -- load ---------------------------------------------------------------------

    def test_burst_200_hang(self):
        u, h, d = self.start_relay('hang')
        errors0 = self.stat(d, 'upstream_errors')
        rss0 = self.rss_kb(d)
        host, port = d.addr
        n = 200
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
        for s in socks:
            self.addCleanup(s.close)
            s.bind(('127.0.0.1', 0))
            s.setblocking(False)
        want = {}
        t0 = time.monotonic()
        for i in range(n):
            s = socks[i % len(socks)]
            qid = i
            name = fresh('burst')
            want[(s.getsockname()[1], qid)] = name
            s.sendto(rig.build_query(name, 'A', qid=qid), (host, port))
        got = {}
        import selectors
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        self.addCleanup(sel.close)
        peak = rss0
        while len(got) < n and time.monotonic() - t0 < TIMEOUT + BURST_SLACK + 3:
            for key, _ in sel.select(0.05):
                while True:
                    try:
                        data, _ = key.fileobj.recvfrom(65535)
                    except BlockingIOError:
                        break
                    m = rig.Message(data)
                    k = (key.fileobj.getsockname()[1], m.id)
                    self.assertIn(k, want, 'answer for a query never sent: %r' % m)
                    self.assertNotIn(k, got, 'two answers for one query: %r' % m)
                    got[k] = (m, time.monotonic() - t0)
            peak = max(peak, self.rss_kb(d))
        lost = [want[k] for k in want if k not in got]
        self.assertEqual(lost, [], '%d of %d queries got no answer at all' % (len(lost), n))
        late = []
        for k, (m, took) in got.items():
            self.assertServfailEde(m, 'burst %s' % want[k])
            self.assertEqual(m.questions[0][0].lower(), want[k] + '.', repr(m))
            if took > TIMEOUT + BURST_SLACK:
                late.append((want[k], round(took, 2)))
        self.assertEqual(late, [], 'SERVFAILs later than timeout-ms + %.1fs' % BURST_SLACK)
        self.assertTrue(d.alive())
        peak = max(peak, self.rss_kb(d))
        self.assertLess(peak, RSS_LIMIT_KB, 'VmRSS %d kB (started at %d kB)' % (peak, rss0))
        note('burst of %d in hang mode: last SERVFAIL after %.3f s, VmRSS %d kB -> peak %d kB, '
             '%d connections, %d requests seen upstream'
             % (n, max(t for _, t in got.values()), rss0, peak, h.connections, h.total('hang')))
        errors = self.stat(d, 'upstream_errors') - errors0
        self.assertGreaterEqual(errors, n, 'upstream_errors rose by %d for %d SERVFAILs'
                                % (errors, n))
        self.assertEqual(self.stat(d, 'inflight'), 0, 'queries still in flight after the burst')
        self.wait_recovered(d, h, 'a burst of %d in hang mode' % n)
        self.assertLess(self.rss_kb(d), RSS_LIMIT_KB)

    def test_mode_cycle_under_load(self):
        """Every mode in turn with 20 concurrent queries each, on one relay process."""
        u, h, d = self.start_relay('ok')
        host, port = d.addr
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        qid = itertools.count(1)
        for mode in list(FAILING_MODES) + ['wrong-id', 'truncated-tc', 'ok']:
            h.set_mode(mode)
            want = {}
            for _ in range(20):
                i = next(qid)
                want[i] = fresh('cyc')
                s.sendto(rig.build_query(want[i], 'A', qid=i), (host, port))
            got = {}
            t0 = time.monotonic()
            while len(got) < len(want) and time.monotonic() - t0 < TIMEOUT + BURST_SLACK + 2:
                s.settimeout(0.1)
                try:
                    data, _ = s.recvfrom(65535)
                except socket.timeout:
                    continue
                m = rig.Message(data)
                if m.id in want:
                    got[m.id] = m
            self.assertEqual(len(got), len(want), '%s: %d of %d lost'
                             % (mode, len(want) - len(got), len(want)))
            for i, m in got.items():
                self.assertEqual(m.questions[0][0].lower(), want[i] + '.', repr(m))
                if m.rcode_name == 'NOERROR' and not m.tc:
                    self.assertIn(mode, ('ok', 'wrong-id'), '%s mode: an answer passed on: %r'
                                  % (mode, m))
                    self.assertEqual(m.values('A'), [rig.BENCH_A])
                elif mode == 'truncated-tc' and m.tc:
                    pass
                else:
                    self.assertServfailEde(m, '%s mode under load' % mode)
            self.assertTrue(d.alive(), 'daemon died in %s mode' % mode)
        self.wait_recovered(d, h, 'cycling through every mode')


def _make_mode_test(mode, ede):
    def test(self):
        self.check_failing_mode(mode, ede)
    test.__doc__ = 'hostile upstream mode %s: SERVFAIL + EDE %d in time, counted' % (mode, ede)
    return test


for _mode, _ede in FAILING_MODES.items():
    setattr(TestRelayHostile, 'test_mode_%s' % _mode.replace('-', '_'),
            _make_mode_test(_mode, _ede))


if __name__ == '__main__':
    unittest.main()
