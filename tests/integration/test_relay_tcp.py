#!/usr/bin/python3
"""Truncation for UDP clients and the TCP listener (RFC 7766): pipelining, limits, abuse."""

import select
import socket
import struct
import time
import unittest

import rig
from rig import RigTestCase


class TestRelayTcp(RigTestCase):

    def setUp(self):
        super().setUp()
        self.unbound = self.start_unbound()

    def _alive_and_answering(self, d, what=''):
        self.assertTrue(d.alive(), 'daemon died ' + what)
        m = d.query('allowed.test', 'A', timeout=2)
        self.assertAnswered(m, 'NOERROR', 'after ' + what)

    # --- truncation -------------------------------------------------------

    def test_large_answer_udp_truncated_raw(self):
        d = self.start_daemon(self.unbound)
        host, port = d.addr
        for what, kw in [('no EDNS', dict(edns=False)),
                         ('EDNS 512', dict(udp_size=512)),
                         ('EDNS 1232', dict(udp_size=1232))]:
            raw = rig.udp_exchange(host, port, rig.build_query('big.test', 'TXT', **kw),
                                   parse=False)
            self.assertIsNotNone(raw, what)
            limit = 512 if what != 'EDNS 1232' else 1232
            self.assertLessEqual(len(raw), limit, '%s: %d-byte UDP answer' % (what, len(raw)))
            m = rig.Message(raw)
            self.assertEqual(m.rcode_name, 'NOERROR', what)
            self.assertTrue(m.tc, '%s: TC not set: %r' % (what, m))
            if kw.get('edns', True):
                self.assertIsNotNone(m.opt, '%s: OPT not kept in the truncated answer' % what)
            else:
                self.assertIsNone(m.opt, '%s: OPT added to an answer for a non-EDNS query' % what)

    def test_large_answer_dig_ignore_and_tcp(self):
        d = self.start_daemon(self.unbound)
        host, port = d.addr
        r = rig.dig(host, port, 'big.test', 'TXT', '+ignore', '+bufsize=512')
        self.assertEqual(r.returncode, 0, repr(r))
        self.assertEqual(r.status, 'NOERROR', repr(r))
        self.assertIn('tc', r.flags, repr(r))
        r = rig.dig(host, port, 'big.test', 'TXT', '+ignore', '+noedns')
        self.assertIn('tc', r.flags, repr(r))
        # without +ignore dig retries over TCP and gets all 60 records
        r = rig.dig(host, port, 'big.test', 'TXT', '+bufsize=512')
        self.assertEqual(r.status, 'NOERROR', repr(r))
        self.assertNotIn('tc', r.flags, repr(r))
        self.assertEqual(len(r.rdata('TXT')), 60, repr(r))
        r = rig.kdig(host, port, 'big.test', 'TXT', '+tcp')
        self.assertEqual(len(r.rdata('TXT')), 60, repr(r))
        ref = rig.kdig('127.0.0.1', self.unbound.plain_port, 'big.test', 'TXT', '+tcp')
        self.assertEqual(r.rrset(), ref.rrset())

    def test_large_answer_tcp_whole(self):
        d = self.start_daemon(self.unbound)
        m = d.query('big.test', 'TXT', tcp=True)
        self.assertAnswered(m, 'NOERROR', 'big.test over TCP')
        self.assertFalse(m.tc)
        self.assertEqual(len(m.answer), 60)
        self.assertSameAnswer(m, self.unbound.query('big.test', 'TXT', tcp=True))

    def test_small_answer_not_truncated(self):
        d = self.start_daemon(self.unbound)
        m = d.query('allowed.test', 'TXT', edns=False)
        self.assertAnswered(m)
        self.assertFalse(m.tc)

    # --- pipelining -------------------------------------------------------

    def test_pipelined_100_queries_one_send(self):
        d = self.start_daemon(self.unbound)
        host, port = d.addr
        s = rig.tcp_connect(host, port, timeout=10)
        self.addCleanup(s.close)
        expect = {}
        buf = b''
        for i in range(100):
            qid = 1000 + i
            name = 'p%d.bench.test' % i if i % 2 else 'allowed.test'
            expect[qid] = name + '.'
            buf += rig.tcp_frame(rig.build_query(name, 'A', qid=qid))
        s.sendall(buf)
        got = {}
        deadline = time.monotonic() + 15
        while len(got) < 100 and time.monotonic() < deadline:
            m = rig.tcp_recv_msg(s)
            self.assertNotIn(m.id, got, 'duplicate answer for ID %d' % m.id)
            got[m.id] = m
        self.assertEqual(sorted(got), sorted(expect), 'missing answers')
        for qid, m in got.items():
            self.assertEqual(m.rcode_name, 'NOERROR', repr(m))
            self.assertEqual(m.questions[0][0].lower(), expect[qid], 'answer/ID mismatch')
            want = rig.BENCH_A if 'bench' in expect[qid] else rig.ALLOWED_A[0]
            self.assertIn(want, m.values('A'))

    # --- idle / slow clients ------------------------------------------------

    def test_idle_connection_closed(self):
        d = self.start_daemon(self.unbound, tcp_idle_timeout_ms=1000)
        host, port = d.addr
        s = rig.tcp_connect(host, port)
        self.addCleanup(s.close)
        s.sendall(rig.tcp_frame(rig.build_query('allowed.test', 'A', qid=7)))
        self.assertEqual(rig.tcp_recv_msg(s).id, 7)
        t0 = time.monotonic()
        self.assertTrue(rig.connection_closed(s, 5), 'idle connection not closed within 5 s')
        took = time.monotonic() - t0
        self.assertGreater(took, 0.5, 'closed after %.2fs, before the idle timeout' % took)
        self.assertLess(took, 3.0, 'closed after %.2fs (tcp-idle-timeout-ms=1000)' % took)
        self._alive_and_answering(d, 'idle close')

    def test_idle_connection_without_query_closed(self):
        d = self.start_daemon(self.unbound, tcp_idle_timeout_ms=1000)
        s = rig.tcp_connect(*d.addr)
        self.addCleanup(s.close)
        self.assertTrue(rig.connection_closed(s, 5), 'silent connection not closed within 5 s')

    def test_slow_loris(self):
        d = self.start_daemon(self.unbound, tcp_idle_timeout_ms=1000)
        host, port = d.addr
        loris = []
        for _ in range(5):
            s = rig.tcp_connect(host, port)
            self.addCleanup(s.close)
            s.sendall(b'\xff\xff')          # length 65535, then nothing
            loris.append(s)
        partial = rig.tcp_connect(host, port)
        self.addCleanup(partial.close)
        partial.sendall(b'\xff\xff' + b'\x00' * 100)   # and some bytes of it
        # others keep getting answers meanwhile, over UDP and TCP
        for i in range(10):
            t0 = time.monotonic()
            m = d.query('allowed.test', 'A', tcp=bool(i % 2), timeout=2)
            self.assertAnswered(m, 'NOERROR', 'while slow clients hold connections')
            self.assertLess(time.monotonic() - t0, 1.0)
        for s in loris + [partial]:
            self.assertTrue(rig.connection_closed(s, 5),
                            'slow-loris connection not closed within 5 s')
        self._alive_and_answering(d, 'slow loris')

    # --- connection limit ---------------------------------------------------

    def test_max_clients(self):
        d = self.start_daemon(self.unbound, tcp_max_clients=4)
        host, port = d.addr
        held = []
        for i in range(4):
            # four addresses: one address alone may hold only its share (per-peer cap)
            s = rig.tcp_connect(host, port, source='127.0.0.%d' % (i + 1))
            self.addCleanup(s.close)
            s.sendall(rig.tcp_frame(rig.build_query('allowed.test', 'A', qid=i)))
            self.assertEqual(rig.tcp_recv_msg(s).id, i, 'connection %d not served' % i)
            held.append(s)
        # the 5th is refused or closed while 4 are open
        fifth_refused = False
        try:
            s5 = rig.tcp_connect(host, port, timeout=2)
        except (ConnectionRefusedError, ConnectionResetError, socket.timeout):
            fifth_refused = True
        if not fifth_refused:
            self.addCleanup(s5.close)
            try:
                s5.sendall(rig.tcp_frame(rig.build_query('allowed.test', 'A', qid=5)))
            except (BrokenPipeError, ConnectionResetError):
                pass
            s5.settimeout(3)
            answered = False
            try:
                answered = bool(rig.tcp_recv_msg(s5, parse=False))
            except (EOFError, ConnectionResetError):
                pass
            except socket.timeout:
                self.fail('5th connection (tcp-max-clients=4) neither answered nor closed '
                          'within 3 s: it hangs')
            self.assertFalse(answered, '5th connection served although tcp-max-clients=4')
        # the held connections still work
        for i, s in enumerate(held):
            s.sendall(rig.tcp_frame(rig.build_query('allowed.test', 'A', qid=100 + i)))
            self.assertEqual(rig.tcp_recv_msg(s).id, 100 + i)
        for s in held:
            s.close()
        # new connections work once they are gone: 4 at a time again
        def four_served():
            conns = []
            try:
                for i in range(4):
                    conns.append(rig.tcp_connect(host, port, timeout=1))
                for i, s in enumerate(conns):
                    s.sendall(rig.tcp_frame(rig.build_query('allowed.test', 'A', qid=200 + i)))
                    if rig.tcp_recv_msg(s).id != 200 + i:
                        return False
                return True
            except (OSError, EOFError):
                return False
            finally:
                for s in conns:
                    s.close()
        rig.wait_until(four_served, 5, interval=0.1,
                       what='4 new TCP connections served after the old ones closed')
        # UDP is not affected by the TCP limit
        self.assertAnswered(d.query('check.test', 'A'))

    # --- a client that never reads -----------------------------------------

    def test_client_never_reads(self):
        d = self.start_daemon(self.unbound)
        host, port = d.addr
        bad = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        bad.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        bad.connect((host, port))
        self.addCleanup(bad.close)
        bad.setblocking(False)
        # ~4 KB answers; write until our own send buffer is full or 3000 queries are out
        frame = rig.tcp_frame(rig.build_query('big.test', 'TXT', qid=1))
        sent = 0
        t_end = time.monotonic() + 5
        while sent < 3000 and time.monotonic() < t_end:
            try:
                bad.send(frame)
                sent += 1
            except BlockingIOError:
                select.select([], [bad], [], 0.2)
            except (BrokenPipeError, ConnectionResetError):
                break    # the relay gave up on us: fine
        self.assertGreaterEqual(sent, 100, 'could not even send 100 queries')
        # others are served promptly all along
        for i in range(20):
            t0 = time.monotonic()
            m = d.query('allowed.test' if i % 2 else 'r%d.bench.test' % i, 'A',
                        tcp=bool(i % 3), timeout=2)
            self.assertAnswered(m, 'NOERROR', 'while a client does not read (%d sent)' % sent)
            self.assertLess(time.monotonic() - t0, 1.0)
        m = d.query('big.test', 'TXT', tcp=True, timeout=3)
        self.assertEqual(len(m.answer), 60)
        self._alive_and_answering(d, 'non-reading client')

    def test_many_sequential_connections(self):
        d = self.start_daemon(self.unbound, tcp_max_clients=8)
        host, port = d.addr
        for i in range(200):
            m = rig.tcp_query(host, port, 'allowed.test', 'A', qid=i, timeout=2)
            self.assertEqual(m.id, i)
        self._alive_and_answering(d, '200 connections')

    def test_query_split_across_writes(self):
        d = self.start_daemon(self.unbound)
        s = rig.tcp_connect(*d.addr)
        self.addCleanup(s.close)
        data = rig.tcp_frame(rig.build_query('allowed.test', 'A', qid=4242))
        for b in data:
            s.send(bytes([b]))
            time.sleep(0.002)
        self.assertEqual(rig.tcp_recv_msg(s).id, 4242)


    def test_pending_query_outlives_idle_timeout(self):
        # idle means nothing pending: a query waiting on a hung upstream still gets its answer
        d = self.start_daemon(self.unbound, tcp_idle_timeout_ms=1000, timeout_ms=1800)
        self.assertAnswered(d.query('allowed.test'))
        self.unbound.pause()
        self.addCleanup(self.unbound.resume)
        s = rig.tcp_connect(*d.addr, timeout=5)
        self.addCleanup(s.close)
        s.sendall(rig.tcp_frame(rig.build_query('pending.bench.test', 'A', qid=99)))
        try:
            m = rig.tcp_recv_msg(s)
        except (EOFError, ConnectionResetError):
            self.fail('connection closed by the idle timer while a query was pending')
        self.assertEqual(m.id, 99)
        self.assertEqual(m.rcode_name, 'SERVFAIL')

    def test_client_gone_before_answer(self):
        # answers that arrive for connections already closed (or reset) must be dropped safely
        d = self.start_daemon(self.unbound, timeout_ms=1500)
        host, port = d.addr
        self.assertAnswered(d.query('allowed.test'))
        self.unbound.pause()
        for i in range(10):
            s = rig.tcp_connect(host, port)
            s.sendall(b''.join(rig.tcp_frame(rig.build_query('gone%d-%d.bench.test' % (i, j)))
                               for j in range(5)))
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()
        d.wait_stat('inflight', lambda n: n > 0)
        self.unbound.resume()                       # late answers for dead connections
        d.wait_stat('inflight', lambda n: n == 0)
        self.unbound.pause()
        for i in range(10):
            s = rig.tcp_connect(host, port)
            s.sendall(rig.tcp_frame(rig.build_query('late%d.bench.test' % i)))
            s.close()
        d.wait_stat('inflight', lambda n: n > 0)
        d.wait_stat('inflight', lambda n: n == 0)   # they time out for dead connections
        self.unbound.resume()
        self._alive_and_answering(d, 'clients gone before their answers')

if __name__ == '__main__':
    unittest.main()
