#!/usr/bin/python3
"""The "network" side of the real-NetworkManager test, run inside the peer network
namespace: its DNS server on ADDR:53 (UDP + TCP; every A question is answered with
NETWORK_A, every query is logged) and its HTTP server on ADDR:80, whose behaviour
the test switches by rewriting a mode file:

  full    GET /check -> 200 CHECK_BODY (NetworkManager's connectivity check),
          GET /generate_204 -> 204 (the daemon's portal probe), /login -> 200
  portal  every path but /login -> 302 to http://ADDR/login (a captive portal)

usage: peer.py DIR ADDR     (writes DIR/peer.ready when both servers listen;
                             DIR/mode is read on every request; DIR/dns-queries.log)"""

import http.server
import os
import socket
import socketserver
import struct
import sys
import threading
import time

CHECK_BODY = b'threatstop-ddr rig: online\n'
NETWORK_A = '198.51.100.1'


def dns_answer(query):
    """A reply for a DNS query: one A record for any A question, else an empty
    NOERROR. Returns (reply bytes, question name) or (None, None) for junk."""
    if len(query) < 12:
        return None, None
    qid, flags, qd = struct.unpack('!HHH', query[:6])
    if qd != 1 or flags & 0x8000:
        return None, None
    off, labels = 12, []
    while off < len(query) and query[off] != 0:
        n = query[off]
        if n & 0xC0 or off + 1 + n > len(query):
            return None, None
        labels.append(query[off + 1:off + 1 + n].decode('ascii', 'replace'))
        off += 1 + n
    off += 1
    if off + 4 > len(query):
        return None, None
    qtype = struct.unpack('!H', query[off:off + 2])[0]
    question = query[12:off + 4]
    answer = b''
    if qtype == 1:
        answer = (b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 30, 4)
                  + socket.inet_aton(NETWORK_A))
    hdr = struct.pack('!6H', qid, 0x8180 | (flags & 0x0100), 1, 1 if answer else 0, 0, 0)
    return hdr + question + answer, '.'.join(labels) + '.'


class Peer:
    def __init__(self, dir, addr):
        self.dir = dir
        self.addr = addr
        self.lock = threading.Lock()
        self.qlog = open(os.path.join(dir, 'dns-queries.log'), 'a', buffering=1)
        self.hlog = open(os.path.join(dir, 'http.log'), 'a', buffering=1)

    def mode(self):
        try:
            with open(os.path.join(self.dir, 'mode')) as f:
                return f.read().strip() or 'full'
        except OSError:
            return 'full'

    def log_query(self, proto, client, name):
        with self.lock:
            self.qlog.write('%.6f %s %s %s\n' % (time.time(), proto, client, name))

    def udp_loop(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.addr, 53))
        self.udp = s

    def serve_udp(self):
        while True:
            data, client = self.udp.recvfrom(4096)
            reply, name = dns_answer(data)
            if reply:
                self.log_query('udp', client[0], name)
                self.udp.sendto(reply, client)

    def serve_tcp_client(self, c, client):
        with c:
            c.settimeout(5)
            try:
                while True:
                    ln = c.recv(2)
                    if len(ln) < 2:
                        return
                    want = struct.unpack('!H', ln)[0]
                    data = b''
                    while len(data) < want:
                        chunk = c.recv(want - len(data))
                        if not chunk:
                            return
                        data += chunk
                    reply, name = dns_answer(data)
                    if not reply:
                        return
                    self.log_query('tcp', client[0], name)
                    c.sendall(struct.pack('!H', len(reply)) + reply)
            except OSError:
                return

    def serve_tcp(self):
        while True:
            c, client = self.tcp.accept()
            threading.Thread(target=self.serve_tcp_client, args=(c, client), daemon=True).start()

    def handler(peer):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, fmt, *args):
                with peer.lock:
                    peer.hlog.write('%.6f %s %s\n' % (time.time(), self.client_address[0],
                                                      fmt % args))

            def send(self, code, body=b'', headers=()):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                if code != 204:
                    self.send_header('Content-Length', str(len(body)))
                self.send_header('Connection', 'close')
                self.end_headers()
                if body and self.command != 'HEAD':
                    self.wfile.write(body)
                self.close_connection = True

            def do_GET(self):
                path = self.path.split('?', 1)[0]
                mode = peer.mode()
                if path == '/login':
                    self.send(200, b'<html><body>Welcome to the test hotspot</body></html>\n',
                              [('Content-Type', 'text/html')])
                elif mode == 'portal':
                    self.send(302, b'', [('Location', 'http://%s/login' % peer.addr)])
                elif path == '/check':
                    self.send(200, CHECK_BODY, [('Content-Type', 'text/plain')])
                elif path == '/generate_204':
                    self.send(204)
                else:
                    self.send(404, b'not found\n')

            do_HEAD = do_GET
        return Handler

    def run(self):
        self.udp_loop()
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((self.addr, 53))
        self.tcp.listen(16)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        httpd = Server((self.addr, 80), self.handler())
        threading.Thread(target=self.serve_udp, daemon=True).start()
        threading.Thread(target=self.serve_tcp, daemon=True).start()
        with open(os.path.join(self.dir, 'peer.ready'), 'w') as f:
            f.write('%d\n' % os.getpid())
        httpd.serve_forever()


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    Peer(sys.argv[1], sys.argv[2]).run()
