#!/usr/bin/python3
"""The client ACL: sources outside acl= get REFUSED over UDP and TCP."""

import unittest

import rig
from rig import RigTestCase


class TestRelayAcl(RigTestCase):

    def setUp(self):
        super().setUp()
        self.unbound = self.start_unbound()

    def _ask(self, d, source, tcp, name='allowed.test'):
        host, port = d.addr
        q = rig.build_query(name, 'A')
        if tcp:
            try:
                return rig.tcp_exchange(host, port, q, timeout=2, source=source)
            except (EOFError, ConnectionResetError):
                return 'closed'
        return rig.udp_exchange(host, port, q, timeout=2, source=source)

    def test_outside_acl_refused(self):
        d = self.start_daemon(self.unbound, acl=['127.0.0.2/32'])
        for tcp in (False, True):
            m = self._ask(d, '127.0.0.1', tcp)
            self.assertNotEqual(m, 'closed', 'TCP client outside the ACL: connection closed '
                                'without a REFUSED answer')
            self.assertAnswered(m, 'REFUSED', 'client 127.0.0.1, acl=127.0.0.2/32, tcp=%s' % tcp)
            self.assertEqual(m.answer, [])
        # the same relay serves 127.0.0.2
        for tcp in (False, True):
            m = self._ask(d, '127.0.0.2', tcp)
            self.assertAnswered(m, 'NOERROR', 'client 127.0.0.2, tcp=%s' % tcp)
            self.assertEqual(sorted(m.values('A')), sorted(rig.ALLOWED_A))

    def test_refused_for_every_name(self):
        # REFUSED before anything else: cache, use-application-dns.net, check-domain
        d = self.start_daemon(self.unbound, acl=['127.0.0.2/32'])
        self.assertAnswered(self._ask(d, '127.0.0.2', False), 'NOERROR')  # fill the cache
        for name in ('allowed.test', 'use-application-dns.net', 'check.test', 'blocked.example'):
            m = self._ask(d, '127.0.0.1', False, name)
            self.assertAnswered(m, 'REFUSED', name)
            self.assertEqual(m.answer, [], name)

    def test_refused_counted(self):
        d = self.start_daemon(self.unbound, acl=['127.0.0.2/32'])
        for _ in range(3):
            self.assertAnswered(self._ask(d, '127.0.0.1', False), 'REFUSED')
        stats, _ = d.statistics()
        self.assertIn('refused', stats, stats)
        self.assertGreaterEqual(int(stats['refused']), 3, stats)

    def test_inside_acl_answered(self):
        d = self.start_daemon(self.unbound, acl=['127.0.0.0/8', '::1/128'])
        for src in ('127.0.0.1', '127.0.0.2', '127.1.2.3'):
            for tcp in (False, True):
                m = self._ask(d, src, tcp)
                self.assertAnswered(m, 'NOERROR', 'client %s tcp=%s' % (src, tcp))

    def test_acl_single_host(self):
        d = self.start_daemon(self.unbound, acl=['127.0.0.1/32'])
        self.assertAnswered(self._ask(d, '127.0.0.1', False), 'NOERROR')
        self.assertAnswered(self._ask(d, '127.0.0.3', False), 'REFUSED')
        self.assertAnswered(self._ask(d, '127.0.0.3', True), 'REFUSED')

    def test_ipv6_acl(self):
        if not rig.have_ipv6_loopback():
            self.fail('this machine has no ::1')
        port = rig.free_port()
        d = self.start_daemon(self.unbound, port=port,
                              listen=['127.0.0.1:%d' % port, '[::1]:%d' % port],
                              acl=['127.0.0.0/8'])
        m = rig.udp_query('::1', port, 'allowed.test', 'A')
        self.assertAnswered(m, 'REFUSED', '::1 not in acl=127.0.0.0/8')
        m = rig.tcp_query('::1', port, 'allowed.test', 'A')
        self.assertAnswered(m, 'REFUSED', '::1 not in acl=127.0.0.0/8 (TCP)')
        self.assertAnswered(d.query('allowed.test'), 'NOERROR')


if __name__ == '__main__':
    unittest.main()
