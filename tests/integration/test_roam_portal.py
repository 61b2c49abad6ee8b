#!/usr/bin/python3
"""Issue 10 items 1-2: the captive-portal probe against a hostile hotspot, with the real
daemon in the roaming rig (roamrig.py). Whatever the portal sends, the daemon stays
up, every D-Bus string property answers, and PortalUrl is either empty (Reason says
the portal gave no usable address) or a plain http(s) URL with a host, valid UTF-8,
no control characters, at most 2048 bytes. The CLI prints the daemon's strings with
control characters escaped."""

import os
import subprocess
import time
import unicodedata
import urllib.parse

import rig
import roamrig
from busrig import BUS_NAME, IFACE, OBJ_PATH
from roamrig import LOGIN_URL, PORTAL_ADDR, PortalResponder, RoamTestCase

NO_ADDRESS = 'no usable address'

HOSTILE_LOCATIONS = [
    ('javascript', b'javascript:alert(document.cookie)'),
    ('60 KiB', b'http://login.portal.test/' + b'A' * (60 * 1024)),
    ('invalid UTF-8', b'http://login.portal.test/\xff\xfe\xc3'),
    ('ESC', b'http://login.portal.test/\x1b[2J\x1b[31mPWNED'),
    ('C1 CSI', b'http://login.portal.test/\xc2\x9b2J'),
    ('bidi override', 'http://evil.test/\u202egpj.exe'.encode()),
    ('file', b'file:///etc/shadow'),
    ('smb', b'smb://evil.test/share'),
    ('custom scheme', b'x-custom-handler://login.portal.test/'),
    ('no host', b'http:///x'),
    ('userinfo', b'http://bank.example@evil.test/'),
    ('backslash', b'http://bank.example\\@evil.test/'),
]


def check_portal_url(url):
    """The rules of DESIGN "Hostile input" for a published PortalUrl; '' passes."""
    if url == '':
        return None
    raw = url.encode('utf-8')       # a str from D-Bus: valid UTF-8 by construction
    if len(raw) > 2048:
        return 'longer than 2048 bytes (%d)' % len(raw)
    bad = [c for c in url if unicodedata.category(c) in ('Cc', 'Cf', 'Zl', 'Zp')]
    if bad:
        return 'control characters %r' % bad
    u = urllib.parse.urlsplit(url)
    if u.scheme.lower() not in ('http', 'https'):
        return 'scheme %r' % u.scheme
    if not u.hostname:
        return 'no host'
    if u.username is not None or '\\' in url:
        return 'userinfo'
    return None


def busctl_get(prop):
    """The property as busctl reads it (a second, independent D-Bus client)."""
    r = subprocess.run(['busctl', '--address=' + os.environ['DBUS_SYSTEM_BUS_ADDRESS'],
                        'get-property', BUS_NAME, OBJ_PATH, IFACE, prop],
                       capture_output=True, timeout=10)
    return r.returncode, r.stdout, r.stderr


class TestRoamCorePortalHostile(RoamTestCase):

    portal_mode = 'portal'

    def assertAlive(self, d):
        self.assertIsNone(d.proc.poll(), 'the daemon died:\n' + d.log())

    def assertStringsAnswer(self):
        """Every string property answers over D-Bus (GDBus aborts on invalid UTF-8)."""
        p = self.props()
        for name in ('State', 'PortalUrl', 'Reason', 'Network', 'LastError', 'ServiceUrl',
                     'CheckDomain', 'DnsBackend', 'Version'):
            self.assertIsInstance(p[name], str, name)
        rc, out, err = busctl_get('PortalUrl')
        self.assertEqual(rc, 0, 'busctl get-property PortalUrl: %r' % err)
        self.assertTrue(out.startswith(b's '), out[:80])
        out.decode('utf-8')         # valid UTF-8 on the wire too
        return p

    def wait_portal_url(self, pred, what, timeout=8.0):
        rig.wait_until(lambda: pred(str(self.prop('PortalUrl'))), timeout,
                       what='PortalUrl %s (now %r)' % (what, str(self.prop('PortalUrl'))[:120]))

    def test_hostile_locations(self):
        """A portal whose redirect goes to a script, a huge, a non-UTF-8, a control-
        character, a non-web or a host-less address: PortalUrl stays empty, Reason
        says so, the daemon lives on; a good address afterwards is published again."""
        # the service down: `portal` whichever rule decides a portal next to a service
        self.unbound.stop()
        d, _ = self.start_roam_daemon(wait_state='portal')
        self.wait_portal_url(lambda u: u == LOGIN_URL, '= ' + LOGIN_URL)
        for label, location in HOSTILE_LOCATIONS:
            with self.subTest(label):
                self.portal.location = location
                n = len(self.portal.requests)
                self.iface().Reprobe()
                rig.wait_until(lambda: len(self.portal.requests) > n, 5,
                               what='a new probe of the portal')
                self.wait_portal_url(lambda u: u != LOGIN_URL, 'to change (%s)' % label)
                self.assertAlive(d)
                p = self.assertStringsAnswer()
                url = str(p['PortalUrl'])
                self.assertIsNone(check_portal_url(url), '%s: published %r' % (label, url[:200]))
                self.assertEqual(url, '', label)
                self.assertEqual(str(p['State']), 'portal', label)
                self.assertIn(NO_ADDRESS, str(p['Reason']), label)
                # the CLI shows no raw control character either
                r = self.admin('--action=status')
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertNotIn('\x1b', r.stdout)
                # and back to a usable address
                self.portal.location = LOGIN_URL
                self.iface().Reprobe()
                self.wait_portal_url(lambda u: u == LOGIN_URL, 'back to ' + LOGIN_URL)
                self.assertNotIn(NO_ADDRESS, str(self.prop('Reason')))
        self.assertAlive(d)


class TestRoamCoreProbePath(RoamTestCase):
    """Where the probe goes: only to addresses that are not this machine, only through
    the network's own device."""

    def test_loopback_answer_refused(self):
        """The network's DNS says portal.test is 127.0.0.1, where a trap listens on
        port 80 (a local service root's request must never reach): the probe refuses
        the answer, the trap sees nothing, no portal is claimed."""
        trap = PortalResponder('127.0.0.1', 'portal')
        self.addCleanup(trap.close)
        self.netdns.answers['portal.test'] = '127.0.0.1'
        d, _ = self.start_roam_daemon(wait_state='protected')
        d.wait_log(r"refused the address the network's DNS gave for portal\.test: "
                   r"127\.0\.0\.1 \(loopback\)")
        self.assertEqual(trap.requests, [], 'the probe went to 127.0.0.1')
        self.assertEqual(self.portal.requests, [])
        self.assertEqual(str(self.prop('PortalUrl')), '')

    def vpn_takes_every_route(self):
        """A VPN-like link takes every route (0.0.0.0/1, 128.0.0.0/1 and a better
        default) to a second world where PORTAL_ADDR answers 204; returns its responder."""
        vpn = roamrig.PeerNetns()
        self.addCleanup(vpn.close)
        vpn.run('ip', 'addr', 'add', PORTAL_ADDR + '/32', 'dev', 'lo')
        roamrig.link_to(vpn, 'vpn0', 'vgw0', '10.66.0.2', '10.66.0.1', 50,
                        routes=['0.0.0.0/1', '128.0.0.0/1', 'default'])
        self.addCleanup(rig._run, [rig.tool('ip'), 'link', 'del', 'vpn0'])
        beyond_vpn = vpn.inside(lambda: PortalResponder(PORTAL_ADDR, 'full'))
        self.addCleanup(beyond_vpn.close)
        # the system's own route to the portal's address is the VPN's
        route = subprocess.run([rig.tool('ip'), 'route', 'get', PORTAL_ADDR],
                               capture_output=True, text=True).stdout
        self.assertIn('dev vpn0', route)
        return beyond_vpn

    def test_bound_to_the_network_device(self):
        """The probe bound to wlan0 still reaches the hotel's portal behind a VPN that
        takes every route; unbound, it would see the VPN's 204."""
        beyond_vpn = self.vpn_takes_every_route()
        self.portal.mode = 'portal'
        self.unbound.stop()        # `portal` whatever the rule for a portal next to a service
        self.start_roam_daemon(wait_state='portal')
        self.wait_portal_url(lambda u: u == LOGIN_URL, '= ' + LOGIN_URL)
        self.assertTrue(self.portal.requests, 'the hotel saw no probe')
        self.assertEqual(beyond_vpn.requests, [], 'the probe left through the VPN')

    def test_bound_without_cap_net_raw(self):
        """The same with the unit's capabilities only (CapabilityBoundingSet=
        CAP_NET_BIND_SERVICE CAP_NET_ADMIN): binding to a device needs no CAP_NET_RAW
        (kernel >= 5.7), so the probe still leaves through wlan0."""
        beyond_vpn = self.vpn_takes_every_route()
        self.portal.mode = 'portal'
        self.unbound.stop()
        setpriv = [rig.tool('setpriv'), '--bounding-set', '-all,+net_bind_service,+net_admin',
                   '--']

        class Confined(roamrig.RoamDaemon):
            def command(self):
                return setpriv + super().command()

        d = Confined(rig.daemon_binary(), self.path('ddrd'), self.roam_config(), port=53)
        self._daemons.append(d)
        t0 = time.monotonic()
        d.spawn()
        d.wait_ready()
        with open('/proc/%d/status' % d.proc.pid) as f:
            caps = int([ln for ln in f if ln.startswith('CapEff:')][0].split()[1], 16)
        self.assertEqual(caps, (1 << 10) | (1 << 12),
                         'expected CAP_NET_BIND_SERVICE and CAP_NET_ADMIN only: %x' % caps)
        self.wait_state('portal', t0, 15)
        self.wait_portal_url(lambda u: u == LOGIN_URL, '= ' + LOGIN_URL)
        self.assertTrue(self.portal.requests, 'the hotel saw no probe')
        self.assertEqual(beyond_vpn.requests, [], 'the probe left through the VPN')

    def wait_portal_url(self, pred, what, timeout=8.0):
        rig.wait_until(lambda: pred(str(self.prop('PortalUrl'))), timeout,
                       what='PortalUrl %s (now %r)' % (what, str(self.prop('PortalUrl'))[:120]))


class TestRoamCoreCliEscapes(RoamTestCase):

    network = dict(RoamTestCase.network, id='Hotel\x1b[2J\x1b]0;owned\x07WiFi\r\nState: protected')

    def test_status_escapes_control_characters(self):
        """A network name (from the hotspot's SSID) with ESC, BEL, CR and LF: the CLI's
        status prints it escaped, one line, and never the raw bytes."""
        self.start_roam_daemon(wait_state='protected')
        self.assertEqual(str(self.prop('Network')), self.network['id'])
        r = self.admin('--action=status')
        self.assertEqual(r.returncode, 0, r.stderr)
        for c in '\x1b\x07\r':
            self.assertNotIn(c, r.stdout)
        escaped = 'Hotel\\x1b[2J\\x1b]0;owned\\x07WiFi\\r\\nState: protected'
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith('Network:')]
        self.assertEqual(len(lines), 1, r.stdout)
        self.assertIn(escaped, lines[0])
        # the Reason quotes the name: escaped the same way
        self.assertIn(escaped, [ln for ln in r.stdout.splitlines() if ln.startswith('Reason:')][0])
        self.assertFalse(any(ln.startswith('State: protected') for ln in r.stdout.splitlines()),
                         r.stdout)


if __name__ == '__main__':
    import unittest
    unittest.main()
