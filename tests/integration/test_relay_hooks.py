#!/usr/bin/python3
"""The relay's roaming hooks, driven through tests/tools/relay-hooks (a DdrRelay on a
main loop, commands on stdin): split DNS to a real plain-DNS unbound (the "network's
own DNS"), the service probe through a real unbound DoH upstream, the steering canary,
and the all-failing callback. Only the roaming controller calls these APIs in the
daemon, so the driver stands in for it; the queries are real DNS over loopback."""

import os
import queue
import subprocess
import threading
import time
import unittest

import rig
from rig import RigTestCase

LOCAL_ZONE = [
    'local-data: "printer.corp.example. 60 IN A 10.9.8.7"',
    'local-data: "printer. 60 IN A 10.9.8.6"',
    'local-data: "probe.test. 60 IN A 10.0.0.77"',
    'local-data: "www.example.com. 60 IN A 10.0.0.80"',
] + rig.big_txt_lines('big.corp.example.')

SERVICE_ZONE = ['local-data: "probe.test. 60 IN A 192.0.2.77"']


def driver_binary():
    return rig.built('relay-hooks driver', 'tests', 'tools', 'relay-hooks')


class Driver:
    """The relay-hooks process: send() a command, expect() the line it answers."""

    def __init__(self, test, urls, port):
        self.port = port
        self.logfile = test.path('relay-hooks.log')
        self._log = open(self.logfile, 'ab')
        env = dict(os.environ, G_DEBUG='fatal-criticals', G_MESSAGES_DEBUG='all',
                   ASAN_OPTIONS='abort_on_error=1')
        cmd = [driver_binary(), '--ca-file', test.ca.ca, '--listen', '127.0.0.1:%d' % port]
        for u in urls:
            cmd += ['--url', u]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.events = []
        threading.Thread(target=self._reader, daemon=True).start()
        self.expect('ready')

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip('\n'))
        self.lines.put(None)

    def send(self, line):
        self.proc.stdin.write(line + '\n')
        self.proc.stdin.flush()

    def expect(self, prefix, timeout=10.0):
        """The next line starting with prefix; health/canary events are kept in self.events."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('relay-hooks: no %r line in %.0fs; log:\n%s'
                                     % (prefix, timeout, self.log()))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError('relay-hooks exited (%s) waiting for %r; log:\n%s'
                                     % (self.proc.wait(), prefix, self.log()))
            if line.startswith(prefix):
                return line
            if line.startswith(('health ', 'canary seen')):
                self.events.append(line)
                continue
            raise AssertionError('relay-hooks: expected %r, got %r' % (prefix, line))

    def wait_event(self, event, timeout=10.0):
        def seen():
            if event in self.events:
                return True
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                return False
            if line is None:
                raise AssertionError('relay-hooks exited; log:\n' + self.log())
            self.events.append(line)
            return event in self.events
        rig.wait_until(seen, timeout, interval=0, what='relay-hooks event %r' % event)

    def cmd(self, line, prefix, timeout=10.0):
        self.send(line)
        return self.expect(prefix, timeout)

    def query(self, name, qtype='A', tcp=False, **kw):
        if tcp:
            return rig.tcp_query('127.0.0.1', self.port, name, qtype, timeout=5, **kw)
        return rig.udp_query('127.0.0.1', self.port, name, qtype, timeout=5, **kw)

    def stats(self):
        line = self.cmd('stats', 'stats ')
        return {k: int(v) for k, v in (w.split('=') for w in line.split()[1:])}

    def log(self):
        with open(self.logfile, errors='replace') as f:
            return f.read()

    def quit(self):
        if self.proc.poll() is None:
            self.send('quit')
        try:
            rc = self.proc.wait(15)
        finally:
            self._log.close()
        return rc


class TestRelayHooks(RigTestCase):

    def setUp(self):
        super().setUp()
        self.service = self.start_unbound('service', extra_zone_lines=SERVICE_ZONE)
        self.local = self.start_unbound('local', extra_zone_lines=LOCAL_ZONE)
        self.local_server = '127.0.0.1:%d' % self.local.plain_port
        self.driver = None

    def tearDown(self):
        if self.driver is not None and self.driver.proc.poll() is None:
            rc = self.driver.quit()
            self.assertEqual(rc, 0, 'relay-hooks exit status; log:\n' + self.driver.log())
        if self.driver is not None:
            log = self.driver.log()
            for bad in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:', '-CRITICAL **'):
                self.assertNotIn(bad, log, log)
        super().tearDown()

    def start_driver(self, urls=None):
        self.driver = Driver(self, urls or [self.service.url], rig.free_port(('127.0.0.1',)))
        return self.driver

    def test_split_dns_routes_to_network_dns(self):
        d = self.start_driver()
        # before any route the local names go to the service, which does not know them
        self.assertAnswered(d.query('printer.corp.example'), 'NXDOMAIN', 'no route yet')
        d.cmd('routes corp.example=%s =%s which.test=%s'
              % (self.local_server, self.local_server, self.local_server), 'routes set')
        self.assertEqual(d.cmd('route WWW.Corp.Example.', 'route'),
                         'route WWW.Corp.Example. %s' % self.local_server)
        self.assertEqual(d.cmd('route allowed.test', 'route'), 'route allowed.test doh')

        m = self.assertAnswered(d.query('printer.corp.example', qid=0x4242), 'NOERROR', 'routed')
        self.assertEqual(m.values('A'), ['10.9.8.7'])
        self.assertEqual(m.id, 0x4242, 'the client ID comes back')
        m = self.assertAnswered(d.query('PRINTER.CORP.example'), 'NOERROR', 'case folded')
        self.assertEqual(m.values('A'), ['10.9.8.7'])
        self.assertEqual(m.questions[0][0].rstrip('.'), 'PRINTER.CORP.example',
                         'the question comes back as the client spelt it')
        m = self.assertAnswered(d.query('printer'), 'NOERROR', 'single-label name')
        self.assertEqual(m.values('A'), ['10.9.8.6'])
        m = self.assertAnswered(d.query('which.test', 'TXT'), 'NOERROR', 'routed which.test')
        self.assertEqual(m.values('TXT'), [['local']])
        # an unrouted name still goes to the DoH service
        m = self.assertAnswered(d.query('allowed.test'), 'NOERROR', 'unrouted')
        self.assertEqual(sorted(m.values('A')), sorted(rig.ALLOWED_A))
        m = self.assertAnswered(d.query('check.test', 'TXT'), 'NOERROR', 'unrouted TXT')
        self.assertEqual(m.values('TXT'), [['doh-upstream-ok']])
        self.assertEqual(d.stats()['local_forwarded'], 4)

        # routed answers are not cached: with the routes gone the service answers
        d.cmd('routes', 'routes set')
        self.assertEqual(d.cmd('route printer.corp.example', 'route'),
                         'route printer.corp.example doh')
        self.assertAnswered(d.query('printer.corp.example'), 'NXDOMAIN', 'route removed')
        m = self.assertAnswered(d.query('which.test', 'TXT'), 'NOERROR', 'route removed')
        self.assertEqual(m.values('TXT'), [['service']])
        self.assertEqual(d.stats()['local_forwarded'], 4)
        d.cmd('statistics', 'logged')
        self.assertRegex(d.log(), r'statistics: .* local_forwarded=4 ')

    def test_truncated_answer_retried_over_tcp(self):
        d = self.start_driver()
        d.cmd('routes corp.example=%s' % self.local_server, 'routes set')
        ref = self.local.query('big.corp.example', 'TXT', tcp=True)
        self.assertEqual(len(ref.answer), 60)
        # the local server truncates over UDP; the relay asks again over TCP
        m = self.assertAnswered(d.query('big.corp.example', 'TXT', tcp=True), 'NOERROR', 'big')
        self.assertFalse(m.tc)
        self.assertSameAnswer(m, ref, 'big.corp.example over TCP')
        self.assertRegex(d.log(), r'asking again over TCP')
        # a UDP client gets what fits, with TC
        m = self.assertAnswered(d.query('big.corp.example', 'TXT', udp_size=1232), 'NOERROR')
        self.assertTrue(m.tc)

    def test_root_refused_com_allowed(self):
        d = self.start_driver()
        d.cmd('routes .=%s com=%s' % (self.local_server, self.local_server), 'routes set')
        self.assertRegex(d.log(), r'refusing a local route for the root')
        self.assertEqual(d.cmd('route www.example.com', 'route'),
                         'route www.example.com %s' % self.local_server)
        self.assertEqual(d.cmd('route allowed.test', 'route'), 'route allowed.test doh')
        self.assertEqual(d.cmd('route .', 'route'), 'route . doh')
        m = self.assertAnswered(d.query('www.example.com'), 'NOERROR', 'routed by "com"')
        self.assertEqual(m.values('A'), ['10.0.0.80'])
        m = self.assertAnswered(d.query('allowed.test'), 'NOERROR', 'not under com')
        self.assertEqual(sorted(m.values('A')), sorted(rig.ALLOWED_A))
        # "." alone: refused, nothing routed
        d.cmd('routes .=%s' % self.local_server, 'routes set')
        self.assertEqual(d.cmd('route www.example.com', 'route'), 'route www.example.com doh')

    def test_dead_network_dns(self):
        d = self.start_driver()
        dead = '127.0.0.1:%d' % rig.free_port(('127.0.0.1',))
        # servers in order: the dead one is skipped for the next
        d.cmd('routes corp.example=%s,%s' % (dead, self.local_server), 'routes set')
        m = self.assertAnswered(d.query('printer.corp.example'), 'NOERROR', 'failover')
        self.assertEqual(m.values('A'), ['10.9.8.7'])
        # only a dead server: SERVFAIL with an Extended DNS Error, like upstream failures
        d.cmd('routes corp.example=%s' % dead, 'routes set')
        before = d.stats()['servfail']
        m = self.assertAnswered(d.query('printer.corp.example'), 'SERVFAIL', 'dead server')
        self.assertIn(m.ede[0][0], (22, 23), m)
        self.assertEqual(d.stats()['servfail'], before + 1)
        # a paused server: per-server timeout, then SERVFAIL (still within the client's patience)
        self.local.pause()
        try:
            d.cmd('routes corp.example=%s' % self.local_server, 'routes set')
            t0 = time.monotonic()
            m = self.assertAnswered(d.query('printer.corp.example'), 'SERVFAIL', 'timeout')
            self.assertLess(time.monotonic() - t0, 4.5)
            self.assertEqual(m.ede[0][0], 22, m)
        finally:
            self.local.resume()
        self.assertEqual(d.stats()['inflight'], 0)

    def test_lookup(self):
        d = self.start_driver()
        self.assertEqual(d.cmd('lookup %s printer.corp.example A' % self.local_server, 'lookup'),
                         'lookup rcode=0 10.9.8.7')
        self.assertEqual(d.cmd('lookup %s allowed.test AAAA' % self.local_server, 'lookup'),
                         'lookup rcode=0 ' + ','.join(rig.ALLOWED_AAAA))
        self.assertEqual(d.cmd('lookup %s nothing.example A' % self.local_server, 'lookup'),
                         'lookup rcode=3 ')
        self.assertRegex(d.cmd('lookup 300.1.1.1 printer A', 'lookup'),
                         r'^lookup error G_IO_ERROR_INVALID_ARGUMENT invalid DNS server "300.1.1.1"')
        dead = '127.0.0.1:%d' % rig.free_port(('127.0.0.1',))
        self.assertRegex(d.cmd('lookup %s printer A' % dead, 'lookup'),
                         r'^lookup error G_IO_ERROR_TIMED_OUT no DNS server answered')

    def test_probe(self):
        d = self.start_driver()
        # a local route for the probe's name does not apply to the probe
        d.cmd('routes test=%s' % self.local_server, 'routes set')
        self.assertEqual(d.cmd('probe probe.test', 'probe'), 'probe ok 192.0.2.77')
        self.assertEqual(d.cmd('probe CHECK.test.', 'probe'), 'probe ok ' + rig.CHECK_A)
        self.assertEqual(d.cmd('probe blocked.example', 'probe'),
                         'probe error G_IO_ERROR_NOT_FOUND the ThreatSTOP service answered '
                         'NXDOMAIN for blocked.example')
        self.assertEqual(d.cmd('probe which.test', 'probe'),
                         'probe error G_IO_ERROR_NOT_FOUND the ThreatSTOP service gave no '
                         'address for which.test')
        self.assertRegex(d.cmd('probe bad..name', 'probe'), r'INVALID_ARGUMENT invalid name')
        # the cache is bypassed: with the service down the probe fails though allowed.test
        # was just answered (and cached) through the relay
        d.cmd('routes', 'routes set')
        self.assertAnswered(d.query('allowed.test'), 'NOERROR')
        self.service.stop()
        self.assertAnswered(d.query('allowed.test'), 'NOERROR', 'cached answer')
        line = d.cmd('probe allowed.test', 'probe', timeout=15)
        self.assertRegex(line, r'^probe error G_IO_ERROR_\w+ the ThreatSTOP service is '
                               r'unreachable: DoH upstream unreachable$')
        d.wait_event('health failing')
        self.assertEqual(d.events.count('health failing'), 1)
        # back: the probe succeeds and the health callback flips back once
        self.service.start()
        rig.wait_until(lambda: d.cmd('probe check.test', 'probe', timeout=15)
                       == 'probe ok ' + rig.CHECK_A, 20, interval=0.5,
                       what='the probe to succeed again')
        d.wait_event('health ok')
        self.assertEqual(d.events, ['health failing', 'health ok'])

    def test_probe_survives_reconfigure_and_free(self):
        other = self.start_unbound('other', extra_zone_lines=['local-data: "probe.test. 60 IN A 192.0.2.78"'])
        d = self.start_driver()
        self.assertEqual(d.cmd('probe probe.test', 'probe'), 'probe ok 192.0.2.77')
        # a probe pending on the old pool when the pool is replaced completes from it
        self.service.pause()
        try:
            d.send('probe probe.test')
            self.assertEqual(d.cmd('reconfigure %s' % other.url, 'reconfigured'), 'reconfigured')
        finally:
            self.service.resume()
        self.assertEqual(d.expect('probe'), 'probe ok 192.0.2.77')
        self.assertEqual(d.cmd('probe probe.test', 'probe'), 'probe ok 192.0.2.78')
        # cancelled by the caller while the service is silent: CANCELLED at once
        other.pause()
        try:
            t0 = time.monotonic()
            self.assertRegex(d.cmd('probe-cancel probe.test', 'probe'),
                             r'^probe error G_IO_ERROR_CANCELLED ')
            self.assertLess(time.monotonic() - t0, 1.0)
        finally:
            other.resume()
        self.assertEqual(d.cmd('probe probe.test', 'probe'), 'probe ok 192.0.2.78')
        # a probe pending when the relay is freed: cancelled, no leak (ASan build), clean exit
        other.pause()
        try:
            d.send('probe-free probe.test')
            d.expect('freed')
            self.assertRegex(d.expect('probe'), r'^probe error G_IO_ERROR_CANCELLED ')
            self.assertEqual(d.proc.wait(15), 0)
        finally:
            other.resume()

    def test_canary(self):
        d = self.start_driver()
        d.cmd('canary Canary-7f3a.TEST', 'canary set')
        m = self.assertAnswered(d.query('canary-7F3A.test', qid=0x777), 'NOERROR', 'canary')
        self.assertEqual(m.values('A'), ['192.0.0.8'])
        self.assertEqual(m.answer[0].ttl, 0)
        self.assertEqual(m.id, 0x777)
        d.wait_event('canary seen Canary-7f3a.TEST')
        # once, then forgotten: the next query goes to the service (which says NXDOMAIN)
        self.assertAnswered(d.query('canary-7f3a.test'), 'NXDOMAIN', 'after the canary')
        self.assertEqual(d.events.count('canary seen Canary-7f3a.TEST'), 1)
        # other types: NOERROR/NODATA; exactly the name (not a subdomain)
        d.cmd('canary c2.test', 'canary set')
        self.assertAnswered(d.query('x.c2.test'), 'NXDOMAIN', 'below the canary')
        m = self.assertAnswered(d.query('c2.test', 'AAAA', tcp=True), 'NOERROR', 'AAAA canary')
        self.assertEqual(m.answer, [])
        d.wait_event('canary seen c2.test')
        # cleared before it is seen: nothing answered locally, no callback
        d.cmd('canary c3.test', 'canary set')
        d.cmd('canary', 'canary cleared')
        self.assertAnswered(d.query('c3.test'), 'NXDOMAIN', 'cleared canary')
        self.assertEqual(d.stats()['local_forwarded'], 0)
        self.assertNotIn('canary seen c3.test', d.events)


if __name__ == '__main__':
    unittest.main()
