#!/usr/bin/python3
"""The real-NetworkManager world for end-to-end roaming tests (see RIG.md, "the real
daemon, end to end", and research/steer.md):

  netns ddrnm<PID>p  the network: peer0 = 198.18.0.1/24, its DNS server on :53 and
                     an HTTP responder on :80 (peer.py; mode full | portal)
  netns ddrnm<PID>t  the machine: nm0 (veth to peer0), lo; a private mount + UTS
                     namespace (holder.sh) with a tmpfs /run, an overlay /etc, a
                     read-only /sys; a private dbus-daemon listening at
                     /run/dbus/system_bus_socket (what dispatcher scripts call) and
                     at DIR/bus/socket (what this process uses); NetworkManager
                     --debug with dns=default, rc-manager=file, a connectivity check
                     against the peer, and a keyfile profile for nm0.

The test process itself enters the machine's network namespace (setns), so rig.py's
unbound, free_port and DNS helpers work unchanged there. Processes that must see the
private /etc/resolv.conf and /run (NetworkManager, the bus, threatstop-ddrd, the CLI,
getent) run through nsenter into the holder's namespaces. Nothing here touches the
host's network, /etc or /run. Every child gets PR_SET_PDEATHSIG, and stop() kills
them by pid and deletes both namespaces; a crashed earlier run's namespaces (named
after a pid that no longer exists) are deleted at start.

Debug by hand:  /usr/bin/python3 nmrig.py shell DIR   (brings the world up, prints how
to reach it, waits for Enter, tears it down)"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import busrig  # noqa: E402
import rig  # noqa: E402
from rig import wait_until  # noqa: E402

PEER_ADDR = '198.18.0.1'
NM0_ADDR = '198.18.0.2'
NM0_UUID = '5a0a5d0e-6c1c-4a4f-9a57-3c1a7e2b0d01'
NM0_ID = 'rig-wired'
CHECK_URI = 'http://%s/check' % PEER_ADDR
PORTAL_PROBE_URL = 'http://%s/generate_204' % PEER_ADDR
NM_DISPATCHER = '/usr/lib/NetworkManager/nm-dispatcher'

NM_BUS = 'org.freedesktop.NetworkManager'
NM_PATH = '/org/freedesktop/NetworkManager'
PROPS = 'org.freedesktop.DBus.Properties'
# NMConnectivityState
CONNECTIVITY = {0: 'UNKNOWN', 1: 'NONE', 2: 'PORTAL', 3: 'LIMITED', 4: 'FULL'}

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)

NM_CONF = '''[main]
plugins=keyfile
dns=default
rc-manager=file
systemd-resolved=false
auth-polkit=false
no-auto-default=*
dhcp=internal
hostname-mode=none

[logging]
level=INFO
domains=DEFAULT,DNS:TRACE,CONCHECK:DEBUG,DISPATCH:DEBUG,DEVICE:DEBUG,SETTINGS:DEBUG,CORE:DEBUG

[keyfile]
path={keyfiles}

[connectivity]
enabled=true
uri={uri}
response={response}
interval=3
'''

NM0_PROFILE = '''[connection]
id={id}
uuid={uuid}
type=ethernet
interface-name=nm0
autoconnect=true

[ethernet]

[ipv4]
method=manual
address1={addr}/24,{gw}
dns={gw};

[ipv6]
method=disabled
'''

DISPATCHER_SERVICE = '''[D-BUS Service]
Name=org.freedesktop.nm_dispatcher
Exec={exe} --debug
User=root
'''

# Logs every event nm-dispatcher hands to scripts: shows the dispatcher really runs
# scripts from the private dispatcher.d, independent of the product's script.
LOG_SCRIPT = '''#!/bin/sh
printf '%s %s %s %s\\n' "$(date +%s.%N)" "$2" "${{1:-none}}" "${{CONNECTIVITY_STATE:-}}" >>{log}
'''


def _pdeathsig():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _setns(fd, nstype):
    if _libc.setns(fd, nstype) != 0:
        e = ctypes.get_errno()
        raise OSError(e, 'setns: ' + os.strerror(e))


def _run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=kw.pop('timeout', 30), **kw)
    if check and p.returncode != 0:
        raise AssertionError('command failed (%d): %s\n%s%s' % (
            p.returncode, ' '.join(cmd), p.stdout, p.stderr))
    return p


def required_tools():
    """Absolute paths of everything the world needs; a missing one fails the test."""
    # busctl: what dispatcher/90-threatstop-ddr calls the daemon with
    tools = {t: rig.tool(t) for t in ('ip', 'unshare', 'nsenter', 'mount', 'dbus-daemon',
                                      'NetworkManager', 'getent', 'unbound', 'openssl',
                                      'busctl', 'timeout')}
    if not os.access(NM_DISPATCHER, os.X_OK):
        raise AssertionError('%s not found: install network-manager' % NM_DISPATCHER)
    try:
        import dbus  # noqa: F401
    except ImportError:
        raise AssertionError('python3-dbus not found (apt-get install python3-dbus)')
    return tools


def nameservers(text):
    return re.findall(r'^\s*nameserver\s+(\S+)', text or '', re.M)


class Child:
    """One long-running process, its output in a log file, stopped by its pid."""

    def __init__(self, name, cmd, logfile, env=None):
        self.name = name
        self.logfile = logfile
        self._log = open(logfile, 'ab')
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     preexec_fn=_pdeathsig)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def log(self):
        return rig.read_log(self.logfile)


class World:
    def __init__(self, dir):
        self.dir = dir
        self.tag = 'ddrnm%d' % os.getpid()
        self.ns = self.tag + 't'
        self.peer_ns = self.tag + 'p'
        self.children = []
        self.holder = None
        self.nm = None
        self.dbus = None
        self._bus = None
        self._orig_netns = None
        self._made_ns = []
        self.tools = required_tools()
        self.bus_socket = os.path.join(dir, 'bus', 'socket')
        self.bus_address = 'unix:path=' + self.bus_socket

    # paths ------------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def _mkdir(self, *parts, mode=0o755):
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        return p

    # set-up -----------------------------------------------------------------

    @staticmethod
    def sweep_stale():
        """Delete namespaces left by an earlier run whose process is gone."""
        out = _run(['ip', 'netns', 'list'], check=False).stdout
        for m in re.finditer(r'^(ddrnm(\d+)[tp])\b', out, re.M):
            if not os.path.exists('/proc/%s' % m.group(2)):
                _run(['ip', 'netns', 'del', m.group(1)], check=False)

    def start(self):
        self.sweep_stale()
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self._make_netns()
        self._start_peer()
        self._enter_netns()
        self._write_files()
        self._start_holder()
        self._start_bus()
        self._start_nm()
        return self

    def _make_netns(self):
        for ns in (self.ns, self.peer_ns):
            _run(['ip', 'netns', 'add', ns])
            self._made_ns.append(ns)
            _run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
        # created inside the machine's namespace: never a link in the host's
        _run(['ip', '-n', self.ns, 'link', 'add', 'nm0', 'type', 'veth',
              'peer', 'name', 'peer0', 'netns', self.peer_ns])
        _run(['ip', '-n', self.peer_ns, 'addr', 'add', PEER_ADDR + '/24', 'dev', 'peer0'])
        _run(['ip', '-n', self.peer_ns, 'link', 'set', 'peer0', 'up'])

    def _start_peer(self):
        d = self._mkdir('peer')
        self.set_mode('full')
        self.peer = self._spawn('peer', ['ip', 'netns', 'exec', self.peer_ns,
                                         sys.executable, os.path.join(HERE, 'peer.py'),
                                         d, PEER_ADDR])
        wait_until(lambda: self._check_alive(self.peer) and
                   os.path.exists(os.path.join(d, 'peer.ready')), 10,
                   what='the peer (DNS + HTTP on %s)' % PEER_ADDR)

    def _enter_netns(self):
        self._orig_netns = os.open('/proc/self/ns/net', os.O_RDONLY)
        fd = os.open('/run/netns/' + self.ns, os.O_RDONLY)
        try:
            _setns(fd, CLONE_NEWNET)
        finally:
            os.close(fd)

    def _leave_netns(self):
        if self._orig_netns is not None:
            _setns(self._orig_netns, CLONE_NEWNET)
            os.close(self._orig_netns)
            self._orig_netns = None

    def _write_files(self):
        self._mkdir('dispatcher.d')
        self._mkdir('empty')
        self._mkdir('varlib', mode=0o700)
        nm = self._mkdir('nm')
        self._mkdir('nm', 'conf.d')
        keyfiles = self._mkdir('nm', 'system-connections', mode=0o700)
        self._mkdir('bus')
        services = self._mkdir('bus', 'services')
        with open(os.path.join(nm, 'NetworkManager.conf'), 'w') as f:
            f.write(NM_CONF.format(keyfiles=keyfiles, uri=CHECK_URI,
                                   response=self.check_body().strip()))
        prof = os.path.join(keyfiles, NM0_ID + '.nmconnection')
        with open(prof, 'w') as f:
            f.write(NM0_PROFILE.format(id=NM0_ID, uuid=NM0_UUID, addr=NM0_ADDR, gw=PEER_ADDR))
        os.chmod(prof, 0o600)
        with open(self.path('bus', 'system.conf'), 'w') as f:
            # dispatcher scripts call the bus at the standard path
            f.write(busrig.bus_config(self.bus_socket, permissive=True, servicedir=services,
                                      also_listen=['/run/dbus/system_bus_socket']))
        with open(os.path.join(services, 'org.freedesktop.nm_dispatcher.service'), 'w') as f:
            f.write(DISPATCHER_SERVICE.format(exe=NM_DISPATCHER))
        self.install_dispatcher_script('10-rig-log', LOG_SCRIPT.format(
            log=self.path('dispatcher-events.log')))

    @staticmethod
    def check_body():
        sys.path.insert(0, HERE)
        import peer
        return peer.CHECK_BODY.decode()

    def install_dispatcher_script(self, name, text=None, source=None):
        """Root-owned 0755 in the private dispatcher.d (nm-dispatcher refuses others)."""
        dst = self.path('dispatcher.d', name)
        if source:
            shutil.copyfile(source, dst)
        else:
            with open(dst, 'w') as f:
                f.write(text)
        os.chown(dst, 0, 0)
        os.chmod(dst, 0o755)
        return dst

    def _start_holder(self):
        self.holder = self._spawn('holder', [
            'ip', 'netns', 'exec', self.ns, 'unshare', '--mount', '--uts',
            '--propagation', 'private', 'sh', os.path.join(HERE, 'holder.sh'), self.dir])
        wait_until(lambda: self._check_alive(self.holder) and
                   os.path.exists(self.path('holder.ready')), 10,
                   what='the private mount namespace (holder.sh)')
        # the overlay is in place once the holder says so; check we see its /etc
        wait_until(lambda: 'not written by NetworkManager' in self.resolv_conf(), 5,
                   what="the holder's private /etc/resolv.conf")

    def inside(self, cmd):
        """cmd run in the machine's network, mount and UTS namespaces. -r -w: entering a
        mount namespace resets the root and working directory to that namespace's, which
        leaves a chroot (Debian's build daemons run the suite in one); these keep the
        holder's, which are the test's own."""
        return [self.tools['nsenter'], '-t', str(self.holder.pid), '-m', '-r', '-w', '-n', '-u',
                '--'] + cmd

    def _spawn(self, name, cmd, env=None):
        c = Child(name, cmd, self.path(name + '.log'), env=env)
        self.children.append(c)
        return c

    def spawn_inside(self, name, cmd, env=None):
        return self._spawn(name, self.inside(cmd), env=env)

    def _check_alive(self, child):
        if not child.alive():
            raise AssertionError('%s exited with %s:\n%s' % (
                child.name, child.proc.returncode, child.log()[-3000:]))
        return True

    def env(self, **extra):
        e = dict(os.environ)
        e['DBUS_SYSTEM_BUS_ADDRESS'] = 'unix:path=/run/dbus/system_bus_socket'
        e.update(extra)
        return e

    def _start_bus(self):
        self.dbus = self.spawn_inside('dbus-daemon', [
            self.tools['dbus-daemon'], '--config-file=' + self.path('bus', 'system.conf'),
            '--nofork', '--nopidfile'], env=self.env())
        wait_until(lambda: self._check_alive(self.dbus) and os.path.exists(self.bus_socket),
                   10, what='the private system bus')
        import dbus
        self._bus = dbus.bus.BusConnection(self.bus_address)

    @property
    def bus(self):
        return self._bus

    def _start_nm(self):
        nm = self.path('nm')
        self.nm = self.spawn_inside('NetworkManager', [
            self.tools['NetworkManager'], '--debug',
            '--config=' + os.path.join(nm, 'NetworkManager.conf'),
            '--config-dir=' + os.path.join(nm, 'conf.d'),
            '--system-config-dir=' + self.path('empty'),
            '--intern-config=' + os.path.join(nm, 'intern.conf'),
            '--state-file=' + os.path.join(nm, 'state'),
            '--pid-file=' + os.path.join(nm, 'pid')], env=self.env())
        t0 = time.monotonic()
        wait_until(lambda: self._check_alive(self.nm) and self.bus.name_has_owner(NM_BUS),
                   15, what='NetworkManager on the private bus')
        wait_until(lambda: self._check_alive(self.nm) and
                   self.resolv_nameservers() == [PEER_ADDR], 20,
                   what="NetworkManager to activate nm0 and write the network's DNS")
        wait_until(lambda: self.connectivity() == 'FULL', 20,
                   what="NetworkManager's connectivity check to say FULL")
        self.nm_ready_s = time.monotonic() - t0

    # observing --------------------------------------------------------------

    def resolv_conf(self):
        """NM's /etc/resolv.conf as the machine sees it (the overlay's upper layer)."""
        try:
            with open('/proc/%d/root/etc/resolv.conf' % self.holder.pid) as f:
                return f.read()
        except OSError:
            return ''

    def resolv_nameservers(self):
        return nameservers(self.resolv_conf())

    def nm_prop(self, name, path=NM_PATH, iface=NM_BUS):
        return self.bus.get_object(NM_BUS, path, introspect=False).Get(
            iface, name, dbus_interface=PROPS)

    def connectivity(self):
        return CONNECTIVITY.get(int(self.nm_prop('Connectivity')), '?')

    def check_connectivity(self):
        """NM's CheckConnectivity(): runs a check now, returns the result."""
        nm = self.bus.get_object(NM_BUS, NM_PATH, introspect=False)
        return CONNECTIVITY.get(int(nm.CheckConnectivity(dbus_interface=NM_BUS)), '?')

    def active_connection_ids(self):
        ids = []
        for p in self.nm_prop('ActiveConnections'):
            try:
                ids.append(str(self.nm_prop('Id', p, NM_BUS + '.Connection.Active')))
            except Exception:  # noqa: BLE001 - gone meanwhile
                pass
        return ids

    def set_mode(self, mode):
        tmp = self.path('peer', 'mode.tmp')
        with open(tmp, 'w') as f:
            f.write(mode + '\n')
        os.rename(tmp, self.path('peer', 'mode'))

    def dns_queries(self):
        """[(time, proto, client, name)] the network's DNS server answered."""
        out = []
        try:
            with open(self.path('peer', 'dns-queries.log')) as f:
                for line in f:
                    t, proto, client, name = line.split()
                    out.append((float(t), proto, client, name))
        except OSError:
            pass
        return out

    def http_requests(self):
        """[(wall time, request line)] the network's HTTP server got."""
        out = []
        try:
            with open(self.path('peer', 'http.log')) as f:
                for line in f:
                    t, rest = line.split(' ', 1)
                    out.append((float(t), rest.strip()))
        except OSError:
            pass
        return out

    def http_quiet_for(self, seconds):
        """True once the network's HTTP server has had no request for seconds."""
        reqs = self.http_requests()
        return not reqs or time.time() - reqs[-1][0] >= seconds

    def dispatcher_events(self):
        try:
            with open(self.path('dispatcher-events.log')) as f:
                return [line.split() for line in f]
        except OSError:
            return []

    def getent(self, name):
        """glibc's answer for name inside the machine (through NM's resolv.conf)."""
        p = _run(self.inside([self.tools['getent'], 'ahostsv4', name]), check=False,
                 timeout=15)
        return p.returncode, sorted({l.split()[0] for l in p.stdout.splitlines() if l.strip()})

    def logs(self):
        out = []
        for c in self.children:
            out.append('===== %s (%s) =====\n%s' % (c.name, c.logfile, c.log()[-20000:]))
        ev = self.dispatcher_events()
        out.append('===== dispatcher events =====\n%s' % '\n'.join(' '.join(e) for e in ev))
        out.append('===== resolv.conf =====\n%s' % self.resolv_conf())
        return '\n'.join(out)

    # tear-down --------------------------------------------------------------

    def stop(self):
        errors = []
        if self._bus is not None:
            try:
                self._bus.close()
            except Exception:  # noqa: BLE001
                pass
            self._bus = None
        # NM first (it must not react to the bus or the links going away), the
        # holder (and with it the mount namespace) last
        order = [c for c in self.children if c not in (self.holder, self.dbus)]
        order += [c for c in (self.dbus, self.holder) if c is not None]
        for c in order:
            try:
                c.stop()
            except Exception as e:  # noqa: BLE001
                errors.append('%s: %r' % (c.name, e))
        try:
            self._leave_netns()
        except OSError as e:
            errors.append(repr(e))
        for ns in self._made_ns:
            # anything still in there was started by this test (nm-dispatcher)
            pids = _run(['ip', 'netns', 'pids', ns], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            p = _run(['ip', 'netns', 'del', ns], check=False)
            if p.returncode != 0:
                errors.append('ip netns del %s: %s' % (ns, p.stderr.strip()))
        self._made_ns = []
        return errors


def main(argv):
    if len(argv) == 2 and argv[0] == 'shell':
        w = World(os.path.abspath(argv[1]))
        try:
            w.start()
            print('NetworkManager ready after %.1fs' % w.nm_ready_s)
            print('bus: DBUS_SYSTEM_BUS_ADDRESS=%s' % w.bus_address)
            print('inside: nsenter -t %d -m -n -u' % w.holder.pid)
            print('resolv.conf: /proc/%d/root/etc/resolv.conf' % w.holder.pid)
            print('peer mode: %s' % w.path('peer', 'mode'))
            input('Enter tears the world down: ')
        finally:
            errs = w.stop()
            if errs:
                print('\n'.join(errs))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
