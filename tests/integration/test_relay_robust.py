#!/usr/bin/python3
"""Robustness: malformed UDP packets, bad TCP streams, invalid configurations."""

import os
import random
import re
import signal
import socket
import struct
import subprocess
import time
import unittest

import rig
from rig import RigTestCase, header, encode_name, make_opt

Q_A = struct.pack('!HH', 1, 1)


def question(name='allowed.test'):
    return encode_name(name) + Q_A


# (name, packet bytes, acceptable rcodes of a reply; None in the set = may be dropped)
FORMERR_OR_DROP = {'FORMERR', None}
MALFORMED = [
    ('empty', b'', {None}),
    ('1 byte', b'\x12', {None}),
    ('11 bytes', header()[:11], {None}),
    ('header only, qdcount=0', header(qd=0), FORMERR_OR_DROP),
    ('qdcount=2', header(qd=2) + question() + question('check.test'), FORMERR_OR_DROP),
    ('qdcount=2, one question present', header(qd=2) + question(), FORMERR_OR_DROP),
    ('compression loop in qname', header(qd=1) + b'\xc0\x0c' + Q_A, FORMERR_OR_DROP),
    ('compression loop via label', header(qd=1) + b'\x01a\xc0\x0c' + Q_A, FORMERR_OR_DROP),
    ('pointer beyond end', header(qd=1) + b'\xc0\xff' + Q_A, FORMERR_OR_DROP),
    ('pointer to header', header(qd=1) + b'\xc0\x00' + Q_A, FORMERR_OR_DROP),
    ('label length 64', header(qd=1) + b'\x40' + b'a' * 64 + b'\x00' + Q_A, FORMERR_OR_DROP),
    ('extended label type 0x40', header(qd=1) + b'\x41' + b'a' + b'\x00' + Q_A,
     FORMERR_OR_DROP),
    ('name > 255', header(qd=1) + (b'\x3f' + b'a' * 63) * 5 + b'\x00' + Q_A, FORMERR_OR_DROP),
    ('name without terminator', header(qd=1) + b'\x07allowed\x04test', FORMERR_OR_DROP),
    ('truncated question (no type/class)', header(qd=1) + encode_name('allowed.test'),
     FORMERR_OR_DROP),
    ('truncated question (half a type)', header(qd=1) + encode_name('allowed.test') + b'\x00',
     FORMERR_OR_DROP),
    ('label runs past end', header(qd=1) + b'\x3fabc', FORMERR_OR_DROP),
    ('ancount=5 without records', header(qd=1, an=5) + question(), FORMERR_OR_DROP | {'NOERROR'}),
    ('OPT in answer section', header(qd=1, an=1) + question() + make_opt(), FORMERR_OR_DROP),
    ('two OPTs', header(qd=1, ar=2) + question() + make_opt() + make_opt(), FORMERR_OR_DROP),
    ('OPT option length past rdata',
     header(qd=1, ar=1) + question() + b'\x00' + struct.pack('!HHIH', 41, 1232, 0, 4)
     + struct.pack('!HH', 12, 200), FORMERR_OR_DROP),
    ('OPT rdlength past end',
     header(qd=1, ar=1) + question() + b'\x00' + struct.pack('!HHIH', 41, 1232, 0, 300),
     FORMERR_OR_DROP),
    ('OPT with a non-root owner',
     header(qd=1, ar=1) + question() + encode_name('x') + struct.pack('!HHIH', 41, 1232, 0, 0),
     FORMERR_OR_DROP),
    ('QR=1 (a response)', header(flags=0x8180, qd=1) + question(), FORMERR_OR_DROP),
    ('QR=1 with an answer',
     header(flags=0x8180, qd=1, an=1) + question() + b'\xc0\x0c' +
     struct.pack('!HHIH', 1, 1, 60, 4) + b'\x01\x02\x03\x04', FORMERR_OR_DROP),
    ('opcode UPDATE', header(flags=5 << 11, qd=1) + question(),
     FORMERR_OR_DROP | {'NOTIMP', 'REFUSED'}),
    ('opcode 15', header(flags=15 << 11, qd=1) + question(), FORMERR_OR_DROP | {'NOTIMP'}),
    ('EDNS version 1', header(qd=1, ar=1) + question() + make_opt(version=1),
     FORMERR_OR_DROP | {'BADVERS'}),
    ('trailing garbage', header(qd=1) + question() + b'\xde\xad\xbe\xef' * 10,
     FORMERR_OR_DROP | {'NOERROR'}),
]


class TestRelayRobust(RigTestCase):

    def setUp(self):
        super().setUp()
        self.unbound = self.start_unbound()

    def assertHealthy(self, d, what):
        self.assertTrue(d.alive(), 'daemon died after: %s\n%s' % (what, d.log()[-3000:]))
        m = d.query('allowed.test', 'A', timeout=2)
        self.assertIsNotNone(m, 'no answer to a normal query after: %s' % what)
        self.assertEqual(m.rcode_name, 'NOERROR', 'after %s: %r' % (what, m))

    def _send_udp(self, d, payload, wait=0.4):
        host, port = d.addr
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.sendto(payload, (host, port))
            s.settimeout(wait)
            try:
                data, _ = s.recvfrom(65535)
                return data
            except socket.timeout:
                return None
        finally:
            s.close()

    # --- UDP ----------------------------------------------------------------

    def test_malformed_udp_battery(self):
        d = self.start_daemon(self.unbound)
        for what, pkt, accepted in MALFORMED:
            with self.subTest(packet=what):
                reply = self._send_udp(d, pkt)
                if reply is None:
                    self.assertIn(None, accepted, '%s: dropped, expected %s' % (what, accepted))
                else:
                    self.assertGreaterEqual(len(reply), 12, '%s: short reply' % what)
                    rid, flags = struct.unpack('!HH', reply[:4])
                    rcode = rig.RCODE_NAMES.get(flags & 0xF, str(flags & 0xF))
                    try:
                        m = rig.Message(reply)
                        rcode = m.rcode_name
                    except rig.DNSError:
                        pass
                    self.assertIn(rcode, accepted, '%s: answered %s' % (what, rcode))
                    self.assertTrue(flags & 0x8000, '%s: reply without QR' % what)
                    if len(pkt) >= 2:
                        self.assertEqual(reply[:2], pkt[:2], '%s: reply ID differs' % what)
                    if rcode == 'NOERROR':
                        self.assertEqual(m.questions[0][0], 'allowed.test.', what)
                self.assertHealthy(d, what)
        stats, _ = d.statistics()
        self.assertGreaterEqual(int(stats.get('malformed', 0)), 10,
                                'malformed queries not counted: %r' % stats)

    def test_random_garbage_udp(self):
        d = self.start_daemon(self.unbound)
        host, port = d.addr
        rnd = random.Random(1035)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.setblocking(False)
        for i in range(1000):
            n = rnd.choice([rnd.randint(0, 30), rnd.randint(12, 600), rnd.randint(0, 4096)])
            pkt = bytes(rnd.getrandbits(8) for _ in range(n))
            if i % 3 == 0 and n >= 12:
                # a plausible header (QR=0, opcode 0, qdcount=1) with a random body
                pkt = struct.pack('!HHHHHH', i, 0x0100, 1, rnd.randint(0, 2), 0,
                                  rnd.randint(0, 2)) + pkt[12:]
            try:
                s.sendto(pkt, (host, port))
            except BlockingIOError:
                time.sleep(0.01)
            if i % 100 == 99:
                self.assertHealthy(d, 'garbage packet %d' % i)
        self.assertHealthy(d, '1000 random packets')

    def test_mutated_queries_udp(self):
        # bit flips of a real query exercise the parser near valid input
        d = self.start_daemon(self.unbound)
        host, port = d.addr
        rnd = random.Random(8914)
        base = rig.build_query('www.allowed.test', 'A', qid=1, options=((12, b'\x00' * 8),))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        for i in range(500):
            pkt = bytearray(base)
            for _ in range(rnd.randint(1, 4)):
                pkt[rnd.randrange(len(pkt))] = rnd.getrandbits(8)
            if rnd.random() < 0.2:
                pkt = pkt[:rnd.randrange(len(pkt))]
            s.sendto(bytes(pkt), (host, port))
            if i % 100 == 99:
                self.assertHealthy(d, 'mutated packet %d' % i)
        self.assertHealthy(d, '500 mutated packets')

    def test_max_size_udp(self):
        d = self.start_daemon(self.unbound)
        big = header(qd=1) + question() + b'\x00' * (65507 - 12 - len(question()))
        reply = self._send_udp(d, big, wait=1)
        if reply is not None:
            m = rig.Message(reply)
            self.assertIn(m.rcode_name, ('FORMERR', 'NOERROR'))
        self.assertHealthy(d, 'a 65507-byte datagram')
        garbage = os.urandom(65507)
        self._send_udp(d, garbage, wait=0.3)
        self.assertHealthy(d, 'a 65507-byte garbage datagram')

    # --- TCP ----------------------------------------------------------------

    def _tcp_abuse(self, d, data, what, close=True, shut_wr=False, expect_close=True):
        s = rig.tcp_connect(*d.addr)
        self.addCleanup(s.close)
        try:
            s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        replies = []
        if not close:
            buf = b''
            deadline = time.monotonic() + 5
            closed = False
            while time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                buf += chunk
            while len(buf) >= 2:
                ln = struct.unpack('!H', buf[:2])[0]
                if len(buf) < 2 + ln:
                    break
                replies.append(buf[2:2 + ln])
                buf = buf[2 + ln:]
            if expect_close:
                self.assertTrue(closed, '%s: connection neither answered nor closed in 5 s'
                                % what)
        s.close()
        self.assertHealthy(d, what)
        return replies

    def test_bad_tcp_streams(self):
        d = self.start_daemon(self.unbound, tcp_idle_timeout_ms=2000)
        q = rig.build_query('allowed.test', 'A', qid=77)
        cases = [
            ('length 0', b'\x00\x00', False),
            ('length 1', b'\x00\x01\x00', False),
            ('length 11', b'\x00\x0b' + header()[:11], False),
            ('length 65535, 10 bytes, close', b'\xff\xff' + b'\x00' * 10, True),
            ('garbage', bytes(random.Random(7766).getrandbits(8) for _ in range(4000)), False),
            ('header only, qdcount=0', rig.tcp_frame(header(qd=0)), False),
            ('compression loop', rig.tcp_frame(header(qd=1) + b'\xc0\x0c' + Q_A), False),
            ('close right after the query', rig.tcp_frame(q), True),
        ]
        for what, data, close in cases:
            with self.subTest(stream=what):
                replies = self._tcp_abuse(d, data, what, close=close)
                for r in replies:
                    if len(r) >= 4:
                        rcode = r[3] & 0xF
                        self.assertIn(rig.RCODE_NAMES.get(rcode), ('FORMERR', 'NOERROR'),
                                      '%s: reply rcode %d' % (what, rcode))

    def test_tcp_half_close(self):
        d = self.start_daemon(self.unbound)
        q = rig.build_query('allowed.test', 'A', qid=4711)
        replies = self._tcp_abuse(d, rig.tcp_frame(q), 'half-close after a query',
                                  close=False, shut_wr=True)
        # the answer should still be delivered before the relay closes
        if replies:
            self.assertEqual(rig.Message(replies[0]).id, 4711)

    def test_tcp_reset_with_queries_in_flight(self):
        u = self.unbound
        d = self.start_daemon(u)
        host, port = d.addr
        for i in range(20):
            s = rig.tcp_connect(host, port)
            buf = b''.join(rig.tcp_frame(rig.build_query('rst%d-%d.bench.test' % (i, j), 'A'))
                           for j in range(10))
            s.sendall(buf)
            # RST instead of FIN
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()
        self.assertHealthy(d, 'connections reset with queries in flight')

    # --- lifecycle under load ---------------------------------------------------

    def _load(self, d, n=20):
        host, port = d.addr
        socks = []
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks.append(u)
        for i in range(n):
            u.sendto(rig.build_query('load%d.bench.test' % i), (host, port))
        for i in range(5):
            t = rig.tcp_connect(host, port)
            t.sendall(b''.join(rig.tcp_frame(rig.build_query('tload%d-%d.bench.test' % (i, j)))
                               for j in range(5)))
            socks.append(t)
        for s in socks:
            self.addCleanup(s.close)
        return socks

    def test_sigterm_with_queries_in_flight(self):
        d = self.start_daemon(self.unbound, timeout_ms=3000)
        self.assertAnswered(d.query('allowed.test'))
        self.unbound.pause()
        self.addCleanup(self.unbound.resume)
        self._load(d)
        # wait until the daemon has them (they show up as inflight in its statistics)
        d.wait_stat('inflight', lambda n: n > 0)
        t0 = time.monotonic()
        self.assertEqual(d.stop(expect=0, timeout=5), 0)
        self.assertLess(time.monotonic() - t0, 5)

    def test_sighup_with_queries_in_flight(self):
        d = self.start_daemon(self.unbound, timeout_ms=1500)
        self.assertAnswered(d.query('allowed.test'))
        self.unbound.pause()
        self._load(d)
        d.signal(signal.SIGHUP)
        d.signal(signal.SIGHUP)
        self.unbound.resume()
        self._load(d)
        d.signal(signal.SIGHUP)
        self.assertHealthy(d, 'SIGHUP with queries in flight')
        rig.wait_until(lambda: d.query('after-hup.bench.test').rcode_name == 'NOERROR', 5)

    def test_signal_storm(self):
        d = self.start_daemon(self.unbound)
        for i in range(50):
            d.signal(signal.SIGUSR1)
            if i % 10 == 0:
                d.signal(signal.SIGHUP)
        self.assertHealthy(d, 'a storm of SIGUSR1/SIGHUP')

    # --- configuration --------------------------------------------------------

    def _run_config(self, config_text=None, config_path=None, timeout=10):
        binary = rig.daemon_binary()
        d = self.path('cfg-%d' % random.randint(0, 1 << 30))
        os.makedirs(d)
        path = config_path or os.path.join(d, 'ddr.conf')
        if config_text is not None:
            with open(path, 'w') as f:
                f.write(config_text)
        env = dict(os.environ, G_DEBUG='fatal-criticals')
        p = subprocess.Popen([binary, '--config', path, '--state-dir', d, '--no-bus'],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail('daemon did not exit for an invalid configuration:\n%s%s' % (out, err))
        for bad in ('-CRITICAL **', 'AddressSanitizer', 'runtime error:'):
            self.assertNotIn(bad, out + err)
        self.assertGreaterEqual(p.returncode, 0, 'killed by a signal:\n' + out + err)
        return p.returncode, out + err, path

    def _good_config(self, port=None):
        port = port or rig.free_port()
        return rig.relay_config(self.unbound, self.ca, port)

    def assertConfigError(self, group, key, value, rc_expected=2):
        cfg = self._good_config()
        cfg[group][key] = value
        rc, text, path = self._run_config(rig.format_config(cfg))
        value = str(value)
        self.assertEqual(rc, rc_expected, 'exit %d for %s=%s:\n%s' % (rc, key, value, text))
        lines = [l for l in text.splitlines() if value in l and key in l]
        self.assertTrue(lines, 'no line names the key %r and the value %r:\n%s'
                        % (key, value, text))
        self.assertTrue(any(os.path.basename(path) in l and group in l for l in lines),
                        'the error line does not name the file and the group [%s]:\n%s'
                        % (group, text))

    def test_config_http_url(self):
        self.assertConfigError('service', 'url', 'http://doh.test:%d/dns-query'
                               % self.unbound.doh_port)

    def test_config_bad_url(self):
        self.assertConfigError('service', 'url', 'not a url')

    def test_config_bad_listen(self):
        self.assertConfigError('relay', 'listen', '127.0.0.1:99999')
        self.assertConfigError('relay', 'listen', 'no-such-address:53')

    def test_config_bad_acl(self):
        self.assertConfigError('relay', 'acl', '127.0.0.0/33')
        self.assertConfigError('relay', 'acl', 'garbage')

    def test_config_bad_numbers(self):
        self.assertConfigError('service', 'timeout-ms', 'abc')
        self.assertConfigError('relay', 'cache-size', '-5')
        self.assertConfigError('relay', 'tcp-max-clients', 'many')

    def test_config_bad_method(self):
        self.assertConfigError('service', 'method', 'put')

    def test_config_missing_url(self):
        cfg = self._good_config()
        del cfg['service']['url']
        rc, text, _ = self._run_config(rig.format_config(cfg))
        self.assertEqual(rc, 2, text)
        self.assertIn('url', text)

    def test_config_missing_file(self):
        path = self.path('does-not-exist.conf')
        rc, text, _ = self._run_config(config_path=path)
        self.assertEqual(rc, 2, text)
        self.assertIn(path, text)

    def test_config_not_a_keyfile(self):
        rc, text, path = self._run_config('this is not\x00 a key file [\n=\n')
        self.assertEqual(rc, 2, text)
        self.assertIn(os.path.basename(path), text)

    def test_config_unknown_key_warns(self):
        port = rig.free_port()
        d = self.make_daemon(self.unbound, port=port)
        d.config['relay']['frobnicate-level'] = '11'
        d.spawn()
        d.wait_ready()
        self.assertIn('frobnicate-level', d.log(), 'unknown key not warned about')
        self.assertAnswered(d.query('allowed.test'), 'NOERROR')

    def test_cannot_bind_exit_1(self):
        port = rig.free_port()
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        holder.bind(('127.0.0.1', port))
        self.addCleanup(holder.close)
        rc, text, _ = self._run_config(rig.format_config(self._good_config(port)))
        self.assertEqual(rc, 1, 'exit %d when the port is taken:\n%s' % (rc, text))
        self.assertIn(str(port), text)


if __name__ == '__main__':
    unittest.main()
