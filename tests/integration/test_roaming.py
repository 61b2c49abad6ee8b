#!/usr/bin/python3
"""Issue 5, roaming: the real daemon's state machine against the NM mock, a captive
portal, the network's own DNS and the DoH service, in a private network + mount
namespace (roamrig.py). State is the D-Bus property; steering is "our profile is
active in NM". Every transition's reaction time (event -> State) is printed as
`# reaction A->B: N ms`.

meson runs the TestRoamCore* classes in suite 'roaming' (also against the ASan and
libcurl builds) and the TestRoamMore* classes in suite 'e2e'."""

import http.client
import re
import signal
import subprocess
import time

import dbus

import busrig
import nmmock
import rig
import roamrig
import test_dispatcher
from roamrig import (DOH_EXAMPLE_COM, LOGIN_URL, NETWORK_ANSWERS, VPN_ANSWERS,
                     VPN_DNS, VPN_UUID, WIFI_ID, WIFI_UUID, RoamTestCase, reaction)

POLKIT_PAUSE = busrig.POLKIT_PAUSE


class TestRoamMoreRig(RoamTestCase):
    """The rig itself, whatever the controller does: namespaces, the network's DNS,
    the portal responder, and glibc reaching the relay on 127.0.0.1:53."""

    def test_rig(self):
        m = rig.udp_query(roamrig.NETWORK_DNS, 53, 'printer.home.arpa')
        self.assertEqual(m.values('A'), [NETWORK_ANSWERS['printer.home.arpa']])
        m = rig.tcp_query(roamrig.NETWORK_DNS, 53, 'portal.test')
        self.assertEqual(m.values('A'), [roamrig.PORTAL_ADDR])
        self.assertEqual(rig.udp_query(roamrig.NETWORK_DNS, 53, 'check.test').rcode_name,
                         'NXDOMAIN')
        self.assertEqual(self.netdns.queries(), ['printer.home.arpa', 'portal.test',
                                                 'check.test'])
        # the DoH service never answers the portal's name, and has its own example.com
        self.assertEqual(self.unbound.query('portal.test').rcode_name, 'NXDOMAIN')
        self.assertEqual(self.unbound.query('example.com').values('A'), [DOH_EXAMPLE_COM])
        self.start_roam_daemon()
        # glibc -> /etc/resolv.conf -> the relay -> DoH
        self.assertEqual(self.system_resolve('example.com'), [DOH_EXAMPLE_COM])
        self.assertEqual(self.system_resolve('check.test'), [rig.CHECK_A])
        for mode, status in (('full', 204), ('portal', 302), ('wrong', 200)):
            self.portal.mode = mode
            c = http.client.HTTPConnection(roamrig.PORTAL_ADDR, 80, timeout=3)
            c.request('GET', '/generate_204', headers={'Host': 'portal.test'})
            r = c.getresponse()
            status_seen = r.status
            if mode == 'portal':
                self.assertEqual(r.getheader('Location'), LOGIN_URL)
            c.close()
            self.assertEqual(status_seen, status, mode)


class TestRoamCorePortal(RoamTestCase):

    def test_full_portal_login(self):
        """full -> protected; NM says PORTAL and the probe is redirected -> portal with
        the portal's URL, steering off; login -> protected, and the daemon asked NM to
        re-check connectivity once the portal cleared."""
        d, ms = self.start_roam_daemon(wait_state='protected')
        roamrig.note('start->protected', ms)
        self.wait_steering(True)
        p = self.props()
        self.assertIs(bool(p['Protected']), True)
        self.assertEqual(p['UnprotectedSince'], 0)
        self.assertEqual(p['Network'], WIFI_ID)
        self.assertEqual(p['DnsBackend'], 'networkmanager')
        self.assertEqual(p['PortalUrl'], '')
        self.assertTrue(p['ServiceReachable'])
        # the owned profile is the one DESIGN.md describes
        prof = self.nm.own_profile()
        self.assertEqual(prof['connection']['id'], nmmock.OWN_ID)
        self.assertEqual(prof['connection']['interface-name'], nmmock.OWN_IFACE)
        self.assertEqual(prof['ipv4']['dns-priority'], -500)
        self.assertIn('~.', prof['ipv4']['dns-search'])
        self.assertEqual(self.nm.calls('AddConnection2')[0][2][1], 0x22)

        # portal (a real one: nothing but the portal gets through)
        self.real_portal()
        t0 = time.monotonic()
        self.nm.set_connectivity('PORTAL')
        t = self.wait_state('portal', t0)
        reaction('protected->portal', t0, t)
        self.wait_steering(False)
        p = self.props()
        self.assertIs(bool(p['Protected']), False)
        self.assertGreater(p['UnprotectedSince'], time.time() - 60)
        # NM's verdict comes first; the portal's address when our probe has followed it
        rig.wait_until(lambda: self.prop('PortalUrl') == LOGIN_URL, 5,
                       what='PortalUrl = ' + LOGIN_URL)
        # the portal's names come from the network's own DNS
        self.assertIn('portal.test', self.netdns.queries())
        self.steady()

        # login: the portal lets us through, NM still says PORTAL (its back-off); our
        # probe sees the portal clear and asks NM to check now, which finds FULL
        self.nm.clear_calls()
        self.nm.set_check_result('FULL')
        t0 = time.monotonic()
        t_wall = time.time()
        self.portal_login()
        t = self.wait_state('protected', t0, 15)
        reaction('portal->protected(login, NM re-checked)', t0, t)
        self.wait_steering(True)
        # published until our own probe sees the portal gone (at once: the service
        # answering again is the cue to look)
        rig.wait_until(lambda: self.prop('PortalUrl') == '', 5, what='PortalUrl cleared')
        self.assertEqual(self.prop('UnprotectedSince'), 0)
        checks = self.nm.calls('CheckConnectivity')
        self.assertTrue(checks, 'the daemon did not ask NM to re-check after the portal cleared')
        self.assertGreaterEqual(checks[0][0], t_wall - 0.01)
        self.assertEqual(self.nm.manager_prop('Connectivity'), 4)
        self.assertNoReactivation()

    def test_portal_cleared_by_nm(self):
        """NM sees the login first (PORTAL -> FULL), the portal page is gone."""
        self.nm.set_connectivity('PORTAL')
        self.real_portal()
        d, ms = self.start_roam_daemon(wait_state='portal')
        roamrig.note('start->portal', ms)
        self.assertFalse(self.nm.steering_active())
        self.portal_login()
        t0 = time.monotonic()
        self.nm.set_connectivity('FULL')
        t = self.wait_state('protected', t0)
        reaction('portal->protected(NM FULL)', t0, t)
        self.wait_steering(True)
        self.assertEqual(self.prop('PortalUrl'), '')

    def test_portal_seen_by_own_probe_then_dispatcher_event(self):
        """NM says FULL but the probe gets a login page (wrong body) -> portal; after the
        login a dispatcher event (NotifyNetworkEvent) makes the daemon look again."""
        self.real_portal('wrong')
        d, ms = self.start_roam_daemon(wait_state='portal')
        roamrig.note('start->portal(own probe)', ms)
        rig.wait_until(lambda: self.prop('PortalUrl') == roamrig.PORTAL_URL, 5,
                       what='PortalUrl = the probe URL')
        self.wait_steering(False)   # the service check may have steered first
        self.steady()
        self.assertFalse(self.nm.steering_active())
        self.portal_login()
        n0 = self.statistics()['network_events']
        t0 = time.monotonic()
        # the real hook, run the way nm-dispatcher runs it
        p = subprocess.run([test_dispatcher.SCRIPT, '', 'connectivity-change'],
                           env={'PATH': test_dispatcher.PATH,
                                'DBUS_SYSTEM_BUS_ADDRESS': self.bus_rig.address,
                                'CONNECTIVITY_STATE': 'FULL',
                                'NM_DISPATCHER_ACTION': 'connectivity-change'},
                           capture_output=True, text=True, timeout=10)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        t = self.wait_state('protected', t0)
        reaction('portal->protected(dispatcher)', t0, t)
        self.wait_steering(True)
        self.assertEqual(self.statistics()['network_events'], n0 + 1)
        self.assertNoReactivation()

    def test_redirect_while_nm_says_full(self):
        """A portal that only our probe sees (NM's check host is whitelisted by it)."""
        self.real_portal()
        self.start_roam_daemon(wait_state='portal')
        rig.wait_until(lambda: self.prop('PortalUrl') == LOGIN_URL, 5,
                       what='PortalUrl = ' + LOGIN_URL)
        # the service check may have steered before the portal probe answered
        self.wait_steering(False)
        self.steady()
        self.assertFalse(self.nm.steering_active())


class TestRoamCoreFakePortal(RoamTestCase):
    """Issue 10.3: a portal only wins while the service does not answer. One spoofed
    redirect next to a DoH service that answers over verified TLS must not take the
    laptop off the relay; PortalUrl is still published (a tray can offer "log in")
    and the portal's host, the probe host and NM's check host go to the network's
    DNS. A real portal (the service fails too) still means `portal`."""

    # a login host outside the probe host's domain (portal.test is routed anyway)
    login_host = 'login.hotspot.example'
    login_url = 'http://login.hotspot.example/welcome'

    def setUp(self):
        super().setUp()
        self.portal.location = self.login_url
        self.netdns.answers[self.login_host] = '127.0.0.3'

    def assertRoutedToNetwork(self, name):
        m = self.relay(name)
        self.assertIsNotNone(m, name)
        self.assertEqual(m.values('A'), [self.netdns.answers[name]], name)
        self.assertIn(name, self.netdns.queries())

    def test_fake_portal_at_start(self):
        self.portal.mode = 'portal'
        d, ms = self.start_roam_daemon(wait_state='protected')
        roamrig.note('start->protected(fake portal)', ms)
        rig.wait_until(lambda: self.prop('PortalUrl') == self.login_url, 5,
                       what='PortalUrl = ' + self.login_url)
        self.steady()
        self.assertNotIn('portal', [st for _, st in self.watch.changes], self.watch.history())
        self.assertTrue(self.nm.steering_active())
        self.assertIs(bool(self.prop('Protected')), True)
        self.assertIn('portal', str(self.prop('Reason')))
        # "log in" works: the portal's host, the probe host and NM's check host
        # are answered by the network's DNS, not by the service
        for name in (self.login_host, 'portal.test', 'nmcheck.gnome.org'):
            with self.subTest(name=name):
                self.assertRoutedToNetwork(name)
        # the portal's host is that one name, not what is under it or beside it
        for name in ('x.' + self.login_host, 'hotspot.example'):
            m = self.relay(name)
            self.assertEqual(m.rcode_name, 'NXDOMAIN', name)
            self.assertNotIn(name, self.netdns.queries())

    def test_fake_portal_while_protected_then_real_portal(self):
        self.start_roam_daemon(wait_state='protected')
        self.wait_steering(True)
        # a spoofed redirect (and NM believing it): nothing changes but PortalUrl
        self.portal.mode = 'portal'
        t0 = time.monotonic()
        self.nm.set_connectivity('PORTAL')
        rig.wait_until(lambda: self.prop('PortalUrl') == self.login_url, 5,
                       what='PortalUrl = ' + self.login_url)
        roamrig.note('fake portal->PortalUrl published', int((time.monotonic() - t0) * 1000))
        self.steady(1.0)
        self.assertEqual([st for t, st in self.watch.changes if t >= t0], [],
                         self.watch.history(t0))
        self.assertEqual(self.nm.calls('DeactivateConnection'), [],
                         'the steering was taken down for a spoofed portal')
        self.assertRoutedToNetwork(self.login_host)

        # the portal turns out real: the service stops answering -> portal
        t0 = time.monotonic()
        self.unbound.stop()
        self.iface().Reprobe()
        t = self.wait_state('portal', t0)
        reaction('protected->portal(service blocked too)', t0, t)
        self.wait_steering(False)
        self.assertEqual(self.prop('PortalUrl'), self.login_url)

        # login: protected, the portal's host goes back to the service
        t0 = time.monotonic()
        self.nm.set_check_result('FULL')
        self.portal_login()
        t = self.wait_state('protected', t0, 15)
        reaction('portal->protected(login)', t0, t)
        rig.wait_until(lambda: self.prop('PortalUrl') == '', 5, what='PortalUrl cleared')
        self.assertEqual(self.relay(self.login_host).rcode_name, 'NXDOMAIN')


class TestRoamCorePortalFirst(RoamTestCase):

    def test_no_steering_before_the_portal_verdict(self):
        """DESIGN.md: on a network change the portal check comes first; while a portal
        is in the way the system keeps the network's DNS. A portal that answers
        slower (0.5 s) than the DoH service must not get the system steered at all."""
        self.real_portal()
        self.portal.delay = 0.5
        self.start_roam_daemon(wait_state='portal')
        self.wait_steering(False)
        self.steady()
        self.assertEqual([a for _, _, a in self.nm.calls('ActivateConnection')], [],
                         'the owned profile was activated before the portal verdict')


class TestRoamCoreService(RoamTestCase):

    def stop_upstream_and_notice(self):
        self.unbound.stop()
        t0 = time.monotonic()
        # one query through the relay, so that it notices (health from real traffic)
        m = self.relay('allowed.test')
        self.assertIsNotNone(m, 'the relay must answer (SERVFAIL), never stay silent')
        return t0

    def test_upstream_down_fallback_and_back(self):
        self.start_roam_daemon(wait_state='protected')
        self.wait_steering(True)
        t0 = self.stop_upstream_and_notice()
        t = self.wait_state('unreachable', t0, 10)
        reaction('protected->unreachable', t0, t)
        self.wait_steering(False)
        self.assertIs(bool(self.prop('Protected')), False)
        self.assertFalse(self.prop('ServiceReachable'))
        t0 = time.monotonic()
        self.unbound.start()
        t = self.wait_state('protected', t0, 12)
        reaction('unreachable->protected(upstream back)', t0, t)
        self.wait_steering(True)
        self.assertNoReactivation()

    def test_upstream_down_block(self):
        self.start_roam_daemon(wait_state='protected', on_service_unreachable='block')
        t0 = self.stop_upstream_and_notice()
        t = self.wait_state('unreachable', t0, 10)
        reaction('protected->unreachable(block)', t0, t)
        self.steady()
        self.assertTrue(self.nm.steering_active(), 'block keeps the system on the relay')
        # the relay answers SERVFAIL rather than leaking to the network's DNS
        m = self.relay('example.com')
        self.assertIsNotNone(m)
        self.assertEqual(m.rcode_name, 'SERVFAIL')
        self.assertNotIn('example.com', self.netdns.queries())

    def test_reprobe_notices_upstream_down(self):
        self.start_roam_daemon(wait_state='protected')
        self.unbound.stop()
        t0 = time.monotonic()
        self.iface().Reprobe()
        t = self.wait_state('unreachable', t0, 10)
        reaction('protected->unreachable(Reprobe)', t0, t)
        self.wait_steering(False)


class TestRoamMoreConnectivity(RoamTestCase):

    def test_offline_and_back(self):
        self.start_roam_daemon(wait_state='protected')
        t0 = time.monotonic()
        self.nm.set_connectivity('NONE')
        t = self.wait_state('offline', t0)
        reaction('protected->offline', t0, t)
        self.steady()
        t0 = time.monotonic()
        self.nm.set_connectivity('FULL')
        t = self.wait_state('protected', t0)
        reaction('offline->protected', t0, t)
        self.wait_steering(True)
        self.assertNoReactivation()

    def test_network_goes_away_and_comes_back(self):
        self.start_roam_daemon(wait_state='protected')
        t0 = time.monotonic()
        self.nm.remove_network(WIFI_UUID)
        t = self.wait_state('offline', t0)
        reaction('protected->offline(network gone)', t0, t)
        t0 = time.monotonic()
        self.nm.set_network(**self.network)
        t = self.wait_state('protected', t0)
        reaction('offline->protected(new network)', t0, t)
        self.wait_steering(True)
        self.assertEqual(self.prop('Network'), WIFI_ID)


class TestRoamCorePause(RoamTestCase):

    def test_pause_and_resume(self):
        self.allow(POLKIT_PAUSE)
        self.start_roam_daemon(wait_state='protected')
        t0 = time.monotonic()
        now = time.time()
        self.iface().Pause(dbus.UInt32(1))
        t = self.wait_state('paused', t0)
        reaction('protected->paused', t0, t)
        self.wait_steering(False)
        until = int(self.prop('PausedUntil'))
        self.assertGreaterEqual(until, int(now) + 58)
        self.assertLessEqual(until, int(time.time()) + 62)
        self.assertIs(bool(self.prop('Protected')), False)
        self.steady()
        t0 = time.monotonic()
        self.iface().Resume()
        t = self.wait_state('protected', t0)
        reaction('paused->protected(Resume)', t0, t)
        self.wait_steering(True)
        self.assertEqual(self.prop('PausedUntil'), 0)
        self.assertNoReactivation()

    def test_pause_expires(self):
        self.allow(POLKIT_PAUSE)
        self.start_roam_daemon(wait_state='protected',
                               env={'THREATSTOP_DDR_MINUTE_MS': '1500'})
        t0 = time.monotonic()
        self.iface().Pause(dbus.UInt32(1))
        self.wait_state('paused', t0)
        self.wait_steering(False)
        t = self.wait_state('protected', t0, 10)
        ms = reaction('paused->protected(expiry of 1500 ms)', t0, t)
        self.assertGreaterEqual(ms, 1400)
        self.wait_steering(True)


class TestRoamMoreTrust(RoamTestCase):

    def test_trusted_network_by_uuid(self):
        d, ms = self.start_roam_daemon(wait_state='trusted', trusted_networks=WIFI_UUID)
        roamrig.note('start->trusted(uuid)', ms)
        self.steady()
        self.assertFalse(self.nm.steering_active())
        self.assertIs(bool(self.prop('Protected')), False)
        self.assertEqual(self.prop('Network'), WIFI_ID)

    def test_trust_protected_network(self):
        # the network's DNS answers check-domain as the service does
        self.netdns.answers['check.test'] = rig.CHECK_A
        d, ms = self.start_roam_daemon(wait_state='trusted', trust_protected_networks='true')
        roamrig.note('start->trusted(protected network)', ms)
        self.steady()
        self.assertFalse(self.nm.steering_active())
        self.assertIn('check.test', self.netdns.queries())

    def test_trust_protected_never_on_failed_service(self):
        """Issue 10.8: the network answers check-domain as the service would, but the
        service itself does not answer: nothing to compare with, so no trust - the
        network's DNS is used because the service is unreachable, not because the
        network is protected."""
        self.netdns.answers['check.test'] = rig.CHECK_A
        self.unbound.stop()
        d, ms = self.start_roam_daemon(wait_state='unreachable', trust_protected_networks='true')
        roamrig.note('start->unreachable(trust-protected, service down)', ms)
        self.steady(1.0)
        self.assertNotIn('trusted', [s for _, s in self.watch.changes], self.watch.history())
        self.assertIn('check.test', self.netdns.queries())

    def test_trust_protected_requires_check_domain(self):
        """Issue 10.8: trust-protected-networks=true without check-domain is a
        configuration error (exit 2) that names both keys."""
        cfg = self.roam_config(trust_protected_networks='true')
        del cfg['service']['check-domain']
        path = self.path('ddr.conf')
        with open(path, 'w') as f:
            f.write(rig.format_config(cfg))
        r = subprocess.run([rig.daemon_binary(), '--config', path], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('trust-protected-networks', r.stderr)
        self.assertIn('check-domain', r.stderr)

    def test_trust_protected_off_by_default(self):
        self.netdns.answers['check.test'] = rig.CHECK_A
        self.start_roam_daemon(wait_state='protected', trust_protected_networks='false')
        self.steady()
        self.assertTrue(self.nm.steering_active())


class TestRoamMoreCanary(RoamTestCase):

    def test_canary_missing_not_protected(self):
        """Protected is proved, not assumed: when the system resolver does not reach
        the relay (the canary never arrives) the daemon must not say protected and
        must not leave the system steered."""
        self.system_resolver_elsewhere(roamrig.NETWORK_DNS)
        t0 = time.monotonic()
        self.start_roam_daemon(wait_state='unreachable', timeout=20)
        self.wait_steering(False)
        self.steady()
        self.assertNotIn('protected', [s for _, s in self.watch.changes if _ >= t0],
                         self.watch.history(t0))
        self.assertFalse(self.nm.steering_active())
        self.assertIs(bool(self.prop('Protected')), False)
        # it did try: the profile was activated, then taken back
        self.assertTrue(self.nm.calls('ActivateConnection'))
        self.assertTrue(self.nm.calls('DeactivateConnection'))
        self.assertTrue([q for q in self.netdns.queries() if q.endswith('.arpa')],
                        'the canary went through the system resolver (here: the network DNS)')


class TestRoamMoreSplitDns(RoamTestCase):

    # a hostile hotspot: DHCP hands out the search domain "com"
    network = dict(RoamTestCase.network, domains=['com'])

    def test_split_dns_while_protected(self):
        self.nm.add_vpn(id='CorpVPN', uuid=VPN_UUID, iface='tun0', servers=[VPN_DNS],
                        domains=['corp.example'])
        self.netdns.answers['nas.office.lan'] = '192.168.77.52'
        self.netdns.answers['nas.branch.example'] = '192.168.77.53'
        self.start_roam_daemon(wait_state='protected', local_domains='branch.example')
        self.wait_steering(True)
        for name in ('printer', 'printer.home.arpa', 'nas.office.lan', 'nas.branch.example'):
            with self.subTest(name=name):
                m = self.relay(name)
                self.assertIsNotNone(m, name)
                self.assertEqual(m.values('A'), [self.netdns.answers[name]], name)
                self.assertIn(name, self.netdns.queries())
        m = self.relay('intranet.corp.example')
        self.assertIsNotNone(m)
        self.assertEqual(m.values('A'), [VPN_ANSWERS['intranet.corp.example']])
        self.assertIn('intranet.corp.example', self.vpndns.queries())
        self.assertNotIn('intranet.corp.example', self.netdns.queries())
        # the hostile search domain "com" does not route example.com around the service
        m = self.relay('example.com')
        self.assertEqual(m.values('A'), [DOH_EXAMPLE_COM])
        self.assertEqual(self.system_resolve('example.com'), [DOH_EXAMPLE_COM])
        self.assertNotIn('example.com', self.netdns.queries())
        self.assertNotIn('example.com', self.vpndns.queries())


class TestRoamMoreProxyDiscovery(RoamTestCase):
    """Issue 12.10: wpad and isatap names (any label, single-label included) never go
    to an untrusted network's DNS - a hotspot that answers them becomes the web proxy
    or the IPv6 router of every program that asks. The relay answers them NXDOMAIN
    itself (at once, service up or down); a VPN's DNS still gets its own domain's."""

    def test_wpad_never_forwarded_to_the_network(self):
        self.nm.add_vpn(id='CorpVPN', uuid=VPN_UUID, iface='tun0', servers=[VPN_DNS],
                        domains=['corp.example'])
        names = ('wpad', 'isatap', 'WPAD.home.arpa', 'wpad.lan', 'wpad.branch.example',
                 'isatap.internal', 'proxy.wpad.lan')
        for n in names:      # the hostile network would answer every one of them
            self.netdns.answers[n.lower()] = '192.168.77.66'
        self.start_roam_daemon(wait_state='protected', local_domains='branch.example')
        for name in names:
            with self.subTest(name=name):
                t0 = time.monotonic()
                m = self.relay(name)
                ms = (time.monotonic() - t0) * 1000
                self.assertIsNotNone(m, name)
                self.assertEqual(m.rcode_name, 'NXDOMAIN', name)
                self.assertLess(ms, 500, name)
        self.assertEqual([q for q in self.netdns.queries() if 'wpad' in q or 'isatap' in q],
                         [], 'proxy discovery names reached the network DNS')
        self.assertEqual(self.system_resolve('wpad'), [])
        # ordinary local names still go to the network, the VPN still gets its own
        m = self.relay('printer')
        self.assertEqual(m.values('A'), [NETWORK_ANSWERS['printer']])
        self.relay('wpad.corp.example')
        self.assertIn('wpad.corp.example', self.vpndns.queries())


class TestRoamMoreLocalFailsFast(RoamTestCase):
    """Issue 12.9: a local name that the network's DNS never answers (a single label on
    a network whose DHCP domain is not trusted) must fail fast. glibc with its default
    options (timeout 5 s, 2 attempts) asks AAAA then A and retries a SERVFAIL: each
    query waited the relay's whole local timeout (2 s), 8 s in all for `getent hosts`.
    A name whose local server did not answer a moment ago is answered SERVFAIL at
    once for a few seconds. (Under systemd-resolved a single label never reaches the
    relay: resolved tries LLMNR only - see the notes.)"""

    def getent(self, *args):
        t0 = time.monotonic()
        r = subprocess.run(['getent'] + list(args), capture_output=True, text=True, timeout=60)
        return r.returncode, time.monotonic() - t0

    def test_unanswered_single_label_fails_fast(self):
        self.start_roam_daemon(wait_state='protected')
        roamrig.write_resolv_conf('127.0.0.1', options=None)     # glibc's defaults
        self.addCleanup(roamrig.write_resolv_conf, '127.0.0.1')
        self.netdns.unknown = 'drop'
        rc, s = self.getent('hosts', 'gw')
        roamrig.note('getent hosts gw, network DNS silent', int(s * 1000))
        self.assertEqual(rc, 2)
        self.assertLess(s, 3.0, 'a failing single-label lookup took %.1f s' % s)
        rc, s = self.getent('ahosts', 'gw2')
        roamrig.note('getent ahosts gw2, network DNS silent', int(s * 1000))
        self.assertEqual(rc, 2)
        self.assertLess(s, 3.0)
        self.assertTrue(self.netdns.queries('gw'), 'the network DNS was asked first')
        # the relay still says why (SERVFAIL, never silence), and a name the network
        # answers is unaffected
        m = self.relay('gw')
        self.assertEqual(m.rcode_name, 'SERVFAIL')
        self.assertEqual(self.relay('printer').values('A'), [NETWORK_ANSWERS['printer']])
        # a network DNS that refuses (dnsmasq without upstream servers) fails at once
        self.netdns.unknown = 'refused'
        rc, s = self.getent('hosts', 'gw3')
        roamrig.note('getent hosts gw3, network DNS refuses', int(s * 1000))
        self.assertEqual(rc, 2)
        self.assertLess(s, 1.0)


class TestRoamMoreSleep(RoamTestCase):

    def test_resume_from_suspend_drops_and_reprobes(self):
        self.start_logind()
        d, _ = self.start_roam_daemon(wait_state='protected')
        n0 = self.statistics()['network_events']
        start = len(d.log())
        self.prepare_for_sleep(True)
        t0 = time.monotonic()
        self.prepare_for_sleep(False)
        rig.wait_until(lambda: self.statistics()['network_events'] > n0
                       or re.search(r'(?i)resum', d.log()[start:]), 5,
                       what='the daemon to react to PrepareForSleep(false)')
        # it looks again (probing) and is protected afterwards
        t = self.wait_state('protected', t0)
        reaction('resume from suspend->protected', t0, t)
        self.wait_steering(True)
        self.assertAnswered(self.relay('allowed.test'), 'NOERROR', 'after resume')
        self.assertNoReactivation()


class TestRoamCoreCrash(RoamTestCase):

    def test_stop_with_checks_in_flight(self):
        """SIGTERM while the portal probe (a slow portal), the service probe and the
        canary are in flight, at start, after Reprobe and after a dispatcher event:
        a clean exit 0 each time and nothing left steered (a stop once crashed with
        checks pending)."""
        for moment in ('start', 'reprobe', 'event'):
            self.portal.delay = 0.0
            d, _ = self.start_roam_daemon(name='ddrd-' + moment,
                                          wait_state=None if moment == 'start' else 'protected')
            self.portal.delay = 3.0
            if moment == 'reprobe':
                self.iface().Reprobe()
            elif moment == 'event':
                self.iface().NotifyNetworkEvent('up', 'wlan0', {'CONNECTION_ID': WIFI_ID})
            time.sleep(0.05)
            self.assertEqual(d.stop(), 0, moment)
            self.assertFalse(self.nm.steering_active(), moment)
        self.portal.delay = 0.0


    def test_sigkill_then_restore_dns(self):
        d, _ = self.start_roam_daemon(wait_state='protected')
        self.wait_steering(True)
        d.signal(signal.SIGKILL)
        d.wait_exit()
        d.proc = None
        rig.wait_until(lambda: not self.bus.name_has_owner(busrig.BUS_NAME), 5,
                       what='the bus name to go')
        # nothing undid the steering: that is what restore-dns is for
        self.assertTrue(self.nm.steering_active())
        self.nm.clear_calls()
        p = self.admin('--action=restore-dns')
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertFalse(self.nm.steering_active())
        self.assertIsNone(self.nm.own_profile())
        names = [a[0] for _, _, a in self.nm.calls() if a[0] != 'GetSettings']
        self.assertIn('Delete', names)

    def test_restart_removes_stale_profile(self):
        d, _ = self.start_roam_daemon(wait_state='protected')
        d.signal(signal.SIGKILL)
        d.wait_exit()
        d.proc = None
        self.assertTrue(self.nm.steering_active())
        self.nm.clear_calls()
        d2, ms = self.start_roam_daemon(name='ddrd2', wait_state='protected')
        roamrig.note('restart->protected', ms)
        names = [a[0] for _, _, a in self.nm.calls() if a[0] != 'GetSettings']
        self.assertIn('Delete', names, names)
        self.assertIn('AddConnection2', names, names)
        self.assertLess(names.index('Delete'), names.index('AddConnection2'), names)
        self.assertTrue(self.nm.steering_active())

    def test_stop_restores(self):
        d, _ = self.start_roam_daemon(wait_state='protected')
        self.wait_steering(True)
        d.stop()
        self.assertFalse(self.nm.steering_active())
        self.assertIsNone(self.nm.own_profile())


class TestRoamMoreChanges(RoamTestCase):

    def test_nm_restart_while_protected(self):
        """NM restarts (it forgets in-memory profiles): the daemon steers again."""
        self.start_roam_daemon(wait_state='protected')
        self.wait_steering(True)
        t0 = time.monotonic()
        self.nm.restart()
        t = self.wait_state('protected', t0, 15)
        self.wait_steering(True, 10)
        reaction('NM restart->protected', t0, t)
        # NM's absence was noticed (the profile had gone with it)
        self.assertNotEqual(self.watch.history(t0).split(' -> ')[0].split('@')[0],
                            'protected', self.watch.history(t0))
        print('# NM restart: %s' % self.watch.history(t0), flush=True)
        self.assertIsNotNone(self.nm.own_profile())
        self.steady()

    def test_roam_to_another_network(self):
        """From the hotel Wi-Fi to a wired office network without a gap: the daemon
        follows (Network, probes again) and never re-activates its profile."""
        self.start_roam_daemon(wait_state='protected')
        t0 = time.monotonic()
        self.nm.set_network(id='OfficeLAN', uuid='5f0c4b0e-3333-4a6b-9a39-000000000003',
                            iface='eth0', type='802-3-ethernet', servers=[roamrig.NETWORK_DNS],
                            connectivity='FULL')
        self.nm.remove_network(WIFI_UUID)
        self.nm.set_connectivity('FULL')
        rig.wait_until(lambda: self.prop('Network') == 'OfficeLAN', 5, what='Network = OfficeLAN')
        t = self.wait_state('protected', t0)
        reaction('roam hotel->office', t0, t)
        self.wait_steering(True)
        self.steady()
        self.assertNoReactivation()

    def test_vpn_comes_up_while_protected(self):
        """A VPN connects: its domain goes to its DNS from then on."""
        self.start_roam_daemon(wait_state='protected')
        m = self.relay('intranet.corp.example')
        self.assertEqual(m.values('A'), [], 'the VPN domain before the VPN: the service')
        t0 = time.monotonic()
        self.nm.add_vpn(id='CorpVPN', uuid=VPN_UUID, iface='tun0', servers=[VPN_DNS],
                        domains=['corp.example'])

        def via_vpn():
            m = self.relay('intranet.corp.example')
            return m is not None and m.values('A') == [VPN_ANSWERS['intranet.corp.example']]
        rig.wait_until(via_vpn, 5, interval=0.01, what='the VPN domain to go to the VPN DNS')
        roamrig.note('VPN up->its domain routed', int((time.monotonic() - t0) * 1000))
        self.assertIn('intranet.corp.example', self.vpndns.queries())
        self.assertEqual(self.state(), 'protected')
        self.assertTrue(self.nm.steering_active())

    def test_wireguard_domains_to_its_dns(self):
        """Issue 10.9: NM's native WireGuard connection (a device connection, not a VPN
        plugin) is a VPN for split DNS: its domain goes to its DNS server."""
        self.start_roam_daemon(wait_state='protected')
        t0 = time.monotonic()
        self.nm.add_vpn(id='wg-office', uuid=VPN_UUID, iface='wg0', servers=[VPN_DNS],
                        domains=['corp.example'], type='wireguard')

        def via_vpn():
            m = self.relay('intranet.corp.example')
            return m is not None and m.values('A') == [VPN_ANSWERS['intranet.corp.example']]
        rig.wait_until(via_vpn, 5, interval=0.01,
                       what='the WireGuard domain to go to the WireGuard DNS')
        roamrig.note('WireGuard up->its domain routed', int((time.monotonic() - t0) * 1000))
        self.assertNotIn('intranet.corp.example', self.netdns.queries())
        self.assertEqual(self.state(), 'protected')

    def test_reload_into_trusted(self):
        """trusted-networks added to the file + Reload(): the daemon stands down;
        removed again + SIGHUP: protected again."""
        self.allow(busrig.POLKIT_CONFIGURE)
        d, _ = self.start_roam_daemon(wait_state='protected')
        d.config['roaming']['trusted-networks'] = WIFI_UUID
        d.write_config()
        t0 = time.monotonic()
        self.iface().Reload()
        t = self.wait_state('trusted', t0)
        reaction('protected->trusted(Reload)', t0, t)
        self.wait_steering(False)
        del d.config['roaming']['trusted-networks']
        d.write_config()
        t0 = time.monotonic()
        d.signal(signal.SIGHUP)
        t = self.wait_state('protected', t0)
        reaction('trusted->protected(SIGHUP)', t0, t)
        self.wait_steering(True)


class TestRoamMoreNoNM(RoamTestCase):

    network = None
    start_nm = False

    def test_no_nm_auto_forwards(self):
        d, ms = self.start_roam_daemon(wait_state='forwarding', enabled='auto',
                                       dns_backend='auto')
        self.steady()
        self.assertIs(bool(self.prop('Protected')), False)
        self.assertEqual(self.prop('UnprotectedSince'), 0)
        self.assertAnswered(self.relay('allowed.test'), 'NOERROR', 'relay without NM')


if __name__ == '__main__':
    import unittest
    unittest.main()
