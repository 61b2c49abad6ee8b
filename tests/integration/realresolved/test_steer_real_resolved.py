#!/usr/bin/python3
"""The resolved steering backend (tests/tools/steer-driver) and restore-dns against the
real systemd-resolved 252, extracted from its .deb (never installed: its postinst
repoints the host's /etc/resolv.conf), in a network + mount namespace of the test's
own (holder.sh) with a private system bus. relay.py stands in for the relay on
127.0.0.1:53 and logs what resolved sends it.

Checked: on -> resolved routes every name to 127.0.0.1 through ddr0 (~., +DefaultRoute)
and the stub answers from the relay; off -> nothing is left on ddr0 (the stub refuses:
no other servers here); a resolved restart -> the steering comes back by itself;
SIGKILL -> restore-dns reverts the link and deletes it; a second run has nothing to do.

./ddr-dev deps extracts the .deb to .deps/systemd-resolved (DDR_RESOLVED_ROOT
overrides). Run alone:
  meson test -C build --suite e2e --print-errorlogs test_steer_real_resolved
Root only. DDR_KEEP_TMP=1 keeps the logs."""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import rig  # noqa: E402
import steerrig  # noqa: E402
from rig import wait_until  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BUS_SOCKET = '/run/dbus/system_bus_socket'     # inside the holder's mount namespace
BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=%s</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
<allow receive_sender="*"/></policy></busconfig>
''' % BUS_SOCKET
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _pdeathsig():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def resolved_root():
    root = os.environ.get('DDR_RESOLVED_ROOT') or os.path.join(SRC, '.deps', 'systemd-resolved')
    if not os.access(os.path.join(root, 'lib', 'systemd', 'systemd-resolved'), os.X_OK):
        raise AssertionError('systemd-resolved not extracted at %s: run ./ddr-dev deps (it '
                             'downloads the .deb and extracts it; never apt-get install it)'
                             % root)
    return root


class TestSteerRealResolved(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='ddr-steer-resolved-')
        os.chmod(self.tmp, 0o755)
        self.procs = {}
        self.driver = None
        self.addCleanup(self._cleanup)
        if os.geteuid() != 0:
            self.fail('the real-resolved test needs root (namespaces, mounts)')
        self.rroot = resolved_root()
        self.admin = os.path.abspath(os.path.join(rig.build_dir(), 'src', 'admin',
                                                  'threatstop-ddr-admin'))
        self.state = self.path('state')
        self.spawn('holder', [rig.tool('unshare'), '--net', '--mount', '--propagation',
                              'private', 'sh', os.path.join(HERE, 'holder.sh'), self.tmp],
                   inside=False)
        wait_until(lambda: self.alive('holder') and os.path.exists(self.path('holder.ready')),
                   10, what='the private namespaces (holder.sh)')
        with open(self.path('bus.conf'), 'w') as f:
            f.write(BUS_CONFIG)
        self.spawn('dbus-daemon', [rig.tool('dbus-daemon'),
                                   '--config-file=' + self.path('bus.conf'),
                                   '--nofork', '--nopidfile'])
        wait_until(lambda: self.alive('dbus-daemon') and os.path.exists(
            '/proc/%d/root%s' % (self.procs['holder'].pid, BUS_SOCKET)), 10,
            what='the private system bus')
        self.spawn('relay', ['/usr/bin/python3', os.path.join(HERE, 'relay.py'),
                             self.path('relay-queries.log'), self.path('relay.ready')])
        wait_until(lambda: self.alive('relay') and os.path.exists(self.path('relay.ready')), 10,
                   what='the relay stand-in on 127.0.0.1:53')
        self.start_resolved()

    def _cleanup(self):
        failed = not getattr(getattr(self, '_outcome', None), 'success', True)
        if self.driver is not None:
            self.driver.close()
        for name in ['resolved', 'relay', 'dbus-daemon', 'holder']:
            p = self.procs.get(name)
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if failed:
            for name in ['resolved', 'dbus-daemon', 'relay', 'holder', 'steer-driver']:
                p = self.path(name + '.log')
                if os.path.exists(p):
                    with open(p, errors='replace') as f:
                        sys.stderr.write('===== %s =====\n%s\n' % (name, f.read()[-15000:]))
        if os.environ.get('DDR_KEEP_TMP'):
            sys.stderr.write('kept %s\n' % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # the world ------------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def inside(self, cmd):
        # -r -w: keep the holder's root and working directory (a chroot stays a chroot)
        return [rig.tool('nsenter'), '-t', str(self.procs['holder'].pid), '-n', '-m', '-r', '-w',
                '--'] + cmd

    def env(self, **extra):
        e = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + BUS_SOCKET)
        e.update(extra)
        return e

    def spawn(self, name, cmd, inside=True, env=None):
        log = open(self.path(name + '.log'), 'ab')
        self.procs[name] = subprocess.Popen(self.inside(cmd) if inside else cmd,
                                            stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env or self.env(),
                                            preexec_fn=_pdeathsig)
        log.close()
        return self.procs[name]

    def alive(self, name):
        p = self.procs[name]
        if p.poll() is not None:
            with open(self.path(name + '.log'), errors='replace') as f:
                raise AssertionError('%s exited with %s:\n%s' % (name, p.returncode,
                                                                 f.read()[-3000:]))
        return True

    def run_inside(self, cmd, timeout=20):
        return subprocess.run(self.inside(cmd), capture_output=True, text=True,
                              timeout=timeout, env=self.env(), stdin=subprocess.DEVNULL)

    def resolved_on_bus(self):
        r = self.run_inside([rig.tool('dbus-send'), '--system', '--print-reply',
                             '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus',
                             'org.freedesktop.DBus.NameHasOwner',
                             'string:org.freedesktop.resolve1'])
        return r.returncode == 0 and 'boolean true' in r.stdout

    def start_resolved(self):
        self.spawn('resolved', [os.path.join(self.rroot, 'lib', 'systemd', 'systemd-resolved')],
                   env=self.env(SYSTEMD_LOG_LEVEL='debug'))
        wait_until(lambda: self.alive('resolved') and self.resolved_on_bus(), 15,
                   what='systemd-resolved on the private bus')

    def stop_resolved(self):
        p = self.procs.pop('resolved')
        p.terminate()
        p.wait(10)
        wait_until(lambda: not self.resolved_on_bus(), 10, what='resolved to leave the bus')

    def link_status(self):
        r = self.run_inside([os.path.join(self.rroot, 'usr', 'bin', 'resolvectl'), 'status',
                             'ddr0'])
        return r.stdout if r.returncode == 0 else ''

    def dig(self, name):
        """(status, [A addresses]) of name through resolved's stub."""
        r = self.run_inside([rig.tool('dig'), '+tries=1', '+time=3', '@127.0.0.53', name, 'A'])
        m = re.search(r'status: (\w+)', r.stdout)
        addrs = re.findall(r'^\S+\s+\d+\s+IN\s+A\s+(\S+)$', r.stdout, re.M)
        return (m.group(1) if m else 'no answer'), addrs

    def relay_saw(self, name):
        try:
            with open(self.path('relay-queries.log')) as f:
                return name in f.read().split()
        except OSError:
            return False

    def ddr0_exists(self):
        return self.run_inside([rig.tool('ip'), 'link', 'show', 'ddr0']).returncode == 0

    def restore_dns(self):
        return self.run_inside([self.admin, '--action=restore-dns', '--root=' + self.path('root'),
                                '--state-dir=' + self.state], timeout=30)

    def assert_steered(self, name, what):
        status = self.link_status()
        for text in ('DNS Servers: 127.0.0.1', 'DNS Domain: ~.', '+DefaultRoute',
                     '-LLMNR', '-mDNS', 'Current Scopes: DNS\n'):
            self.assertIn(text, status, '%s: resolvectl status ddr0:\n%s' % (what, status))
        # the first query on a fresh server may meet resolved's feature probing: retry
        wait_until(lambda: self.dig(name) == ('NOERROR', ['192.0.2.1']), 15,
                   what='%s: %s answered by the relay through the stub' % (what, name))
        self.assertTrue(self.relay_saw(name), name)

    # the test -------------------------------------------------------------------

    def test_steering_under_real_resolved(self):
        os.makedirs(self.path('root', 'etc'))
        self.assertEqual(self.dig('before.check.test')[0], 'REFUSED',
                         'no server at all before steering')
        self.driver = steerrig.Driver(
            ['--backend=auto', '--root=' + self.path('root'), '--state-dir=' + self.state],
            env=self.env(THREATSTOP_DDR_STEER_LINK='veth'), prefix=self.inside([]),
            log=self.path('steer-driver.log'))
        self.assertEqual(self.driver.backend, 'resolved')

        self.driver.set(True)
        self.assertTrue(self.ddr0_exists())
        self.assert_steered('on.check.test', 'on')

        self.driver.set(False)
        status = self.link_status()
        self.assertNotIn('127.0.0.1', status, 'off: ' + status)
        self.assertIn('-DefaultRoute', status, 'off: ' + status)
        self.assertEqual(self.dig('off.check.test')[0], 'REFUSED')
        self.assertFalse(self.relay_saw('off.check.test'))

        self.driver.set(True)
        self.assert_steered('again.check.test', 'on again')

        # "resolvectl revert ddr0" behind the backend's back: reported at once (issue 10.4)
        t0 = time.monotonic()
        r = self.run_inside([os.path.join(self.rroot, 'usr', 'bin', 'resolvectl'), 'revert',
                             'ddr0'])
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: self.driver.losses()[0] == 1, 5, interval=0.01,
                   what='the revert reported as a loss')
        ms = (time.monotonic() - t0) * 1000
        print('# real resolved: resolvectl revert ddr0 -> loss reported: %d ms' % ms, flush=True)
        self.assertLess(ms, 1000)
        self.assertIn('reverted', self.driver.losses()[1])
        self.driver.set(True)
        self.assert_steered('reverted.check.test', 'steered again after a revert')

        # "ip link del ddr0": resolved drops the link and says so; a loss too
        t0 = time.monotonic()
        r = self.run_inside([rig.tool('ip'), 'link', 'del', 'ddr0'])
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: self.driver.losses()[0] == 2, 5, interval=0.01,
                   what='the deleted link reported as a loss')
        print('# real resolved: ip link del ddr0 -> loss reported: %d ms'
              % ((time.monotonic() - t0) * 1000), flush=True)
        self.driver.set(True)
        self.assertTrue(self.ddr0_exists())
        self.assert_steered('relinked.check.test', 'steered again after the link was deleted')

        # resolved forgets runtime link settings when it restarts: a loss, and ours come back
        t0 = time.monotonic()
        self.stop_resolved()
        wait_until(lambda: self.driver.losses()[0] == 3, 5, interval=0.01,
                   what='resolved stopping reported as a loss')
        print('# real resolved: stopped -> loss reported: %d ms'
              % ((time.monotonic() - t0) * 1000), flush=True)
        self.start_resolved()
        wait_until(lambda: 'DNS Servers: 127.0.0.1' in self.link_status(), 10,
                   what='the steering re-applied after resolved restarted')
        self.assert_steered('restart.check.test', 'after a resolved restart')

        # a crash: nothing undone until restore-dns (the unit's ExecStopPost)
        self.driver.kill()
        self.assertIn('DNS Servers: 127.0.0.1', self.link_status())
        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'Reverted the DNS settings of ddr0 in systemd-resolved\n'
                                   'Deleted the link ddr0\n')
        self.assertFalse(self.ddr0_exists())
        self.assertEqual(self.dig('restored.check.test')[0], 'REFUSED')
        self.assertFalse(self.relay_saw('restored.check.test'))

        r = self.restore_dns()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith('Nothing to restore'), r.stdout)
