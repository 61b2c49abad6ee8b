#!/usr/bin/python3
"""The steering library under test: tests/tools/steer-driver (one DdrSteer; commands
on stdin: on, off, restore, losses, quit; one answer line each), spawned by the tests."""

import os
import select
import subprocess
import time

import rig


def driver_binary():
    return rig.built('steer-driver', 'tests', 'tools', 'steer-driver')


class Driver:
    def __init__(self, args, env=None, prefix=(), log=None):
        e = dict(os.environ)
        e.setdefault('G_DEBUG', 'fatal-criticals')
        e.setdefault('ASAN_OPTIONS', 'abort_on_error=1')
        e['G_MESSAGES_DEBUG'] = 'all'
        e.update(env or {})
        self.log = log
        err = open(log, 'ab') if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(list(prefix) + [driver_binary()] + list(args),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=err, env=e)
        if log:
            err.close()
        self.buf = b''
        self.backend = self.line().split(' ', 1)
        if self.backend[0] != 'backend':
            raise AssertionError('steer-driver did not start: %r' % self.backend)
        self.backend = self.backend[1]

    def line(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('steer-driver gave no answer in %.0fs (log: %s)'
                                     % (timeout, self.log))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise AssertionError('steer-driver exited (%r); log: %s'
                                         % (self.proc.poll(), self.log))
                self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return line.decode()

    def command(self, cmd, timeout=15.0):
        self.proc.stdin.write((cmd + '\n').encode())
        self.proc.stdin.flush()
        return self.line(timeout)

    def set(self, on):
        what = 'on' if on else 'off'
        answer = self.command(what)
        if answer != 'ok ' + what:
            raise AssertionError('steer %s: %s (log: %s)' % (what, answer, self.log))

    def losses(self):
        """(how many "lost" signals the DdrSteer emitted, the last reason)."""
        answer = self.command('losses')
        parts = answer.split(' ', 2)
        if parts[0] != 'losses':
            raise AssertionError('losses: %s' % answer)
        return int(parts[1]), (parts[2] if len(parts) > 2 else '')

    def kill(self):
        """A crash: SIGKILL, nothing undone."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()
