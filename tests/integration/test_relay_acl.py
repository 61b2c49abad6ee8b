#!/usr/bin/python3
"""The client ACL: sources outside acl= get REFUSED over UDP; their TCP connections are
closed at accept. One peer address holds at most its share of the TCP slots."""

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
        m = self._ask(d, '127.0.0.1', False)
        self.assertAnswered(m, 'REFUSED', 'client 127.0.0.1, acl=127.0.0.2/32, UDP')
        self.assertEqual(m.answer, [])
        # the same relay serves 127.0.0.2
        for tcp in (False, True):
            m = self._ask(d, '127.0.0.2', tcp)
            self.assertAnswered(m, 'NOERROR', 'client 127.0.0.2, tcp=%s' % tcp)
            self.assertEqual(sorted(m.values('A')), sorted(rig.ALLOWED_A))

    def test_tcp_outside_acl_closed_at_accept(self):
        # A stranger must not hold a TCP slot: the connection is closed at accept,
        # before it sends anything (it used to stay open until the idle timeout).
        d = self.start_daemon(self.unbound, acl=['127.0.0.2/32'], tcp_max_clients=4,
                              tcp_idle_timeout_ms=10000)
        host, port = d.addr
        strangers = []
        for _ in range(8):
            s = rig.tcp_connect(host, port, timeout=2, source='127.0.0.1')
            self.addCleanup(s.close)
            strangers.append(s)
        for i, s in enumerate(strangers):
            self.assertTrue(rig.connection_closed(s, 1.0),
                            'connection %d from 127.0.0.1 (outside acl=127.0.0.2/32) still '
                            'open after 1 s' % i)
        self.assertAnswered(self._ask(d, '127.0.0.2', True), 'NOERROR',
                            'a client inside the ACL after 8 strangers (tcp-max-clients=4)')
        stats, _ = d.statistics()
        self.assertGreaterEqual(int(stats['refused']), 8, stats)

    def test_tcp_connections_capped_per_peer(self):
        # One address may hold at most tcp-max-clients/8 (at least 4) connections, so
        # one device of a LAN cannot take every slot of a forwarder.
        d = self.start_daemon(self.unbound, acl=['127.0.0.0/8'], tcp_max_clients=16,
                              tcp_idle_timeout_ms=10000)
        host, port = d.addr
        held = []
        for i in range(16):
            s = rig.tcp_connect(host, port, timeout=2, source='127.0.0.5')
            self.addCleanup(s.close)
            held.append(s)
        open_ones = [s for s in held if not rig.connection_closed(s, 0.3)]
        self.assertEqual(len(open_ones), 4, '127.0.0.5 holds %d of 16 TCP slots; the '
                         'per-peer cap is 4' % len(open_ones))
        for tcp_source in ('127.0.0.6', '127.0.0.7'):
            m = rig.tcp_query(host, port, 'allowed.test', 'A', timeout=2, source=tcp_source)
            self.assertAnswered(m, 'NOERROR', 'TCP from %s while 127.0.0.5 holds its share'
                                % tcp_source)
        for i, s in enumerate(open_ones):
            s.sendall(rig.tcp_frame(rig.build_query('allowed.test', 'A', qid=300 + i)))
            self.assertEqual(rig.tcp_recv_msg(s).id, 300 + i)

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
        self.assertEqual(self._ask(d, '127.0.0.3', True), 'closed',
                         'TCP from outside the ACL is closed at accept')

    def test_ipv6_acl(self):
        if not rig.have_ipv6_loopback():
            self.fail('this machine has no ::1')
        port = rig.free_port()
        d = self.start_daemon(self.unbound, port=port,
                              listen=['127.0.0.1:%d' % port, '[::1]:%d' % port],
                              acl=['127.0.0.0/8'])
        m = rig.udp_query('::1', port, 'allowed.test', 'A')
        self.assertAnswered(m, 'REFUSED', '::1 not in acl=127.0.0.0/8')
        with self.assertRaises((EOFError, ConnectionResetError),
                               msg='::1 not in acl=127.0.0.0/8: TCP closed at accept'):
            rig.tcp_query('::1', port, 'allowed.test', 'A')
        self.assertAnswered(d.query('allowed.test'), 'NOERROR')


if __name__ == '__main__':
    unittest.main()
