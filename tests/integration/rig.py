#!/usr/bin/python3
"""Test rig for threatstop-ddr integration tests: a test CA, unbound as the DoH service,
the daemon under test, and a small DNS wire encoder/decoder (stdlib only).

Run the tests:   meson test -C build --suite integration
One file:        DDR_BUILD_DIR=build /usr/bin/python3 tests/integration/run.py \
                     tests/integration/test_relay_tcp.py [-k PATTERN]
A DoH service:   /usr/bin/python3 tests/integration/rig.py serve --dir DIR
                 (prints DOH_PORT=, PLAIN_PORT=, DOH_URL=, CA=, then READY; SIGTERM stops it)
DDR_KEEP_TMP=1 keeps each test's temp dir (configs and logs); logs are dumped on failure."""

import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

# ---------------------------------------------------------------------------
# Tools and paths
# ---------------------------------------------------------------------------

TOOL_PATHS = {
    'unbound': ['/usr/sbin/unbound'],
}


def tool(name):
    """Absolute path of a required tool; a missing tool is a test FAILURE, never a skip."""
    found = shutil.which(name)
    if not found:
        for cand in TOOL_PATHS.get(name, []):
            if os.access(cand, os.X_OK):
                found = cand
                break
    if not found:
        raise AssertionError(
            'required tool %r not found on PATH; install it (see RIG.md: unbound, '
            'bind9-dnsutils for dig, knot-dnsutils for kdig, openssl)' % name)
    return found


def build_dir():
    return os.environ.get('DDR_BUILD_DIR') or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', '..', 'build')


def built(what, *parts):
    """The absolute path of an executable in the build dir; a missing one fails the test."""
    path = os.path.join(build_dir(), *parts)
    if not os.access(path, os.X_OK):
        raise AssertionError('%s not found: %s (build it, or set DDR_BUILD_DIR)' % (what, path))
    return os.path.abspath(path)


def daemon_binary():
    return built('daemon binary', 'src', 'service', 'threatstop-ddrd')


def read_log(path):
    """A log file's text so far ('' before it exists)."""
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except OSError:
        return ''


def wait_until(cond, timeout=10.0, interval=0.02, what='condition'):
    """Poll cond() until it returns a true value; return it, or raise AssertionError."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - keep polling, report the last one
            last_exc = e
        if time.monotonic() >= deadline:
            raise AssertionError('timed out after %.1fs waiting for %s%s' % (
                timeout, what, (' (last error: %r)' % last_exc) if last_exc else ''))
        time.sleep(interval)


def free_port(addrs=('127.0.0.1', '::1')):
    """A port number that is free for both UDP and TCP on every address in addrs."""
    for _ in range(200):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        ok = True
        held = []
        try:
            for a in addrs:
                fam = socket.AF_INET6 if ':' in a else socket.AF_INET
                for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    t = socket.socket(fam, typ)
                    held.append(t)
                    try:
                        t.bind((a, port))
                    except OSError:
                        ok = False
                        break
                if not ok:
                    break
        finally:
            for t in held:
                t.close()
        if ok:
            return port
    raise AssertionError('could not find a free port')


def have_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(('::1', 0))
        s.close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# DNS wire format
# ---------------------------------------------------------------------------

TYPES = {'A': 1, 'NS': 2, 'CNAME': 5, 'SOA': 6, 'PTR': 12, 'MX': 15, 'TXT': 16,
         'AAAA': 28, 'SRV': 33, 'OPT': 41, 'DS': 43, 'RRSIG': 46, 'DNSKEY': 48,
         'HTTPS': 65, 'ANY': 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {'NOERROR': 0, 'FORMERR': 1, 'SERVFAIL': 2, 'NXDOMAIN': 3, 'NOTIMP': 4,
          'REFUSED': 5, 'BADVERS': 16}
RCODE_NAMES = {v: k for k, v in RCODES.items()}
OPT_PADDING = 12
OPT_EDE = 15


class DNSError(Exception):
    pass


def encode_name(name):
    if name in ('', '.'):
        return b'\x00'
    out = b''
    for label in name.rstrip('.').split('.'):
        b = label.encode('ascii')
        if len(b) > 63:
            raise DNSError('label too long')
        out += bytes([len(b)]) + b
    return out + b'\x00'


def decode_name(data, off, max_jumps=64):
    """Return (name, offset after the name in the original position)."""
    labels = []
    end = None
    jumps = 0
    total = 0
    while True:
        if off >= len(data):
            raise DNSError('name runs past end')
        ln = data[off]
        if ln & 0xC0 == 0xC0:
            if off + 1 >= len(data):
                raise DNSError('truncated pointer')
            ptr = ((ln & 0x3F) << 8) | data[off + 1]
            if end is None:
                end = off + 2
            jumps += 1
            if jumps > max_jumps or ptr >= len(data):
                raise DNSError('bad compression pointer')
            off = ptr
            continue
        if ln & 0xC0:
            raise DNSError('bad label type')
        off += 1
        if ln == 0:
            break
        if off + ln > len(data):
            raise DNSError('label runs past end')
        labels.append(data[off:off + ln].decode('ascii', 'replace'))
        total += ln + 1
        if total > 255:
            raise DNSError('name too long')
        off += ln
    if end is None:
        end = off
    return ('.'.join(labels) + '.') if labels else '.', end


class RR:
    def __init__(self, name, rtype, rclass, ttl, rdata, value):
        self.name, self.type, self.rclass, self.ttl, self.rdata, self.value = (
            name, rtype, rclass, ttl, rdata, value)

    @property
    def type_name(self):
        return TYPE_NAMES.get(self.type, 'TYPE%d' % self.type)

    def key(self):
        """Comparable identity, TTL excluded."""
        v = self.value
        if isinstance(v, list):
            v = tuple(v)
        return (self.name.lower(), self.type, self.rclass, v)

    def __repr__(self):
        return '<RR %s %d %s %r>' % (self.name, self.ttl, self.type_name, self.value)


def _decode_rdata(msg, rtype, off, rdlen):
    rd = msg[off:off + rdlen]
    if rtype == 1 and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, rd)
    if rtype == 28 and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, rd)
    if rtype == 16:
        strs, i = [], 0
        while i < len(rd):
            n = rd[i]
            strs.append(rd[i + 1:i + 1 + n].decode('utf-8', 'replace'))
            i += 1 + n
        return strs
    if rtype in (2, 5, 12):
        return decode_name(msg, off)[0].lower()
    if rtype == 6:
        mname, o = decode_name(msg, off)
        rname, o = decode_name(msg, o)
        serial, refresh, retry, expire, minimum = struct.unpack('!5I', msg[o:o + 20])
        return (mname.lower(), rname.lower(), serial, refresh, retry, expire, minimum)
    return rd.hex()


class Message:
    """A parsed DNS message (enough for A/AAAA/TXT/SOA/OPT/EDE)."""

    def __init__(self, data):
        self.raw = data
        if len(data) < 12:
            raise DNSError('short message (%d bytes)' % len(data))
        (self.id, self.flags, qd, an, ns, ar) = struct.unpack('!6H', data[:12])
        off = 12
        self.questions = []
        for _ in range(qd):
            name, off = decode_name(data, off)
            if off + 4 > len(data):
                raise DNSError('truncated question')
            qt, qc = struct.unpack('!HH', data[off:off + 4])
            off += 4
            self.questions.append((name, qt, qc))
        self.answer, off = self._rrs(data, off, an)
        self.authority, off = self._rrs(data, off, ns)
        self.additional, off = self._rrs(data, off, ar)
        self.trailing = len(data) - off
        self.opt = None
        opts = [r for r in self.additional if r.type == 41]
        self.opt_count = len(opts)
        if opts:
            o = opts[0]
            options = []
            rd, i = o.rdata, 0
            while i + 4 <= len(rd):
                code, ln = struct.unpack('!HH', rd[i:i + 4])
                options.append((code, rd[i + 4:i + 4 + ln]))
                i += 4 + ln
            self.opt = {'udp_size': o.rclass, 'ext_rcode': o.ttl >> 24,
                        'version': (o.ttl >> 16) & 0xFF, 'do': bool(o.ttl & 0x8000),
                        'options': options}

    @staticmethod
    def _rrs(data, off, count):
        out = []
        for _ in range(count):
            name, off = decode_name(data, off)
            if off + 10 > len(data):
                raise DNSError('truncated RR')
            rtype, rclass, ttl, rdlen = struct.unpack('!HHIH', data[off:off + 10])
            off += 10
            if off + rdlen > len(data):
                raise DNSError('truncated rdata')
            value = _decode_rdata(data, rtype, off, rdlen) if rtype != 41 else None
            out.append(RR(name, rtype, rclass, ttl, data[off:off + rdlen], value))
            off += rdlen
        return out, off

    qr = property(lambda s: bool(s.flags & 0x8000))
    opcode = property(lambda s: (s.flags >> 11) & 0xF)
    aa = property(lambda s: bool(s.flags & 0x0400))
    tc = property(lambda s: bool(s.flags & 0x0200))
    rd = property(lambda s: bool(s.flags & 0x0100))
    ra = property(lambda s: bool(s.flags & 0x0080))
    ad = property(lambda s: bool(s.flags & 0x0020))
    cd = property(lambda s: bool(s.flags & 0x0010))

    @property
    def rcode(self):
        r = self.flags & 0xF
        if self.opt:
            r |= self.opt['ext_rcode'] << 4
        return r

    @property
    def rcode_name(self):
        return RCODE_NAMES.get(self.rcode, 'RCODE%d' % self.rcode)

    @property
    def option_codes(self):
        return [c for c, _ in self.opt['options']] if self.opt else []

    @property
    def ede(self):
        """List of (info_code, text) Extended DNS Errors."""
        out = []
        for code, val in (self.opt['options'] if self.opt else []):
            if code == OPT_EDE and len(val) >= 2:
                out.append((struct.unpack('!H', val[:2])[0], val[2:].decode('utf-8', 'replace')))
        return out

    def rrset(self, section='answer', rtype=None):
        """Set of RR keys (TTL excluded) for comparing answers."""
        rrs = getattr(self, section)
        return {r.key() for r in rrs if r.type != 41 and (rtype is None or r.type == rtype)}

    def values(self, rtype=None, section='answer'):
        return [r.value for r in getattr(self, section)
                if r.type != 41 and (rtype is None or r.type == _t(rtype))]

    def __repr__(self):
        return '<Message id=%d %s tc=%s an=%r ns=%r ede=%r>' % (
            self.id, self.rcode_name, self.tc, self.answer, self.authority, self.ede)


def _t(rtype):
    return TYPES[rtype.upper()] if isinstance(rtype, str) else rtype


def make_opt(udp_size=1232, do=False, options=(), ext_rcode=0, version=0):
    rdata = b''.join(struct.pack('!HH', c, len(v)) + v for c, v in options)
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return b'\x00' + struct.pack('!HHIH', 41, udp_size, ttl, len(rdata)) + rdata


def build_query(name, qtype='A', qid=None, rd=True, edns=True, udp_size=1232, do=False,
                cd=False, options=(), qclass=1, flags=None):
    """A query message. edns=False for no OPT record."""
    if qid is None:
        qid = random.randint(0, 0xFFFF)
    if flags is None:
        flags = (0x0100 if rd else 0) | (0x0010 if cd else 0)
    q = encode_name(name) + struct.pack('!HH', _t(qtype), qclass)
    add = make_opt(udp_size, do, options) if edns else b''
    return struct.pack('!6H', qid, flags, 1, 0, 0, 1 if edns else 0) + q + add


def header(qid=0x1234, flags=0x0100, qd=0, an=0, ns=0, ar=0):
    return struct.pack('!6H', qid, flags, qd, an, ns, ar)


# ---------------------------------------------------------------------------
# DNS transports
# ---------------------------------------------------------------------------

def _family(addr):
    return socket.AF_INET6 if ':' in addr else socket.AF_INET


def udp_exchange(addr, port, payload, timeout=3.0, source=None, parse=True):
    """Send one datagram, return the first reply (Message, or bytes if parse=False).
    Returns None on timeout. Replies whose ID does not match are skipped."""
    s = socket.socket(_family(addr), socket.SOCK_DGRAM)
    try:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(payload, (addr, port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                return None
            if len(payload) >= 2 and len(data) >= 2 and data[:2] != payload[:2]:
                continue
            return Message(data) if parse else data
    finally:
        s.close()


def udp_query(addr, port, name, qtype='A', timeout=3.0, source=None, **kw):
    return udp_exchange(addr, port, build_query(name, qtype, **kw), timeout, source)


def tcp_connect(addr, port, timeout=3.0, source=None):
    s = socket.socket(_family(addr), socket.SOCK_STREAM)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((addr, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n):
    buf = b''
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError('connection closed after %d of %d bytes' % (len(buf), n))
        buf += chunk
    return buf


def tcp_recv_msg(s, parse=True):
    ln = struct.unpack('!H', recv_exact(s, 2))[0]
    data = recv_exact(s, ln)
    return Message(data) if parse else data


def tcp_frame(payload):
    return struct.pack('!H', len(payload)) + payload


def tcp_exchange(addr, port, payload, timeout=3.0, source=None):
    s = tcp_connect(addr, port, timeout, source)
    try:
        s.sendall(tcp_frame(payload))
        return tcp_recv_msg(s)
    finally:
        s.close()


def tcp_query(addr, port, name, qtype='A', timeout=3.0, source=None, **kw):
    return tcp_exchange(addr, port, build_query(name, qtype, **kw), timeout, source)


def connection_closed(s, timeout):
    """True if the peer closes (EOF or reset) within timeout; data read is discarded."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not d:
            return True


# ---------------------------------------------------------------------------
# dig / kdig
# ---------------------------------------------------------------------------

class DigResult:
    """Parsed presentation output of dig or kdig."""

    def __init__(self, cmd, proc):
        self.cmd = cmd
        self.returncode = proc.returncode
        self.output = proc.stdout
        self.stderr = proc.stderr
        self.status = None
        self.id = None
        self.flags = set()
        self.sections = {'ANSWER': [], 'AUTHORITY': [], 'ADDITIONAL': []}
        self.ede = []
        section = None
        for line in self.output.splitlines():
            m = re.search(r'->>HEADER<<-\s*opcode:\s*\w+[,;]\s*status:\s*(\w+)[,;]\s*id:\s*(\d+)', line)
            if m:
                self.status, self.id = m.group(1), int(m.group(2))
                continue
            m = re.match(r';;\s*[Ff]lags:\s*([a-z ]*)[;]', line)
            if m:
                self.flags |= set(m.group(1).split())
                continue
            m = re.search(r'EDE:\s*(\d+)(.*)', line)
            if m:
                self.ede.append((int(m.group(1)), m.group(2).strip()))
                continue
            m = re.match(r';;\s*(ANSWER|AUTHORITY|ADDITIONAL) SECTION:', line)
            if m:
                section = m.group(1)
                continue
            if not line.strip() or line.startswith(';'):
                if not line.strip():
                    section = None
                continue
            if section:
                parts = line.split(None, 4)
                if len(parts) >= 5:
                    name, ttl, cls, typ, rdata = parts
                    self.sections[section].append(
                        (name.lower(), int(ttl), cls, typ, rdata.strip()))

    @property
    def answer(self):
        return self.sections['ANSWER']

    @property
    def authority(self):
        return self.sections['AUTHORITY']

    def rrset(self, section='ANSWER'):
        """Set of (name, class, type, rdata), TTL excluded."""
        return {(n, c, t, r) for n, _, c, t, r in self.sections[section]}

    def rdata(self, rtype=None):
        return [r for _, _, _, t, r in self.answer if rtype is None or t == rtype]

    def __repr__(self):
        return '<DigResult rc=%d status=%s flags=%s answer=%r>\n%s%s' % (
            self.returncode, self.status, sorted(self.flags), self.answer, self.output,
            self.stderr)


def dig(server, port, name, qtype='A', *opts, timeout=5):
    cmd = [tool('dig'), '@' + server, '-p', str(port), name, qtype,
           '+time=2', '+tries=1'] + list(opts)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
    return DigResult(cmd, p)


def kdig(server, port, name, qtype='A', *opts, timeout=5):
    cmd = [tool('kdig'), '@' + server, '-p', str(port), name, qtype,
           '+time=2', '+retry=0'] + list(opts)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
    return DigResult(cmd, p)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def _run(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError('command failed (%d): %s\n%s%s' % (
            p.returncode, ' '.join(cmd), p.stdout, p.stderr))
    return p


class TestCA:
    """A CA plus a server certificate for doh.test (made with the openssl CLI).

    Files in dir: ca.pem, ca.key, server.key, server.pem, server-chain.pem."""

    SAN = 'DNS:doh.test,DNS:localhost,IP:127.0.0.1,IP:::1'

    def __init__(self, dir, cn='threatstop-ddr test CA', host='doh.test'):
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        openssl = tool('openssl')
        self.ca = os.path.join(dir, 'ca.pem')
        self.ca_key = os.path.join(dir, 'ca.key')
        self.key = os.path.join(dir, 'server.key')
        self.cert = os.path.join(dir, 'server.pem')
        self.chain = os.path.join(dir, 'server-chain.pem')
        csr = os.path.join(dir, 'server.csr')
        ext = os.path.join(dir, 'server.ext')
        _run([openssl, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
              '-nodes', '-keyout', self.ca_key, '-out', self.ca, '-days', '30',
              '-subj', '/CN=' + cn, '-addext', 'basicConstraints=critical,CA:TRUE',
              '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
        _run([openssl, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
              '-keyout', self.key, '-out', csr, '-subj', '/CN=' + host])
        with open(ext, 'w') as f:
            f.write('subjectAltName=%s\nbasicConstraints=CA:FALSE\n'
                    'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n'
                    % self.SAN)
        _run([openssl, 'x509', '-req', '-in', csr, '-CA', self.ca, '-CAkey', self.ca_key,
              '-CAcreateserial', '-out', self.cert, '-days', '30', '-extfile', ext])
        with open(self.chain, 'w') as out:
            for p in (self.cert, self.ca):
                with open(p) as f:
                    out.write(f.read())

    def wrong(self, dir=None):
        """A second, unrelated CA and server certificate (for the wrong-CA test)."""
        return TestCA(dir or os.path.join(self.dir, 'wrong-ca'), cn='unrelated CA')


def big_txt_lines(name='big.test.', count=60):
    return ["local-data: '%s 60 IN TXT \"record-%d-padding-padding-padding-padding-padding\"'"
            % (name, i) for i in range(1, count + 1)]


# The zone every unbound instance serves (see RIG.md); names the tests rely on.
ALLOWED_A = ['192.0.2.10', '192.0.2.11']
ALLOWED_AAAA = ['2001:db8::10']
ALLOWED_TXT = 'allowed by the test service'
CHECK_A = '192.0.2.53'
UAD_A_UPSTREAM = '192.0.2.99'   # what unbound would say for use-application-dns.net
BENCH_A = '198.51.100.7'


class Unbound:
    """unbound serving DoH (HTTP/2) on 127.0.0.1:doh_port and plain DNS on plain_port."""

    def __init__(self, dir, ca, doh_port=None, plain_port=None, extra_zone_lines=(),
                 name='one', cert=None, endpoint='/dns-query', doh_addr='127.0.0.1'):
        self.dir = dir
        self.doh_addr = doh_addr      # another address: the system tests' veth host end
        os.makedirs(dir, exist_ok=True)
        self.ca = ca
        self.cert_ca = cert or ca     # whose certificate unbound serves
        self.name = name
        self.auto_ports = doh_port is None and plain_port is None
        self.doh_port = doh_port or free_port(('127.0.0.1',))
        self.plain_port = plain_port or free_port(('127.0.0.1',))
        self.extra = list(extra_zone_lines)
        self.endpoint = endpoint
        self.conf = os.path.join(dir, 'unbound.conf')
        self.logfile = os.path.join(dir, 'unbound.log')
        self.proc = None
        self._log = None

    @property
    def url(self):
        return 'https://doh.test:%d/dns-query' % self.doh_port

    def zone_lines(self):
        L = [
            'local-zone: "." static',
            'local-data: "check.test. 60 IN A %s"' % CHECK_A,
            "local-data: 'check.test. 60 IN TXT \"doh-upstream-ok\"'",
            'local-zone: "allowed.test." static',
            'local-data: "allowed.test. 300 IN SOA ns.allowed.test. admin.allowed.test. '
            '2024010101 3600 600 86400 120"',
        ]
        L += ['local-data: "allowed.test. 60 IN A %s"' % a for a in ALLOWED_A]
        L += ['local-data: "allowed.test. 60 IN AAAA %s"' % a for a in ALLOWED_AAAA]
        L += ["local-data: 'allowed.test. 60 IN TXT \"%s\"'" % ALLOWED_TXT,
              'local-data: "www.allowed.test. 60 IN A 192.0.2.12"',
              'local-zone: "blocked.example." always_nxdomain',
              'local-data: "blocked.example. 300 IN SOA ns.blocked.example. '
              'admin.blocked.example. 1 3600 600 86400 120"',
              'local-zone: "sinkhole.example." redirect',
              'local-data: "sinkhole.example. 60 IN A 0.0.0.0"',
              'local-data: "use-application-dns.net. 60 IN A %s"' % UAD_A_UPSTREAM,
              "local-data: 'which.test. 60 IN TXT \"%s\"'" % self.name,
              'local-zone: "bench.test." redirect',
              'local-data: "bench.test. 60 IN A %s"' % BENCH_A]
        L += big_txt_lines()
        return L + self.extra

    def write_config(self):
        d = self.dir
        text = ['server:',
                '  num-threads: 1',
                '  username: ""',
                '  chroot: ""',
                '  directory: "%s"' % d,
                '  pidfile: ""',
                '  do-daemonize: no',
                '  use-syslog: no',
                '  logfile: ""',
                '  verbosity: 1',
                '  module-config: "iterator"',
                '  interface: 127.0.0.1@%d' % self.plain_port,
                '  interface: %s@%d' % (self.doh_addr, self.doh_port),
                '  https-port: %d' % self.doh_port,
                '  tls-service-key: "%s"' % self.cert_ca.key,
                '  tls-service-pem: "%s"' % self.cert_ca.chain,
                '  http-endpoint: "%s"' % self.endpoint,
                '  http-max-streams: 1000',
                '  access-control: 127.0.0.0/8 allow',
                '  access-control: %s/24 allow' % self.doh_addr,
                '  do-not-query-localhost: no',
                '  msg-buffer-size: 65552',
                ]
        text += ['  ' + l for l in self.zone_lines()]
        text += ['forward-zone:', '  name: "."', '  forward-addr: 127.0.0.1@9',
                 'remote-control:', '  control-enable: no', '']
        with open(self.conf, 'w') as f:
            f.write('\n'.join(text))

    def start(self, timeout=10.0):
        unbound = tool('unbound')
        for attempt in range(5):
            self.write_config()
            self._log = open(self.logfile, 'ab')
            self.proc = subprocess.Popen([unbound, '-d', '-c', self.conf], stdout=self._log,
                                         stderr=subprocess.STDOUT, cwd=self.dir)
            try:
                wait_until(self._ready, timeout, what='unbound to answer on %d' % self.plain_port)
                return self
            except AssertionError:
                exited = self.proc.poll() is not None
                self._reap()
                log = self.log()
                if exited and self.auto_ports and 'could not' in log and attempt < 4:
                    # lost a race for the port: choose new ones
                    self.doh_port = free_port(('127.0.0.1',))
                    self.plain_port = free_port(('127.0.0.1',))
                    continue
                raise AssertionError('unbound did not start:\n' + log)
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError('unbound exited with %d' % self.proc.returncode)
        m = udp_query('127.0.0.1', self.plain_port, 'check.test', 'A', timeout=0.2)
        if not m:
            return False
        with socket.create_connection((self.doh_addr, self.doh_port), timeout=0.5):
            pass
        return True

    def query(self, name, qtype='A', tcp=False, **kw):
        """Ask unbound's plain port directly (the reference answer)."""
        if tcp:
            return tcp_query('127.0.0.1', self.plain_port, name, qtype, **kw)
        return udp_query('127.0.0.1', self.plain_port, name, qtype, **kw)

    def _reap(self, timeout=5):
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGCONT)
                self.proc.terminate()
            except ProcessLookupError:
                pass
        self._reap()

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self._reap()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def log(self):
        return read_log(self.logfile)


def format_config(config):
    """GKeyFile text from {'group': {'key': value}}; lists are joined with ';'."""
    out = []
    for group, keys in config.items():
        out.append('[%s]' % group)
        for k, v in keys.items():
            if v is None:
                continue
            if isinstance(v, (list, tuple)):
                v = ';'.join(str(x) for x in v)
            elif isinstance(v, bool):
                v = 'true' if v else 'false'
            out.append('%s=%s' % (k, v))
        out.append('')
    return '\n'.join(out)


def relay_config(upstreams, ca, port, listen=None, **relay_overrides):
    """The daemon configuration for a list of Unbound upstreams (or one)."""
    if isinstance(upstreams, Unbound):
        upstreams = [upstreams]
    service = {
        'url': [u.url for u in upstreams],
        'bootstrap': '127.0.0.1',
        'check-domain': 'check.test',
        'ca-file': ca.ca,
        'timeout-ms': 1500,
        'method': 'post',
    }
    relay = {
        'listen': listen or ['127.0.0.1:%d' % port],
        'acl': ['127.0.0.0/8', '::1/128'],
        'cache-size': 10000,
        'max-inflight': 10000,
        'query-log': 'false',
        'tcp-idle-timeout-ms': 10000,
        'tcp-max-clients': 256,
    }
    for k, v in relay_overrides.items():
        k = k.replace('_', '-')
        if k in service:
            service[k] = v
        else:
            relay[k] = v
    return {'service': service, 'relay': relay}


class Daemon:
    """threatstop-ddrd in the foreground with its log captured in dir/ddrd.log."""

    def __init__(self, binary, dir, config_dict, port=None, args=(), verbose=True):
        self.binary = binary
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        self.config = config_dict
        self.port = port
        self.conf = os.path.join(dir, 'ddr.conf')
        self.state_dir = os.path.join(dir, 'state')
        os.makedirs(self.state_dir, exist_ok=True)
        self.logfile = os.path.join(dir, 'ddrd.log')
        self.args = list(args)
        self.verbose = verbose
        self.proc = None
        self._log = None
        self.returncode = None

    @property
    def addr(self):
        first = self.config['relay']['listen']
        if isinstance(first, (list, tuple)):
            first = first[0]
        host, port = first.rsplit(':', 1)
        return host.strip('[]'), int(port)

    def write_config(self):
        with open(self.conf, 'w') as f:
            f.write(format_config(self.config))

    def command(self):
        cmd = [self.binary, '--config', self.conf, '--state-dir', self.state_dir, '--no-bus']
        if self.verbose:
            cmd.append('-v')
        return cmd + self.args

    def spawn(self):
        self.write_config()
        env = dict(os.environ)
        env.setdefault('G_DEBUG', 'fatal-criticals')
        env.setdefault('G_MESSAGES_DEBUG', 'all')
        env.setdefault('ASAN_OPTIONS', 'abort_on_error=1')
        self._log = open(self.logfile, 'ab')
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=self.dir, env=env)
        return self

    def start(self, timeout=10.0):
        self.spawn()
        self.wait_ready(timeout)
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError('threatstop-ddrd exited with %d during start-up:\n%s'
                                 % (self.proc.returncode, self.log()))
        host, port = self.addr
        return udp_exchange(host, port, build_query('check.test', 'A'), timeout=0.2,
                            source='127.0.0.1' if host.startswith('127.') else None) is not None

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise AssertionError('threatstop-ddrd not answering on %s:%d after %.0fs:\n%s'
                                     % (self.addr + (timeout, self.log())))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=10.0):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError('threatstop-ddrd did not exit within %.0fs:\n%s'
                                 % (timeout, self.log()))
        finally:
            if self._log:
                self._log.close()
                self._log = None
        return self.returncode

    def stop(self, expect=0, timeout=10.0):
        """SIGTERM, wait, assert the exit status (expect=None: any)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.terminate()
        rc = self.wait_exit(timeout)
        self.proc = None
        log = self.log()
        for bad in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:',
                    'UndefinedBehaviorSanitizer', '-CRITICAL **', '-ERROR **'):
            if bad in log:
                raise AssertionError('%r in the daemon log (see the log dump)' % bad)
        if expect is not None and rc != expect:
            raise AssertionError('threatstop-ddrd exited with %d on SIGTERM, expected %d'
                                 % (rc, expect))
        return rc

    def log(self):
        return read_log(self.logfile)

    def wait_log(self, pattern, timeout=5.0, start=0):
        """Wait until the log (from offset start) matches regex pattern; return the match."""
        rx = re.compile(pattern, re.M)
        return wait_until(lambda: rx.search(self.log()[start:]), timeout,
                          what='daemon log to match %r' % pattern)

    def statistics(self, timeout=5.0):
        """Send SIGUSR1 and parse the statistics block that it logs.

        Returns (dict of key=value from the statistics: line, list of upstream dicts)."""
        start = len(self.log())
        self.signal(signal.SIGUSR1)
        m = self.wait_log(r'statistics:(?!\s*upstream\[).*$', timeout, start)
        # upstream lines may follow the statistics line; give them a moment
        def upstream_lines():
            text = self.log()[start:]
            ups = re.findall(r'upstream\[(\d+)\]\s+(.*)$', text, re.M)
            return ups
        stats = dict(re.findall(r'(\w+)=(\S+)', m.group(0)))
        try:
            n = len(self.config['service']['url'])
            if isinstance(self.config['service']['url'], str):
                n = len(self.config['service']['url'].split(';'))
            ups = wait_until(lambda: len(upstream_lines()) >= n and upstream_lines(), 2.0,
                             what='upstream statistics lines')
        except AssertionError:
            ups = upstream_lines()
        upstreams = []
        for idx, rest in ups:
            d = dict(re.findall(r'([\w-]+)=(\S+)', rest))
            d['index'] = int(idx)
            upstreams.append(d)
        return stats, upstreams

    def wait_stat(self, key, pred, timeout=5.0):
        """Poll the SIGUSR1 statistics until pred(int(value of key)) holds."""
        def check():
            stats, _ = self.statistics()
            return pred(int(stats.get(key, -1)))
        return wait_until(check, timeout, interval=0.05, what='statistics %s' % key)

    def query(self, name, qtype='A', tcp=False, timeout=3.0, **kw):
        host, port = self.addr
        if tcp:
            return tcp_query(host, port, name, qtype, timeout=timeout, **kw)
        return udp_query(host, port, name, qtype, timeout=timeout, **kw)


# ---------------------------------------------------------------------------
# unittest base
# ---------------------------------------------------------------------------

class RigTestCase(unittest.TestCase):
    """Temp dir, CA, unbound and daemon per test; everything cleaned up, logs dumped on
    failure. Set DDR_KEEP_TMP=1 to keep the temp dirs."""

    maxDiff = None

    def setUp(self):
        super().setUp()
        self._tmp = tempfile.mkdtemp(prefix='ddr-it-%s-' % self._testMethodName)
        self._daemons = []
        self._unbounds = []
        self._ca = None
        self.addCleanup(self._rig_cleanup)

    @property
    def tmp(self):
        return self._tmp

    def path(self, *parts):
        p = os.path.join(self._tmp, *parts)
        return p

    @property
    def ca(self):
        if self._ca is None:
            self._ca = TestCA(self.path('ca'))
        return self._ca

    def start_unbound(self, name='one', cert=None, **kw):
        u = Unbound(self.path('unbound-%s' % name), self.ca, name=name, cert=cert, **kw)
        self._unbounds.append(u)
        return u.start()

    def make_daemon(self, upstreams, port=None, listen=None, name='ddrd', **overrides):
        port = port or free_port()
        cfg = relay_config(upstreams, self.ca, port, listen=listen, **overrides)
        d = Daemon(daemon_binary(), self.path(name), cfg, port=port)
        self._daemons.append(d)
        return d

    def start_daemon(self, upstreams, port=None, listen=None, **overrides):
        auto = port is None and listen is None
        for attempt in range(3):
            d = self.make_daemon(upstreams, port=port, listen=listen, **overrides)
            d.spawn()
            try:
                d.wait_ready()
                return d
            except AssertionError:
                if auto and d.proc.poll() == 1 and attempt < 2:
                    self._daemons.remove(d)   # lost a race for the port: try another
                    d.wait_exit()
                    continue
                raise
        raise AssertionError('unreachable')

    def _failed(self):
        outcome = getattr(self, '_outcome', None)
        if outcome is None:
            return False
        if not getattr(outcome, 'success', True):
            return True
        result = getattr(outcome, 'result', None)
        for lst in (getattr(result, 'failures', []), getattr(result, 'errors', [])):
            for t, _ in lst:
                if t is self:
                    return True
        return False

    def _rig_cleanup(self):
        errors = []
        for d in self._daemons:
            if d.proc is not None:
                try:
                    d.stop(expect=0)
                except AssertionError as e:
                    errors.append(str(e))
        for u in self._unbounds:
            try:
                u.stop()
            except Exception as e:  # noqa: BLE001
                errors.append(str(e))
        if self._failed() or errors:
            for d in self._daemons:
                sys.stderr.write('\n===== daemon log %s =====\n%s\n' % (d.logfile, d.log()))
            for u in self._unbounds:
                sys.stderr.write('\n===== unbound log %s =====\n%s\n' % (u.logfile, u.log()[-4000:]))
        if os.environ.get('DDR_KEEP_TMP'):
            sys.stderr.write('kept %s\n' % self._tmp)
        else:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if errors:
            raise AssertionError('\n'.join(errors))

    # assertions -----------------------------------------------------------

    def assertAnswered(self, msg, rcode='NOERROR', what=''):
        self.assertIsNotNone(msg, 'no answer %s' % what)
        self.assertEqual(msg.rcode_name, rcode, '%s: %r' % (what, msg))
        return msg

    def assertSameAnswer(self, relay_msg, ref_msg, what=''):
        self.assertIsNotNone(relay_msg, 'relay gave no answer ' + what)
        self.assertIsNotNone(ref_msg, 'unbound gave no answer ' + what)
        self.assertEqual(relay_msg.rcode_name, ref_msg.rcode_name, what)
        self.assertEqual(relay_msg.rrset('answer'), ref_msg.rrset('answer'), what)
        self.assertEqual(relay_msg.rrset('authority'), ref_msg.rrset('authority'), what)


# ---------------------------------------------------------------------------
# CLI: python3 rig.py serve --dir DIR
# ---------------------------------------------------------------------------

def _serve(argv):
    import argparse
    ap = argparse.ArgumentParser(prog='rig.py serve',
                                 description='Run a test CA + unbound DoH service until stopped.')
    ap.add_argument('--dir', required=True, help='working directory (created)')
    ap.add_argument('--doh-port', type=int, default=None)
    ap.add_argument('--plain-port', type=int, default=None)
    ap.add_argument('--name', default='one', help='TXT of which.test')
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    ca = TestCA(os.path.join(a.dir, 'ca'))
    u = Unbound(os.path.join(a.dir, 'unbound'), ca, doh_port=a.doh_port,
                plain_port=a.plain_port, name=a.name)
    if a.doh_port is None and a.plain_port is None:
        u.auto_ports = True
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    u.start()
    print('DOH_PORT=%d' % u.doh_port)
    print('PLAIN_PORT=%d' % u.plain_port)
    print('DOH_URL=%s' % u.url)
    print('CA=%s' % ca.ca)
    print('UNBOUND_LOG=%s' % u.logfile)
    print('READY', flush=True)
    try:
        while not stop:
            if not u.running():
                sys.stderr.write('unbound exited:\n' + u.log())
                return 1
            time.sleep(0.2)
    finally:
        u.stop()
    return 0


def main(argv):
    if len(argv) >= 1 and argv[0] == 'serve':
        return _serve(argv[1:])
    sys.stderr.write('usage: rig.py serve --dir DIR [--doh-port N] [--plain-port N]\n')
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
