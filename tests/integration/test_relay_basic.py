#!/usr/bin/python3
"""The relay answers what the DoH service answers, over UDP and TCP, with dig and kdig."""

import random
import struct
import unittest

import rig
from rig import RigTestCase


class TestRelayBasic(RigTestCase):

    def setUp(self):
        super().setUp()
        self.unbound = self.start_unbound()

    def _compare_tools(self, daemon, tool):
        host, port = daemon.addr
        for name, qtype in [('allowed.test', 'A'), ('allowed.test', 'AAAA'),
                            ('allowed.test', 'TXT'), ('check.test', 'TXT'),
                            ('www.allowed.test', 'A')]:
            for transport in ([], ['+tcp']):
                what = '%s %s %s %s' % (tool.__name__, name, qtype, transport)
                ref = tool('127.0.0.1', self.unbound.plain_port, name, qtype, *transport)
                got = tool(host, port, name, qtype, *transport)
                self.assertEqual(ref.status, 'NOERROR', repr(ref))
                self.assertEqual(got.returncode, 0, what + repr(got))
                self.assertEqual(got.status, 'NOERROR', what + repr(got))
                self.assertTrue(got.answer, what + repr(got))
                self.assertEqual(got.rrset(), ref.rrset(), what + repr(got))
                self.assertIn('qr', got.flags, what)
                self.assertIn('rd', got.flags, what)

    def test_answers_equal_unbound_dig(self):
        d = self.start_daemon(self.unbound)
        self._compare_tools(d, rig.dig)

    def test_answers_equal_unbound_kdig(self):
        d = self.start_daemon(self.unbound)
        self._compare_tools(d, rig.kdig)

    def test_answers_equal_unbound_raw(self):
        d = self.start_daemon(self.unbound)
        for name, qtype in [('allowed.test', 'A'), ('allowed.test', 'AAAA'),
                            ('allowed.test', 'TXT'), ('check.test', 'A'),
                            ('nx.allowed.test', 'A'), ('allowed.test', 'MX')]:
            for tcp in (False, True):
                what = '%s %s tcp=%s' % (name, qtype, tcp)
                ref = self.unbound.query(name, qtype, tcp=tcp)
                got = d.query(name, qtype, tcp=tcp)
                self.assertSameAnswer(got, ref, what)

    def test_method_get(self):
        d = self.start_daemon(self.unbound, method='get')
        for tcp in (False, True):
            got = d.query('allowed.test', 'A', tcp=tcp)
            self.assertSameAnswer(got, self.unbound.query('allowed.test', 'A'), 'GET')

    def test_nxdomain_with_soa(self):
        d = self.start_daemon(self.unbound)
        for name in ('blocked.example', 'www.blocked.example', 'nx.allowed.test'):
            for tcp in (False, True):
                m = d.query(name, 'A', tcp=tcp)
                self.assertAnswered(m, 'NXDOMAIN', name)
                self.assertEqual(m.answer, [], name)
                soa = [r for r in m.authority if r.type == rig.TYPES['SOA']]
                self.assertEqual(len(soa), 1, '%s: %r' % (name, m))
                self.assertSameAnswer(m, self.unbound.query(name, 'A'), name)
        r = rig.dig(*d.addr, 'blocked.example', 'A')
        self.assertEqual(r.status, 'NXDOMAIN', repr(r))
        self.assertTrue(any(t == 'SOA' for _, _, _, t, _ in r.authority), repr(r))

    def test_check_domain(self):
        d = self.start_daemon(self.unbound)
        r = rig.dig(*d.addr, 'check.test', 'A')
        self.assertEqual(r.status, 'NOERROR', repr(r))
        self.assertEqual(r.rdata('A'), [rig.CHECK_A], repr(r))

    def test_sinkhole(self):
        d = self.start_daemon(self.unbound)
        for name in ('sinkhole.example', 'malware.sinkhole.example'):
            r = rig.dig(*d.addr, name, 'A')
            self.assertEqual(r.status, 'NOERROR', repr(r))
            self.assertEqual(r.rdata('A'), ['0.0.0.0'], repr(r))

    def test_use_application_dns_is_nxdomain_locally(self):
        # unbound answers this name with an address, so NXDOMAIN proves the relay did it
        ref = self.unbound.query('use-application-dns.net', 'A')
        self.assertEqual(ref.values('A'), [rig.UAD_A_UPSTREAM])
        d = self.start_daemon(self.unbound)
        for qtype in ('A', 'AAAA', 'TXT'):
            for tcp in (False, True):
                m = d.query('use-application-dns.net', qtype, tcp=tcp)
                self.assertAnswered(m, 'NXDOMAIN', 'use-application-dns.net %s' % qtype)
                self.assertEqual(m.answer, [])
        m = d.query('USE-Application-DNS.net', 'A')
        self.assertAnswered(m, 'NXDOMAIN', 'case-folded canary name')
        r = rig.dig(*d.addr, 'use-application-dns.net', 'A')
        self.assertEqual(r.status, 'NXDOMAIN', repr(r))

    def test_client_id_restored(self):
        d = self.start_daemon(self.unbound)
        host, port = d.addr
        rnd = random.Random(8484)
        ids = [0, 1, 0xFFFF, 0x8000] + [rnd.randint(0, 0xFFFF) for _ in range(40)]
        for i, qid in enumerate(ids):
            # alternate a cached and an uncached name, UDP and TCP
            name = 'allowed.test' if i % 2 else 'id%d.bench.test' % i
            tcp = bool(i % 3 == 0)
            q = rig.build_query(name, 'A', qid=qid)
            m = (rig.tcp_exchange if tcp else rig.udp_exchange)(host, port, q)
            self.assertAnswered(m, 'NOERROR', name)
            self.assertEqual(m.id, qid, 'ID not restored for %s (tcp=%s)' % (name, tcp))
            self.assertEqual(m.questions[0][0].lower(), name + '.')

    def test_question_case_preserved(self):
        d = self.start_daemon(self.unbound)
        for name in ('allowed.test', 'AlLoWeD.TeSt'):
            m = d.query(name, 'A')
            self.assertAnswered(m, 'NOERROR', name)
            self.assertEqual(m.questions[0][0], name + '.', 'question name changed')
            self.assertEqual(sorted(m.values('A')), sorted(rig.ALLOWED_A))

    def test_edns_padding_not_echoed(self):
        d = self.start_daemon(self.unbound)
        host, port = d.addr
        cases = [
            ('no padding', ()),
            ('client padding', ((rig.OPT_PADDING, b'\x00' * 40),)),
        ]
        for what, options in cases:
            for tcp in (False, True):
                for name in ('allowed.test', 'pad-%s-%s.bench.test' % (len(options), tcp)):
                    q = rig.build_query(name, 'A', options=options)
                    m = (rig.tcp_exchange if tcp else rig.udp_exchange)(host, port, q)
                    self.assertAnswered(m, 'NOERROR', what)
                    self.assertIsNotNone(m.opt, '%s: EDNS query answered without OPT' % what)
                    self.assertNotIn(rig.OPT_PADDING, m.option_codes,
                                     '%s (tcp=%s, %s): padding echoed to the client: %r'
                                     % (what, tcp, name, m.opt))

    def test_no_edns_query_gets_no_opt(self):
        d = self.start_daemon(self.unbound)
        for name in ('allowed.test', 'noedns.bench.test'):
            m = d.query(name, 'A', edns=False)
            self.assertAnswered(m, 'NOERROR', name)
            self.assertIsNone(m.opt, 'OPT in the answer to a query without EDNS: %r' % m)

    def test_ipv6_listen(self):
        if not rig.have_ipv6_loopback():
            self.fail('this machine has no ::1; the IPv6 listener cannot be tested')
        port = rig.free_port()
        d = self.start_daemon(self.unbound, port=port,
                              listen=['127.0.0.1:%d' % port, '[::1]:%d' % port])
        for tcp in (False, True):
            m = (rig.tcp_query if tcp else rig.udp_query)('::1', port, 'allowed.test', 'AAAA')
            self.assertAnswered(m, 'NOERROR', '::1 tcp=%s' % tcp)
            self.assertEqual(m.values('AAAA'), rig.ALLOWED_AAAA)
        r = rig.dig('::1', port, 'check.test', 'A')
        self.assertEqual(r.rdata('A'), [rig.CHECK_A], repr(r))
        r = rig.kdig('::1', port, 'check.test', 'A', '+tcp')
        self.assertEqual(r.rdata('A'), [rig.CHECK_A], repr(r))

    def test_ipv6_only_listen(self):
        if not rig.have_ipv6_loopback():
            self.fail('this machine has no ::1; the IPv6 listener cannot be tested')
        port = rig.free_port()
        d = self.make_daemon(self.unbound, port=port, listen=['[::1]:%d' % port])
        d.spawn()
        rig.wait_until(lambda: rig.udp_query('::1', port, 'check.test', timeout=0.2), 10,
                       what='relay on [::1]:%d' % port)
        self.assertTrue(d.alive())
        m = rig.udp_query('::1', port, 'allowed.test', 'A')
        self.assertAnswered(m, 'NOERROR')

    def test_rd_flag_and_header(self):
        d = self.start_daemon(self.unbound)
        m = d.query('allowed.test', 'A')
        self.assertTrue(m.qr)
        self.assertEqual(m.opcode, 0)
        self.assertTrue(m.rd, 'RD not copied from the query')
        self.assertEqual(len(m.questions), 1)
        self.assertEqual(m.questions[0][1:], (1, 1))

    def test_cache_hit_same_answer(self):
        d = self.start_daemon(self.unbound)
        first = d.query('allowed.test', 'TXT')
        second = d.query('allowed.test', 'TXT')
        self.assertSameAnswer(second, first, 'cached')
        self.assertLessEqual(second.answer[0].ttl, first.answer[0].ttl)
        self.assertEqual(second.values('TXT'), [[rig.ALLOWED_TXT]])

    def test_sigterm_exit_zero(self):
        d = self.start_daemon(self.unbound)
        self.assertAnswered(d.query('allowed.test'), 'NOERROR')
        self.assertEqual(d.stop(expect=0), 0)


    def test_query_names_not_logged(self):
        probe = 'privacyprobe%d.bench.test' % random.randint(0, 1 << 30)
        d = self.start_daemon(self.unbound, query_log='false')   # -v is on
        self.assertAnswered(d.query(probe, 'A'))
        self.assertAnswered(d.query(probe, 'AAAA', tcp=True))
        self.assertAnswered(d.query('blocked.example', 'A'), 'NXDOMAIN')
        self.assertTrue(d.alive())
        log = d.log()
        self.assertNotIn('privacyprobe', log.lower(), 'query name logged with query-log=false')
        self.assertNotIn('blocked.example', log.lower(), 'query name logged with query-log=false')

    def test_query_log_on(self):
        probe = 'logprobe%d.bench.test' % random.randint(0, 1 << 30)
        d = self.start_daemon(self.unbound, query_log='true')
        self.assertAnswered(d.query(probe, 'A'))
        d.wait_log(probe.replace('.', r'\.'), 5)

    def test_cached_ttl_counts_down(self):
        d = self.start_daemon(self.unbound)
        first = d.query('allowed.test', 'A')
        self.assertAnswered(first)
        ttl0 = min(r.ttl for r in first.answer)
        self.assertLessEqual(ttl0, 60)
        # wait for the TTL clock (time passing is the point here, not readiness)
        rig.wait_until(lambda: min(r.ttl for r in d.query('allowed.test', 'A').answer) < ttl0,
                       5, interval=0.25, what='the cached TTL to count down')
        later = d.query('allowed.test', 'A')
        self.assertGreaterEqual(min(r.ttl for r in later.answer), ttl0 - 5)

if __name__ == '__main__':
    unittest.main()
