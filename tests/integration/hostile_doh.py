#!/usr/bin/python3
"""A hostile or broken DoH server (HTTP/2 over TLS, ALPN h2) for the relay's failure tests.

Runs in-process: HostileDoH(ca, plain_port).start() listens on 127.0.0.1:<dynamic port>
with the rig's doh.test certificate and serves /dns-query (POST and GET).  The attribute
`mode` (set it at any time; every request reads it when it arrives) decides the answer:

  ok                  forward the query to unbound's plain port (UDP, TCP on TC) and
                      return the real answer
  status500/404/429   that HTTP status, a text body
  wrong-content-type  200 text/html carrying the real answer bytes
  no-content-type     200 without a content-type header, the real answer bytes
  garbage             200 application/dns-message with random bytes
  empty               200 with an empty body
  short               the first 11 bytes of the real answer
  mismatched-question a valid answer for another name (check.test, or allowed.test)
  wrong-id            the real answer with ID 0x1234 (the relay restores the client's ID,
                      so this one is answered normally)
  echo-query          the query itself sent back (QR clear): not an answer
  huge                the real answer padded to 70,000 bytes (above the 65,535 DNS cap)
  hang                accept the stream, never answer
  slow-headers        headers at once, the body after `slow_delay` seconds (10)
  reset               RST_STREAM (INTERNAL_ERROR)
  goaway              GOAWAY (last stream 0: "not processed") and close the connection
  close               headers and half the body, then close the TCP connection
  truncated-tc        the real answer with TC set

Any other path than /dns-query gets 404 whatever the mode.  `requests` counts the
requests per mode; `connections` counts TLS connections accepted.

Uses python3-h2 (Debian package) and the standard library; one thread per connection.
"""

import base64
import os
import socket
import ssl
import struct
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

import rig

MODES = ('ok', 'status500', 'status404', 'status429', 'wrong-content-type',
         'no-content-type', 'garbage',
         'empty', 'short', 'mismatched-question', 'wrong-id', 'echo-query', 'huge', 'hang',
         'slow-headers', 'reset', 'goaway', 'close', 'truncated-tc')

DNS_CT = 'application/dns-message'
HUGE_SIZE = 70000


class _Stream:
    def __init__(self, sid, headers):
        self.sid = sid
        self.headers = headers
        self.body = bytearray()


class _Conn(threading.Thread):
    """One client connection: TLS handshake, then an h2 state machine in a poll loop."""

    def __init__(self, server, sock, peer):
        super().__init__(daemon=True, name='hostile-doh-conn')
        self.server = server
        self.raw = sock
        self.peer = peer
        self.sock = None
        self.h2 = None
        self.streams = {}
        self.out = {}          # stream id -> [bytearray still to send, end_stream]
        self.timers = []       # (when, stream id, callable)
        self.closed = False

    # -- plumbing ---------------------------------------------------------

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def queue_data(self, sid, data, end=True):
        self.out[sid] = [bytearray(data), end]
        self.pump()

    def pump(self):
        """Send queued bodies as flow control allows."""
        for sid in list(self.out):
            buf, end = self.out[sid]
            try:
                while buf:
                    n = min(len(buf), self.h2.local_flow_control_window(sid),
                            self.h2.max_outbound_frame_size)
                    if n <= 0:
                        break
                    chunk = bytes(buf[:n])
                    del buf[:n]
                    self.h2.send_data(sid, chunk, end_stream=end and not buf)
                if not buf:
                    del self.out[sid]
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                self.out.pop(sid, None)

    def respond(self, sid, status, body=b'', ctype=DNS_CT, end=True, length=None):
        hdrs = [(':status', str(status))] + ([('content-type', ctype)] if ctype else []) + \
            [('content-length', str(len(body) if length is None else length))]
        self.h2.send_headers(sid, hdrs, end_stream=end and not body)
        if body:
            self.queue_data(sid, body, end)

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- request handling --------------------------------------------------

    def query_of(self, st):
        hd = st.headers
        method, path = hd.get(':method', ''), hd.get(':path', '')
        url = urllib.parse.urlsplit(path)
        if url.path != self.server.endpoint:
            return None, 'wrong path %r' % path
        if method == 'POST':
            return bytes(st.body), None
        if method == 'GET':
            qs = urllib.parse.parse_qs(url.query)
            if 'dns' not in qs:
                return None, 'GET without dns='
            b = qs['dns'][0]
            return base64.urlsafe_b64decode(b + '=' * (-len(b) % 4)), None
        return None, 'method %s' % method

    def handle(self, st):
        sid = st.sid
        query, why = self.query_of(st)
        if query is None:
            self.respond(sid, 404, b'not here: ' + why.encode(), 'text/plain')
            return
        mode = self.server.mode
        self.server.count(mode, query)
        if mode == 'ok':
            self.respond(sid, 200, self.server.resolve(query))
        elif mode in ('status500', 'status404', 'status429'):
            self.respond(sid, int(mode[6:]), b'hostile upstream says ' + mode.encode(),
                         'text/plain')
        elif mode == 'wrong-content-type':
            self.respond(sid, 200, self.server.resolve(query), 'text/html')
        elif mode == 'no-content-type':
            self.respond(sid, 200, self.server.resolve(query), None)
        elif mode == 'garbage':
            self.respond(sid, 200, os.urandom(97))
        elif mode == 'empty':
            self.respond(sid, 200, b'')
        elif mode == 'short':
            self.respond(sid, 200, self.server.resolve(query)[:11])
        elif mode == 'mismatched-question':
            q = rig.Message(query)
            other = 'allowed.test' if q.questions and \
                q.questions[0][0].lower().rstrip('.') == 'check.test' else 'check.test'
            alt = rig.build_query(other, 'A', qid=q.id)
            self.respond(sid, 200, self.server.resolve(alt))
        elif mode == 'wrong-id':
            ans = self.server.resolve(query)
            self.respond(sid, 200, struct.pack('!H', 0x1234) + ans[2:])
        elif mode == 'echo-query':
            self.respond(sid, 200, query)
        elif mode == 'huge':
            ans = self.server.resolve(query)
            self.respond(sid, 200, ans + b'\0' * (HUGE_SIZE - len(ans)))
        elif mode == 'hang':
            pass
        elif mode == 'slow-headers':
            ans = self.server.resolve(query)
            self.respond(sid, 200, b'', end=False, length=len(ans))
            self.timers.append((time.monotonic() + self.server.slow_delay, sid,
                                lambda: self.queue_data(sid, ans, True)))
        elif mode == 'reset':
            self.h2.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        elif mode == 'goaway':
            self.h2.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR,
                                     last_stream_id=0)
            self.flush()
            self.close()
        elif mode == 'close':
            ans = self.server.resolve(query)
            self.h2.send_headers(sid, [(':status', '200'), ('content-type', DNS_CT),
                                       ('content-length', str(len(ans)))])
            self.h2.send_data(sid, ans[:len(ans) // 2])
            self.flush()
            self.close()
        elif mode == 'truncated-tc':
            ans = bytearray(self.server.resolve(query))
            ans[2] |= 0x02
            self.respond(sid, 200, bytes(ans))
        else:
            self.respond(sid, 500, b'unknown mode ' + mode.encode(), 'text/plain')

    # -- loop ---------------------------------------------------------------

    def run(self):
        try:
            self.raw.settimeout(5)
            self.sock = self.server.ctx.wrap_socket(self.raw, server_side=True)
            if self.sock.selected_alpn_protocol() != 'h2':
                self.server.note('connection without ALPN h2 (%r)'
                                 % self.sock.selected_alpn_protocol())
                return
            self.h2 = h2.connection.H2Connection(
                h2.config.H2Configuration(client_side=False, header_encoding='utf-8'))
            self.h2.initiate_connection()
            self.flush()
            self._loop()
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError) as e:
            if not self.server.stopping:
                self.server.note('connection ended: %r' % e)
        finally:
            try:
                (self.sock or self.raw).close()
            except OSError:
                pass
            self.server.forget(self)

    def _loop(self):
        while not self.closed and not self.server.stopping:
            now = time.monotonic()
            wait = 0.1
            if self.timers:
                wait = max(0.0, min(wait, min(t[0] for t in self.timers) - now))
            self.sock.settimeout(wait)
            data = None
            try:
                data = self.sock.recv(65536)
                if not data:
                    return
            except (socket.timeout, ssl.SSLWantReadError):
                pass
            if data:
                for ev in self.h2.receive_data(data):
                    self.event(ev)
                    if self.closed:
                        return
            now = time.monotonic()
            due = [t for t in self.timers if t[0] <= now]
            self.timers = [t for t in self.timers if t[0] > now]
            for _, sid, fn in due:
                if sid in self.streams:
                    try:
                        fn()
                    except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                        pass
            self.pump()
            self.flush()

    def event(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            # a GET ends with its headers: h2 reports that as a StreamEnded event too
            self.streams[ev.stream_id] = _Stream(ev.stream_id, dict(ev.headers))
        elif isinstance(ev, h2.events.DataReceived):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                st.body += ev.data
            self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            st = self.streams.get(ev.stream_id)
            if st is not None:
                self.handle(st)
        elif isinstance(ev, h2.events.StreamReset):
            self.server.resets += 1
            self.streams.pop(ev.stream_id, None)
            self.out.pop(ev.stream_id, None)
        elif isinstance(ev, h2.events.WindowUpdated):
            self.pump()
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.closed = True


class HostileDoH:
    """The server: start(), set .mode, stop().  url is https://doh.test:PORT/dns-query."""

    def __init__(self, ca, plain_port, mode='ok', endpoint='/dns-query', slow_delay=10.0):
        self.ca = ca
        self.plain_port = plain_port
        self.mode = mode
        self.endpoint = endpoint
        self.slow_delay = slow_delay
        self.stopping = False
        self.requests = {}
        self.connections = 0
        self.resets = 0
        self.notes = []
        self._lock = threading.Lock()
        self._conns = set()
        self._listener = None
        self._thread = None
        self.port = None
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.load_cert_chain(ca.chain, ca.key)
        self.ctx.set_alpn_protocols(['h2'])
        self.ctx.options |= ssl.OP_NO_COMPRESSION

    @property
    def url(self):
        return 'https://doh.test:%d%s' % (self.port, self.endpoint)

    def set_mode(self, mode):
        if mode not in MODES:
            raise ValueError('unknown hostile mode %r' % mode)
        self.mode = mode

    def count(self, mode, query):
        with self._lock:
            self.requests[mode] = self.requests.get(mode, 0) + 1

    def total(self, mode=None):
        with self._lock:
            if mode is None:
                return sum(self.requests.values())
            return self.requests.get(mode, 0)

    def note(self, text):
        with self._lock:
            self.notes.append(text)

    def resolve(self, query):
        """The real answer from unbound's plain port (TCP if UDP came back truncated)."""
        ans = rig.udp_exchange('127.0.0.1', self.plain_port, query, timeout=2.0, parse=False)
        if ans is None or (len(ans) > 2 and ans[2] & 0x02):
            s = rig.tcp_connect('127.0.0.1', self.plain_port, timeout=2.0)
            try:
                s.sendall(rig.tcp_frame(query))
                ans = rig.tcp_recv_msg(s, parse=False)
            finally:
                s.close()
        return ans

    def start(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(256)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name='hostile-doh-accept')
        self._thread.start()
        return self

    def _accept(self):
        while not self.stopping:
            try:
                s, peer = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = _Conn(self, s, peer)
            with self._lock:
                self.connections += 1
                self._conns.add(c)
            c.start()

    def forget(self, conn):
        with self._lock:
            self._conns.discard(conn)

    def drop_connections(self):
        """Close every open client connection (the listener stays)."""
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.close()

    def stop(self):
        self.stopping = True
        if self._listener is not None:
            self._listener.close()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.close()
            c.join(5)


def main():
    """python3 hostile_doh.py CA_DIR PLAIN_PORT [MODE]: serve until interrupted."""
    import sys

    class _CA:
        pass
    ca = _CA()
    ca.chain = os.path.join(sys.argv[1], 'server-chain.pem')
    ca.key = os.path.join(sys.argv[1], 'server.key')
    srv = HostileDoH(ca, int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else 'ok').start()
    print('URL=%s' % srv.url, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        srv.stop()


if __name__ == '__main__':
    main()
