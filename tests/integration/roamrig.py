#!/usr/bin/python3
"""Roaming test rig (issue 5): the real daemon with [roaming] on, the NM mock (nmmock.py),
a network of its own in a private network + mount namespace:

* 127.0.0.1:53   the daemon's relay (the system resolver's only server: a resolv.conf
                 with `nameserver 127.0.0.1` is bind-mounted over /etc/resolv.conf, so
                 the daemon's canary through glibc reaches the relay);
* 127.0.0.2:53   the network's own DNS (NetworkDNS): portal.test, printer,
                 printer.home.arpa, example.com (an address the DoH service does not
                 give), optionally check.test; it logs every query;
* 127.0.0.4:53   a VPN's DNS: intranet.corp.example;
* wlan0, eth0     real links (veth pairs) to a second namespace, the hotel
                 (PeerNetns): wlan0 198.18.0.2/24, eth0 198.18.1.2/24, each with a
                 default route through the hotel (198.18.0.1, 198.18.1.1), as NM gives
                 every device one; the portal probe is bound to the network's device;
* 203.0.113.3:80 in the hotel: the captive-portal responder (PortalResponder): full
                 (204), portal (302 to http://login.portal.test/) or wrong (200 with a
                 body) - not a loopback address, which the probe refuses from DNS;
* unbound        the DoH service (rig.Unbound), stoppable; it never answers portal.test.

Importing this module moves the process into new network and mount namespaces
(unshare(2)); enter_private_world() then brings lo up, bind-mounts the resolv.conf and
builds the hotel behind wlan0 and eth0.

State changes are timed from the D-Bus PropertiesChanged signals (StateWatcher); every
reaction time is printed as a TAP comment (`# reaction portal->protected: 312 ms`) and
collected in REACTIONS."""

import atexit
import http.server
import os
import shutil
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time

import dbus
import dbusmock

import busrig
import nmmock
import rig
from busrig import BUS_NAME, IFACE, OBJ_PATH, PROPS

NETWORK_DNS = '127.0.0.2'
PORTAL_ADDR = '203.0.113.3'
VPN_DNS = '127.0.0.4'
PORTAL_URL = 'http://portal.test/generate_204'
LOGIN_URL = 'http://login.portal.test/'
WIFI_UUID = '5f0c4b0e-1111-4a6b-9a39-000000000001'
WIFI_ID = 'HotelWiFi'
VPN_UUID = '5f0c4b0e-2222-4a6b-9a39-000000000002'

# what the network's own DNS answers (distinct from anything the DoH service says)
NETWORK_ANSWERS = {
    'portal.test': '203.0.113.3',
    'login.portal.test': '203.0.113.3',
    'nmcheck.gnome.org': '203.0.113.3',
    'printer': '192.168.77.50',
    'printer.home.arpa': '192.168.77.51',
    'example.com': '198.51.100.80',
}
VPN_ANSWERS = {'intranet.corp.example': '10.8.0.50'}
DOH_EXAMPLE_COM = '192.0.2.80'      # what the DoH service answers for example.com

REACTIONS = []                       # (label, ms)


# ------------------------------------------------------------------------------------
# The private network + mount namespace
# ------------------------------------------------------------------------------------

_world = {}


CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000


def _unshare():
    """New network and mount namespaces for this process and everything it starts.
    Done at import, while the process has one thread (unshare(CLONE_NEWNS) refuses a
    threaded process), so no test can reach the machine's real port 53 or its
    /etc/resolv.conf."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET | CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        _world['error'] = 'unshare(CLONE_NEWNET|CLONE_NEWNS) failed: %s (the roaming ' \
            'tests need root and one thread at import)' % os.strerror(err)
        return
    _world['unshared'] = True
    if not os.path.ismount('/'):
        raise AssertionError('/ is not a mount point (a directory entered with plain chroot?): '
                             'mounts cannot be made private here. Bind-mount the chroot\'s '
                             'directory onto itself first, as schroot and sbuild do.')
    # like unshare(1): nothing we mount propagates back to the real mount namespace
    rig._run([rig.tool('mount'), '--make-rprivate', '/'])


_unshare()


def write_resolv_conf(server, options='timeout:1 attempts:1', search=None):
    """The system resolver's configuration (the file bind-mounted over /etc/resolv.conf
    in our mount namespace; glibc notices the change). options=None: glibc's defaults
    (timeout 5 s, 2 attempts), as on a real system."""
    # in place: the bind mount holds this very inode
    with open(_world['resolv.conf'], 'w') as f:
        f.write('# threatstop-ddr roaming tests: the system resolver\nnameserver %s\n' % server)
        if search:
            f.write('search %s\n' % search)
        if options:
            f.write('options %s\n' % options)


def world_root():
    """The root whose etc/resolv.conf is bind-mounted over /etc/resolv.conf."""
    return _world['root']


def rename_resolv_conf(new):
    """A new file renamed over world_root()/etc/resolv.conf, as glibc sees it without
    the bind mount (which holds an inode, not a name): bound over /etc/resolv.conf
    first (a mount makes no inotify event), then renamed (the event a watcher hears)."""
    rig._run([rig.tool('umount'), '/etc/resolv.conf'])
    rig._run([rig.tool('mount'), '--bind', new, '/etc/resolv.conf'])
    os.rename(new, _world['resolv.conf'])


class PeerNetns:
    """Another network namespace, held by a sleeping child (no /run/netns file is made):
    commands run in it through nsenter, sockets are made in it by inside()."""

    CLONE_NEWNET = 0x40000000

    def __init__(self):
        own = os.readlink('/proc/self/ns/net')
        self.proc = subprocess.Popen([rig.tool('unshare'), '--net', rig.tool('sleep'),
                                      'infinity'])
        self.path = '/proc/%d/ns/net' % self.proc.pid
        rig.wait_until(lambda: os.readlink(self.path) != own, 5,
                       what='a new network namespace')
        self.run('ip', 'link', 'set', 'lo', 'up')

    def run(self, *cmd):
        rig._run([rig.tool('nsenter'), '-t', str(self.proc.pid), '-n', rig.tool(cmd[0])]
                 + list(cmd[1:]))

    def inside(self, make):
        """make() with this thread in the namespace: the sockets it creates stay there."""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        back = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
        there = os.open(self.path, os.O_RDONLY)
        try:
            if libc.setns(there, self.CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), 'setns into the peer namespace')
            try:
                return make()
            finally:
                if libc.setns(back, self.CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), 'setns back')
        finally:
            os.close(back)
            os.close(there)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def link_to(peer, dev, peer_dev, addr, peer_addr, metric, prefix=24, routes=None):
    """A veth pair dev (here, addr/prefix) <-> peer_dev (in peer, peer_addr/prefix); the
    routes given (default: a default route with metric) go through peer_addr."""
    ip = rig.tool('ip')
    rig._run([ip, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', peer_dev, 'netns',
              str(peer.proc.pid)])
    rig._run([ip, 'addr', 'add', '%s/%d' % (addr, prefix), 'dev', dev])
    rig._run([ip, 'link', 'set', dev, 'up'])
    peer.run('ip', 'addr', 'add', '%s/%d' % (peer_addr, prefix), 'dev', peer_dev)
    peer.run('ip', 'link', 'set', peer_dev, 'up')
    for route in routes or ['default']:
        rig._run([ip, 'route', 'add', route, 'via', peer_addr, 'dev', dev, 'metric',
                  str(metric)])


def enter_private_world():
    """lo up and /etc/resolv.conf -> 127.0.0.1, once per process, only inside the
    namespaces made at import (never on the machine's real configuration)."""
    if _world.get('ready'):
        return
    if not _world.get('unshared'):
        raise AssertionError(_world.get('error', 'not in private namespaces'))
    if [n for _, n in socket.if_nameindex()] != ['lo']:
        raise AssertionError('expected a fresh network namespace with only lo, found %r'
                             % socket.if_nameindex())
    rig._run([rig.tool('ip'), 'link', 'set', 'lo', 'up'])
    tmpdir = tempfile.mkdtemp(prefix='ddr-roam-world-')

    def remove_world():
        # the file is a mount point in our namespace: unmount, then it can go
        subprocess.run([rig.tool('umount'), '/etc/resolv.conf'], capture_output=True)
        shutil.rmtree(tmpdir, True)
    atexit.register(remove_world)
    # under etc/ of a root: THREATSTOP_DDR_ROOT=world_root() makes the daemon's
    # root-prefixed /etc/resolv.conf the very file glibc reads through the bind mount
    os.mkdir(os.path.join(tmpdir, 'etc'))
    _world['root'] = tmpdir
    _world['resolv.conf'] = os.path.join(tmpdir, 'etc', 'resolv.conf')
    write_resolv_conf('127.0.0.1')
    rig._run([rig.tool('mount'), '--bind', _world['resolv.conf'], '/etc/resolv.conf'])
    with open('/etc/resolv.conf') as f:
        assert 'threatstop-ddr roaming tests' in f.read(), 'resolv.conf bind mount failed'
    # the hotel: the portal's address behind the network's devices
    hotel = _world['hotel'] = PeerNetns()
    atexit.register(hotel.close)
    hotel.run('ip', 'addr', 'add', PORTAL_ADDR + '/32', 'dev', 'lo')
    link_to(hotel, 'wlan0', 'gw0', '198.18.0.2', '198.18.0.1', 600)
    link_to(hotel, 'eth0', 'gw1', '198.18.1.2', '198.18.1.1', 700)
    _world['ready'] = True


def hotel():
    """The namespace behind wlan0 and eth0 (PeerNetns)."""
    return _world['hotel']


# ------------------------------------------------------------------------------------
# A plain DNS server (the network's own, or a VPN's)
# ------------------------------------------------------------------------------------

def _answer(query, answers, unknown='nxdomain'):
    msg = rig.Message(query)
    if not msg.questions:
        return None, None
    name, qtype, qclass = msg.questions[0]
    key = name.rstrip('.').lower()
    qd_end = 12
    for _ in range(len(msg.questions)):
        _, qd_end = rig.decode_name(query, qd_end)
        qd_end += 4
    question = query[12:qd_end]
    addr = answers.get(key)
    if addr is None:
        # '*.zone' answers every name under zone
        labels = key.split('.')
        for i in range(1, len(labels)):
            addr = answers.get('*.' + '.'.join(labels[i:]))
            if addr is not None:
                break
    flags = 0x8000 | 0x0400 | (msg.flags & 0x0100) | 0x0080
    if addr is None and unknown == 'drop':
        return key, None
    if addr is None:
        rcode = {'refused': 5, 'servfail': 2}.get(unknown, 3)
        return key, struct.pack('!6H', msg.id, flags | rcode, 1, 0, 0, 0) + question
    if qtype != 1:
        return key, struct.pack('!6H', msg.id, flags, 1, 0, 0, 0) + question
    rr = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 30, 4) + socket.inet_aton(addr)
    return key, struct.pack('!6H', msg.id, flags, 1, 1, 0, 0) + question + rr


class NetworkDNS:
    """UDP + TCP DNS on addr:53 answering A records from `answers` (a key '*.zone'
    answers every name under zone); other names get `unknown`: 'nxdomain' (default),
    'refused' (a dnsmasq without upstream servers answers so), 'servfail' or 'drop'
    (no answer at all). `log` lists every query name, lower case, without the final
    dot."""

    def __init__(self, addr, answers):
        self.addr = addr
        self.answers = dict(answers)
        self.unknown = 'nxdomain'
        self.log = []
        self._lock = threading.Lock()
        self._stop = False
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((addr, 53))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((addr, 53))
        self.tcp.listen(16)
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def _note(self, query):
        key, reply = _answer(query, self.answers, self.unknown)
        if key is not None:
            with self._lock:
                self.log.append(key)
        return reply

    def _serve_udp(self):
        while not self._stop:
            try:
                data, peer = self.udp.recvfrom(4096)
                reply = self._note(data)
                if reply:
                    self.udp.sendto(reply, peer)
            except OSError:
                return
            except Exception:  # noqa: BLE001 - a malformed query must not kill the server
                continue

    def _serve_tcp(self):
        while not self._stop:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            try:
                conn.settimeout(2)
                while True:
                    ln = struct.unpack('!H', rig.recv_exact(conn, 2))[0]
                    reply = self._note(rig.recv_exact(conn, ln))
                    if reply:
                        conn.sendall(rig.tcp_frame(reply))
            except Exception:  # noqa: BLE001
                pass
            finally:
                conn.close()

    def queries(self, name=None):
        with self._lock:
            return [q for q in self.log if name is None or q == name]

    def close(self):
        self._stop = True
        for s in (self.udp, self.tcp):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


# ------------------------------------------------------------------------------------
# The captive-portal responder
# ------------------------------------------------------------------------------------

class PortalResponder:
    """HTTP on addr:80. mode: 'full' (204), 'portal' (302 to `location`, LOGIN_URL
    unless a test sets another: str or raw bytes, sent as they are), 'wrong' (200 with an
    HTML body). `requests` lists (Host, path)."""

    def __init__(self, addr, mode='full'):
        self.mode = mode
        self.location = LOGIN_URL   # where 'portal' redirects to
        self.delay = 0.0      # seconds before answering (a slow portal)
        self.requests = []
        rig_self = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                rig_self.requests.append((self.headers.get('Host', ''), self.path))
                if rig_self.delay:
                    time.sleep(rig_self.delay)
                if rig_self.mode == 'portal':
                    self.send_response(302)
                    loc = rig_self.location
                    # http.server sends header text as latin-1: that carries any byte
                    self.send_header('Location', loc.decode('latin-1')
                                     if isinstance(loc, bytes) else loc)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                elif rig_self.mode == 'wrong':
                    body = b'<html><body>Welcome to the hotel network. Log in.</body></html>'
                    self.send_response(200)
                    self.send_header('Content-Type', 'text/html')
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_response(204)
                    self.send_header('Content-Length', '0')
                    self.end_headers()

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((addr, 80), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------
# Watching State
# ------------------------------------------------------------------------------------

class StateWatcher:
    """Every State the daemon publishes (PropertiesChanged), with monotonic times."""

    def __init__(self, bus):
        self.bus = bus
        self.changes = []       # (t, state)
        self.match = bus.add_signal_receiver(self._on_changed, 'PropertiesChanged', PROPS,
                                             BUS_NAME, OBJ_PATH)

    def _on_changed(self, iface, changed, invalidated):
        if iface == IFACE and 'State' in changed:
            self.changes.append((time.monotonic(), str(changed['State'])))

    def pump(self, seconds=0.0):
        from gi.repository import GLib
        ctx = GLib.MainContext.default()
        end = time.monotonic() + seconds
        while True:
            while ctx.iteration(False):
                pass
            if time.monotonic() >= end:
                return
            time.sleep(0.002)

    def wait(self, state, since, timeout, current=None):
        """Wait until State becomes `state` after monotonic time `since`; return the
        time it changed. `current()` (the property) is checked too, for a state that
        was reached before the watcher saw it."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            for t, s in self.changes:
                if s == state and t >= since:
                    return t
            if time.monotonic() > deadline:
                now = current() if current else '?'
                raise AssertionError('State did not become %r within %.1f s; it went %s '
                                     '(now %r)' % (state, timeout, self.history(since), now))
            time.sleep(0.002)

    def history(self, since=0.0):
        return ' -> '.join('%s@+%d ms' % (s, (t - since) * 1000)
                           for t, s in self.changes if t >= since) or 'nowhere'

    def close(self):
        self.match.remove()


def note(label, ms):
    REACTIONS.append((label, ms))
    print('# reaction %s: %d ms' % (label, ms), flush=True)
    return ms


def reaction(label, t_event, t_state):
    """Print and collect event -> State time (monotonic seconds in, ms out)."""
    return note(label, int(round((t_state - t_event) * 1000)))


@atexit.register
def _summary():
    if REACTIONS:
        print('# reaction times (ms): ' + ', '.join('%s %d' % r for r in REACTIONS),
              flush=True)


# ------------------------------------------------------------------------------------
# The test case
# ------------------------------------------------------------------------------------

class RoamDaemon(busrig.BusDaemon):
    """The daemon on the test bus with extra environment (test seams)."""


class RoamTestCase(nmmock.NMBusTestCase):
    """Private namespaces, network DNS, VPN DNS, portal responder, unbound (DoH), the
    NM mock with the hotel Wi-Fi (unless network=None), and start_roam_daemon()."""

    network = dict(id=WIFI_ID, uuid=WIFI_UUID, iface='wlan0', servers=[NETWORK_DNS],
                   domains=['hotel.example'], connectivity='FULL')
    portal_mode = 'full'

    def setUp(self):
        self.netdns = self.vpndns = self.portal = self.watch = self.logind = None
        enter_private_world()    # before anything binds: lo must be up
        super().setUp()
        self.addCleanup(self._roam_cleanup)
        self.netdns = NetworkDNS(NETWORK_DNS, NETWORK_ANSWERS)
        self.vpndns = NetworkDNS(VPN_DNS, VPN_ANSWERS)
        self.portal = hotel().inside(lambda: PortalResponder(PORTAL_ADDR, self.portal_mode))
        if self.network:
            self.nm.set_network(**self.network)
        self.watch = StateWatcher(self.bus)

    def real_portal(self, mode='portal'):
        """A real captive portal: the responder redirects (or answers `mode`) and
        nothing else gets through - the DoH service does not answer - until
        portal_login(). (A redirect while the service answers is a fake portal:
        DESIGN.md "Roaming states".)"""
        self.unbound.stop()
        self.portal.mode = mode

    def portal_login(self):
        """The user logged in: the service answers again, then the portal lets the
        probe through (in that order, as behind a real portal)."""
        self.unbound.start()
        self.portal.mode = 'full'

    def start_unbound(self, name='one', cert=None, **kw):
        # the DoH service also knows example.com, with an address of its own
        kw.setdefault('extra_zone_lines', [
            'local-data: "example.com. 60 IN A %s"' % DOH_EXAMPLE_COM])
        return super().start_unbound(name, cert, **kw)

    def _roam_cleanup(self):
        for x in (self.watch, self.netdns, self.vpndns, self.portal):
            if x is not None:
                x.close()
        if self.logind is not None:
            self.logind.terminate()
            self.logind.wait()

    def roam_config(self, **roaming):
        cfg = rig.relay_config(self.unbound, self.ca, 53, listen=['127.0.0.1:53'])
        cfg['service']['timeout-ms'] = 1000
        r = {'enabled': 'true', 'dns-backend': 'networkmanager',
             'portal-probe-url': PORTAL_URL, 'on-service-unreachable': 'fallback'}
        for k, v in roaming.items():
            r[k.replace('_', '-')] = v
        cfg['roaming'] = r
        return cfg

    def start_roam_daemon(self, name='ddrd', env=None, wait_state=None, timeout=15.0,
                          verbose=True, **roaming):
        """Start the daemon; with wait_state, wait for that State and return
        (daemon, ms from spawn to that state). verbose=False: as systemd runs it (no -v,
        no G_MESSAGES_DEBUG), to see what its journal would say."""
        d = RoamDaemon(rig.daemon_binary(), self.path(name), self.roam_config(**roaming),
                       port=53, verbose=verbose)
        if not verbose:
            env = dict(env or {}, G_MESSAGES_DEBUG='')
        d.extra_env = dict(env or {})
        self._daemons.append(d)
        t0 = time.monotonic()
        d.spawn()
        d.wait_ready()
        rig.wait_until(lambda: self.bus.name_has_owner(BUS_NAME), 10,
                       what='the daemon to own %s' % BUS_NAME)
        if wait_state is None:
            return d, None
        t = self.wait_state(wait_state, t0, timeout)
        return d, int((t - t0) * 1000)

    def state(self):
        return str(self.prop('State'))

    def wait_state(self, state, since, timeout=10.0):
        try:
            t = self.watch.wait(state, since, timeout, current=self.state)
        except AssertionError:
            if self.state() == state:     # reached before the watcher saw it
                return time.monotonic()
            raise
        return t

    def wait_steering(self, on, timeout=5.0):
        rig.wait_until(lambda: self.nm.steering_active() == on, timeout,
                       what='steering %s in the NM mock' % ('on' if on else 'off'))

    def assertNoReactivation(self):
        self.assertEqual(self.nm.reactivations(), [],
                         'the owned profile was activated again while active (DESIGN.md: '
                         'never re-activate; change it with Update2 + Reapply)')

    def steady(self, seconds=0.5):
        """Let signals arrive; the state must not move meanwhile (no flapping)."""
        before = len(self.watch.changes)
        self.watch.pump(seconds)
        self.assertEqual(self.watch.changes[before:], [],
                         'State moved on its own: %s' % self.watch.history())

    def system_resolve(self, name):
        """getaddrinfo through glibc (-> /etc/resolv.conf -> the relay)."""
        try:
            return sorted({a[4][0] for a in socket.getaddrinfo(name, None, socket.AF_INET,
                                                                socket.SOCK_DGRAM)})
        except socket.gaierror:
            return []

    def system_resolver_elsewhere(self, server):
        """For this test, the system resolver asks `server` instead of the relay (a
        system that steering does not reach); put back at cleanup."""
        write_resolv_conf(server)
        self.addCleanup(write_resolv_conf, '127.0.0.1')

    def relay(self, name, qtype='A'):
        return rig.udp_query('127.0.0.1', 53, name, qtype, timeout=3)

    def start_logind(self):
        self.logind, obj = dbusmock.DBusTestCase.spawn_server_template(
            'logind', {}, stdout=subprocess.DEVNULL)
        self.logind_obj = obj
        return obj

    def prepare_for_sleep(self, going):
        self.logind_obj.EmitSignal('org.freedesktop.login1.Manager', 'PrepareForSleep', 'b',
                                   [dbus.Boolean(going)], dbus_interface=dbusmock.MOCK_IFACE)
