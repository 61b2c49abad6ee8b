#!/usr/bin/python3
"""The relay's stand-in on 127.0.0.1:53 (UDP): answers every A query with 192.0.2.1
and logs each name, so the test sees which queries systemd-resolved sent it."""

import socket
import struct
import sys

log, ready = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 53))
open(ready, 'w').write('ready\n')
while True:
    data, addr = s.recvfrom(4096)
    if len(data) < 17:
        continue
    qid = struct.unpack('!H', data[:2])[0]
    i, labels = 12, []
    while i < len(data) and data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode('ascii', 'replace'))
        i += data[i] + 1
    question = data[12:i + 5]
    with open(log, 'a') as f:
        f.write('.'.join(labels) + '\n')
    answer = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    s.sendto(struct.pack('!HHHHHH', qid, 0x8180, 1, 1, 0, 0) + question + answer, addr)
