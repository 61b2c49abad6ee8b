#!/usr/bin/python3
"""System test rig: the package on a booted Debian 12 (systemd as PID 1, dbus, polkitd,
NetworkManager, systemd-resolved) in a systemd-nspawn container, with "the network" and
"the ThreatSTOP service" on the host end of its veth.

* Root: `debootstrap --variant=minbase bookworm` (cached in
  /var/cache/threatstop-ddr-tests/base-bookworm), a copy of it plus the packages the
  tests need, cached in .../roots/KEY (KEY = a hash of the package list and this
  recipe's version; DDR_SYSTEM_CACHE moves it; .deb files are kept in .../archives).
  Only Debian's mirror is contacted, and only when the cache misses.
* Boot: a throwaway overlay (the cached root stays read-only as the lower layer) mounted
  in a private mount namespace that only systemd-nspawn lives in, so the mount goes with
  it; nspawn runs in its own cgroup (/sys/fs/cgroup/{unified,systemd}/ddr-system/NAME),
  without machined or a host systemd (--register=no --keep-unit; see
  shared/research/sysd-container.md).
* Network: nspawn's veth; its host end gets 10.231.S.1/24 (S: the first free one, reserved
  in .../nets/S while the boot runs, so two test runs at once do not collide) and runs dnsmasq (DHCP + the
  network's DNS: gw.ddr-sys.test, printer.corp.test, nas.home.arpa), unbound as the DoH
  service (https://doh.test/dns-query on 10.231.S.1:443, a test CA) and a captive-portal
  responder on 10.231.S.1:80. An `ip rule` sends everything else that arrives from the
  veth to an unreachable route: nothing the container sends leaves the machine.
* Commands: `nsenter` into the container's namespaces, then `systemd-run --wait --pipe`
  so each command runs as a unit of the container's systemd (clean environment).
* Stop: poweroff (SIGTERM to nspawn), then everything the boot made is removed: the
  processes, the veth, the ip rule and route table, the cgroups, the overlay and the
  temp dir. `stop()` is idempotent and registered with atexit.

By hand:  sysrig.py build           (prints the cached root)
          sysrig.py shell [DEB]     (boots one, optionally installs DEB, then a shell)"""

import atexit
import fcntl
import hashlib
import http.server
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import rig  # noqa: E402

CACHE = os.environ.get('DDR_SYSTEM_CACHE', '/var/cache/threatstop-ddr-tests')
SUITE = 'bookworm'
MIRROR = 'http://deb.debian.org/debian'
RECIPE = '4'   # bump when the root's set-up below changes
# What the booted system runs, plus the tools the tests use inside it. The package's
# own dependencies are added by the caller (from the .deb's Depends).
BASE_PACKAGES = [
    'systemd', 'systemd-sysv', 'libpam-systemd', 'dbus', 'polkitd', 'pkexec',
    'network-manager', 'systemd-resolved', 'iproute2', 'bind9-dnsutils', 'procps',
    'dnsmasq-base', 'libglib2.0-bin', 'man-db',
]
NET_PREFIX = '10.231'
DOMAIN = 'ddr-sys.test'
GUARD_PREF = 19000     # ip rule preference; table = GUARD_TABLE_BASE + S
GUARD_TABLE_BASE = 23100


def log(msg):
    sys.stderr.write('[sysrig %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


def sh(cmd, check=True, **kw):
    kw.setdefault('capture_output', True)
    kw.setdefault('text', True)
    p = subprocess.run(cmd, **kw)
    if check and p.returncode != 0:
        raise AssertionError('command failed (%d): %s\n%s%s' % (
            p.returncode, ' '.join(cmd), p.stdout, p.stderr))
    return p


def deb_depends(deb):
    """The first alternative of each Depends of a .deb, without versions."""
    text = sh(['dpkg-deb', '-f', deb, 'Depends']).stdout
    out = []
    for item in text.split(','):
        alts = [a.strip().split()[0].split(':')[0] for a in item.split('|') if a.strip()]
        # a virtual package (dbus-system-bus in bookworm) has no candidate: the next one
        real = [a for a in alts if len(alts) == 1 or 'Package: %s\n' % a in sh(
            ['apt-cache', 'show', '--no-all-versions', a], check=False).stdout]
        if alts:
            out.append((real or alts)[0])
    return out


# ---------------------------------------------------------------------------
# The cached root
# ---------------------------------------------------------------------------

def _locked(name):
    os.makedirs(CACHE, exist_ok=True)
    f = open(os.path.join(CACHE, name), 'w')
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _base():
    """debootstrap's minimal bookworm, cached on its own: a new package list only adds
    packages to a copy of it. Called with build.lock held."""
    base = os.path.join(CACHE, 'base-' + SUITE)
    if os.path.exists(base + '.ready'):
        return base
    rig.tool('debootstrap')
    t0 = time.monotonic()
    debs = os.path.join(CACHE, 'debootstrap')
    os.makedirs(debs, exist_ok=True)
    shutil.rmtree(base, ignore_errors=True)
    log('debootstrap --variant=minbase %s' % SUITE)
    p = sh(['debootstrap', '--variant=minbase', '--cache-dir=' + debs, SUITE, base, MIRROR],
           check=False)
    if p.returncode != 0:
        raise AssertionError('debootstrap failed:\n' + p.stdout[-3000:] + p.stderr[-3000:])
    with open(base + '.ready', 'w') as f:
        f.write('%.1f s\n' % (time.monotonic() - t0))
    log('debootstrap took %.0f s' % (time.monotonic() - t0))
    return base


def root_for(packages):
    """The cached root for BASE_PACKAGES + packages; built first if missing."""
    pkgs = sorted(set(BASE_PACKAGES) | set(packages))
    key = hashlib.sha256(('%s\n%s\n%s' % (RECIPE, SUITE, ' '.join(pkgs))).encode()).hexdigest()[:16]
    roots = os.path.join(CACHE, 'roots')
    root = os.path.join(roots, key)
    with _locked('build.lock'):
        if os.path.exists(root + '.ready'):
            return root
        for t in ('chroot', 'unshare', 'cp'):
            rig.tool(t)
        t0 = time.monotonic()
        base = _base()
        tmp = root + '.tmp'
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(roots, exist_ok=True)
        archives = os.path.join(CACHE, 'archives')
        os.makedirs(os.path.join(archives, 'partial'), exist_ok=True)
        log('building the root %s (%d packages)' % (key, len(pkgs)))
        sh(['cp', '-a', base, tmp])
        _configure(tmp, pkgs, archives)
        # only one root is kept: the others are older package lists
        for old in os.listdir(roots):
            if not old.startswith(key):
                path = os.path.join(roots, old)
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
        os.rename(tmp, root)
        with open(root + '.ready', 'w') as f:
            f.write('%s\n%.1f s\n' % (' '.join(pkgs), time.monotonic() - t0))
        log('root built in %.0f s' % (time.monotonic() - t0))
        return root


CONFIGURE = r'''
set -e
R="$1"; A="$2"; shift 2
mount -t proc proc "$R/proc"
mount --bind "$A" "$R/var/cache/apt/archives"
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
# apt-get reaches the mirror with the host's resolver
rm -f "$R/etc/resolv.conf"; cat /etc/resolv.conf > "$R/etc/resolv.conf"
chroot "$R" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$R" apt-get install -y -qq --no-install-recommends "$@"
rm -f "$R/usr/sbin/policy-rc.d"
rm -rf "$R"/var/lib/apt/lists/*_Packages "$R"/var/lib/apt/lists/*_InRelease
# resolved's stub, as its postinst sets it on a booted system
ln -sf ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"
# nothing but the test's network: no fallback servers. LLMNR and mDNS as Debian ships
# them (LLMNR on, mDNS off): install's LLMNR drop-in is what the tests check (issue 12.9)
mkdir -p "$R/etc/systemd/resolved.conf.d"
printf '[Resolve]\nFallbackDNS=\nMulticastDNS=no\n' > "$R/etc/systemd/resolved.conf.d/ddr-test.conf"
# NM's ifupdown dispatcher script fails on every event without these
mkdir -p "$R/etc/network/if-up.d" "$R/etc/network/if-down.d" "$R/etc/network/if-pre-up.d" "$R/etc/network/if-post-down.d"
echo 'LANG=C.UTF-8' > "$R/etc/default/locale"
# no tty for a getty; no time sync, no apt timers in a throwaway system
for u in console-getty.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
         systemd-timesyncd.service e2scrub_all.timer fstrim.timer man-db.timer; do
  ln -sf /dev/null "$R/etc/systemd/system/$u"
done
chroot "$R" systemctl enable systemd-resolved.service NetworkManager.service >/dev/null 2>&1 || true
chroot "$R" useradd -m -s /bin/sh alice
chroot "$R" useradd -m -s /bin/sh bob
: > "$R/etc/machine-id"
'''


def _configure(tmp, pkgs, archives):
    p = sh(['unshare', '-m', '--propagation', 'private', 'sh', '-c', CONFIGURE, 'configure',
            tmp, archives] + pkgs, check=False)
    if p.returncode != 0:
        raise AssertionError('installing the packages into the root failed:\n'
                             + p.stdout[-4000:] + p.stderr[-4000:])


# ---------------------------------------------------------------------------
# The host end: the portal responder
# ---------------------------------------------------------------------------

class Portal:
    """GET /check: 204 when logged in, else 302 to http://login.portal.test/."""

    LOGIN_URL = 'http://login.portal.test/'

    def __init__(self, addr, port=80):
        self.mode = 'open'     # 'open' | 'portal'
        self.hits = 0
        portal = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                portal.hits += 1
                if portal.mode == 'portal':
                    self.send_response(302)
                    self.send_header('Location', Portal.LOGIN_URL)
                else:
                    self.send_response(204)
                self.send_header('Content-Length', '0')
                self.send_header('Connection', 'close')
                self.end_headers()

            def log_message(self, *a):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((addr, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------
# A booted container
# ---------------------------------------------------------------------------

LAUNCH = r'''
set -e
echo $$ > "/sys/fs/cgroup/unified/ddr-system/$NAME/cgroup.procs"
echo $$ > "/sys/fs/cgroup/systemd/ddr-system/$NAME/cgroup.procs"
mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$DIR/upper,workdir=$DIR/work" "$DIR/root"
# its own identity
printf '%s\n' "$NAME" > "$DIR/root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost\n' "$NAME" > "$DIR/root/etc/hosts"
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
exec systemd-nspawn -D "$DIR/root" -M "$NAME" -b --register=no --keep-unit \
  --network-veth --console=read-only --link-journal=no --resolv-conf=off --timezone=off \
  --bind-ro="$DIR/share:/srv/ddr-test"
'''


class Container:
    """One booted throwaway system. c = Container('t1', root).boot(); c.run('cmd'); c.stop()."""

    def __init__(self, name, lower):
        for t in ('systemd-nspawn', 'nsenter', 'dnsmasq', 'ip', 'unshare'):
            rig.tool(t)
        self.name = name
        self.lower = lower
        self.dir = tempfile.mkdtemp(prefix='ddr-system-%s-' % name, dir='/var/tmp')
        self.share = os.path.join(self.dir, 'share')
        for d in ('upper', 'work', 'root', 'share', 'host'):
            os.makedirs(os.path.join(self.dir, d))
        os.chmod(self.share, 0o755)
        self.veth = ('ve-' + name)[:15]
        self.cgroups = ['/sys/fs/cgroup/unified/ddr-system/' + name,
                        '/sys/fs/cgroup/systemd/ddr-system/' + name]
        self.nspawn = None
        self.leader = None
        self.dnsmasq = None
        self.unbound = None
        self.portal = None
        self.ca = None
        self.subnet = None
        self.stopped = False
        self._console = None
        self._net_mark = None
        atexit.register(self.stop)

    # -- addresses ------------------------------------------------------------

    @property
    def host_ip(self):
        return '%s.%d.1' % (NET_PREFIX, self.subnet)

    @property
    def guest_ip(self):
        return '%s.%d.2' % (NET_PREFIX, self.subnet)

    @property
    def table(self):
        return GUARD_TABLE_BASE + self.subnet

    def _free_subnet(self):
        """The first 10.231.S.0/24 neither on a link nor reserved by another running boot
        (two test runs at once: a reservation file per S, holding the owner's pid)."""
        nets = os.path.join(CACHE, 'nets')
        os.makedirs(nets, exist_ok=True)
        with _locked('nets.lock'):
            used = sh(['ip', '-4', '-o', 'addr', 'show']).stdout
            for s in range(0, 250):
                mark = os.path.join(nets, str(s))
                try:
                    with open(mark) as f:
                        owner = int(f.read().split()[0])
                    os.kill(owner, 0)
                    continue                      # reserved by a live process
                except (OSError, ValueError, IndexError):
                    pass
                if ' %s.%d.' % (NET_PREFIX, s) in used:
                    continue
                with open(mark, 'w') as f:
                    f.write('%d %s\n' % (os.getpid(), self.name))
                self._net_mark = mark
                return s
        raise AssertionError('no free %s.S.0/24' % NET_PREFIX)

    # -- boot -----------------------------------------------------------------

    def boot(self, timeout=90):
        t0 = time.monotonic()
        for cg in self.cgroups:
            os.makedirs(cg, exist_ok=True)
        self.subnet = self._free_subnet()
        self.ca = rig.TestCA(os.path.join(self.dir, 'host', 'pki'))
        shutil.copy(self.ca.ca, os.path.join(self.share, 'ca.pem'))
        os.chmod(os.path.join(self.share, 'ca.pem'), 0o644)
        self._console = open(os.path.join(self.dir, 'console.log'), 'wb')
        env = dict(os.environ, NAME=self.name, LOWER=self.lower, DIR=self.dir)
        self.nspawn = subprocess.Popen(['unshare', '-m', '--propagation', 'private',
                                        'sh', '-c', LAUNCH], env=env,
                                       stdin=subprocess.DEVNULL, stdout=self._console,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        rig.wait_until(self._veth_up, 30, interval=0.05, what='the veth ' + self.veth)
        self._host_end()
        rig.wait_until(self._find_leader, 30, interval=0.05, what='the container init')
        rig.wait_until(lambda: self.nsenter(['systemctl', 'is-system-running', '--wait'],
                                            check=False).stdout.strip() in ('running', 'degraded'),
                       timeout, interval=0.2, what='the container to boot')
        state = self.nsenter(['systemctl', 'is-system-running'], check=False).stdout.strip()
        if state != 'running':
            failed = self.nsenter(['systemctl', '--failed', '--no-legend'], check=False).stdout
            raise AssertionError('the container booted %s:\n%s' % (state, failed))
        # D-Bus activated: start it now so the first check does not pay for it
        self.nsenter(['systemctl', 'start', 'polkit.service'])
        rig.wait_until(self._has_lease, 30, interval=0.1, what='a DHCP lease on host0')
        self.boot_seconds = time.monotonic() - t0
        log('%s booted in %.1f s (%s)' % (self.name, self.boot_seconds, self.guest_ip))
        return self

    def _veth_up(self):
        if self.nspawn.poll() is not None:
            raise AssertionError('systemd-nspawn exited %d:\n%s' % (
                self.nspawn.returncode, self.console()))
        return os.path.exists('/sys/class/net/' + self.veth)

    def _host_end(self):
        sh(['ip', 'addr', 'add', '%s/24' % self.host_ip, 'dev', self.veth])
        sh(['ip', 'link', 'set', self.veth, 'up'])
        # nothing from the container goes anywhere but this host
        # replace, not add: a run killed before its clean-up may have left the table
        sh(['ip', 'route', 'replace', 'unreachable', 'default', 'table', str(self.table)])
        sh(['ip', 'rule', 'add', 'iif', self.veth, 'lookup', str(self.table),
            'pref', str(GUARD_PREF + self.subnet)])
        sh(['ip', '-6', 'route', 'replace', 'unreachable', 'default', 'table', str(self.table)])
        sh(['ip', '-6', 'rule', 'add', 'iif', self.veth, 'lookup', str(self.table),
            'pref', str(GUARD_PREF + self.subnet)])
        h = self.host_ip
        self.dnsmasq_log = os.path.join(self.dir, 'host', 'dnsmasq.log')
        self.dnsmasq = subprocess.Popen([
            'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--user=root',
            '--interface=' + self.veth, '--except-interface=lo', '--bind-interfaces',
            '--no-resolv', '--no-hosts', '--pid-file=', '--log-facility=' + self.dnsmasq_log,
            '--log-queries', '--dhcp-leasefile=' + os.path.join(self.dir, 'host', 'leases'),
            '--dhcp-range=%s,%s,255.255.255.0,1h' % (self.guest_ip, self.guest_ip),
            '--dhcp-option=option:router,' + h, '--dhcp-option=option:dns-server,' + h,
            '--domain=' + DOMAIN, '--dhcp-option=option:domain-search,' + DOMAIN,
            '--local=/%s/' % DOMAIN, '--local=/corp.test/', '--local=/home.arpa/',
            '--address=/gw.%s/%s' % (DOMAIN, h),
            '--address=/printer.corp.test/%s.%d.7' % (NET_PREFIX, self.subnet),
            '--address=/nas.home.arpa/%s.%d.8' % (NET_PREFIX, self.subnet),
            # what the network says for the service's check name: not the service's answer
            '--address=/check.test/%s.%d.9' % (NET_PREFIX, self.subnet),
        ], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.start_service()
        self.portal = Portal(h, 80)

    def start_service(self):
        """unbound as the ThreatSTOP DoH service on HOST:443 (plain DNS on loopback for
        the readiness check)."""
        self.unbound = rig.Unbound(os.path.join(self.dir, 'host', 'unbound'), self.ca,
                                   doh_port=443, doh_addr=self.host_ip,
                                   plain_port=rig.free_port(('127.0.0.1',))).start()

    def stop_service(self):
        if self.unbound:
            self.unbound.stop()
            self.unbound = None

    def _find_leader(self):
        """The container's PID 1 (as the host sees it): nspawn's child whose NSpid ends in 1."""
        try:
            with open('/proc/%d/task/%d/children' % (self.nspawn.pid, self.nspawn.pid)) as f:
                kids = f.read().split()
        except OSError:
            return False
        for k in kids:
            try:
                with open('/proc/%s/status' % k) as f:
                    for line in f:
                        if line.startswith('NSpid:') and line.split()[-1] == '1' \
                                and len(line.split()) > 2:
                            self.leader = int(k)
                            return True
            except OSError:
                pass
        return False

    def _has_lease(self):
        out = self.nsenter(['ip', '-4', '-o', 'addr', 'show', 'dev', 'host0'], check=False).stdout
        return (' %s/' % self.guest_ip) in out

    # -- commands -------------------------------------------------------------

    def enter(self):
        """nsenter into every namespace of the container's init, and its root and working
        directory: -a alone leaves the root of the mount namespace, which is the host's
        tree when the tests run in a chroot (systemctl then answers "offline")."""
        return ['nsenter', '-t', str(self.leader), '-a', '-r', '-w', '--']

    def nsenter(self, argv, check=True, timeout=60, input=None):
        """argv in the container's namespaces, outside its units (no journal, host env)."""
        return sh(self.enter() + argv, check=check, timeout=timeout, input=input,
                  env={'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8'})

    def run(self, script, check=True, timeout=120, user='root'):
        """A shell script as a transient unit of the container's systemd: its own clean
        environment, stdout/stderr piped back, the script's exit code."""
        argv = self.enter() + ['systemd-run', '--wait', '--collect', '--pipe', '--quiet',
                               '--service-type=exec', '-p', 'User=' + user,
                               '-p', 'WorkingDirectory=-~', '-E', 'LANG=C.UTF-8', '/bin/sh', '-s']
        p = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=timeout,
                           env={'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8'})
        if check and p.returncode != 0:
            raise AssertionError('in %s (rc %d):\n%s\n--- stdout:\n%s--- stderr:\n%s' % (
                self.name, p.returncode, script.strip(), p.stdout, p.stderr))
        return p

    def out(self, script, **kw):
        return self.run(script, **kw).stdout

    def put(self, src, name=None):
        """A host file into /srv/ddr-test (read-only in the container)."""
        dst = os.path.join(self.share, name or os.path.basename(src))
        shutil.copy(src, dst)
        os.chmod(dst, 0o644)
        return '/srv/ddr-test/' + os.path.basename(dst)

    def console(self):
        return rig.read_log(os.path.join(self.dir, 'console.log'))[-4000:]

    def journal(self, unit=None, lines=200):
        cmd = 'journalctl --no-pager -o short-precise -n %d' % lines
        if unit:
            cmd += ' -u ' + unit
        return self.run(cmd, check=False).stdout

    # -- stop -----------------------------------------------------------------

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        if self.nspawn and self.nspawn.poll() is None:
            self.nspawn.send_signal(signal.SIGTERM)    # nspawn: a clean poweroff
            try:
                self.nspawn.wait(20)
            except subprocess.TimeoutExpired:
                log('%s: no clean poweroff in 20 s; killing it' % self.name)
                if self.leader:
                    try:
                        os.kill(self.leader, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    os.killpg(self.nspawn.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.nspawn.wait()
        if self._console:
            self._console.close()
        if self.portal:
            self.portal.stop()
        self.stop_service()
        if self.dnsmasq and self.dnsmasq.poll() is None:
            self.dnsmasq.terminate()
            self.dnsmasq.wait()
        if self.subnet is not None:
            for fam in ('-4', '-6'):
                sh(['ip', fam, 'rule', 'del', 'pref', str(GUARD_PREF + self.subnet)], check=False)
                sh(['ip', fam, 'route', 'flush', 'table', str(self.table)], check=False)
        if os.path.exists('/sys/class/net/' + self.veth):
            sh(['ip', 'link', 'del', self.veth], check=False)
        if self._net_mark:
            try:
                os.unlink(self._net_mark)
            except OSError:
                pass
        self._kill_what_is_left()
        for cg in self.cgroups:
            # children first (nspawn's payload/ and supervisor/ trees)
            for d, dirs, files in os.walk(cg, topdown=False):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
            parent = os.path.dirname(cg)
            try:
                os.rmdir(parent)      # the shared ddr-system/ when no other one runs
            except OSError:
                pass
        for d in ('/run/systemd/nspawn/locks', '/run/systemd/nspawn/propagate',
                  '/run/systemd/nspawn'):
            try:
                os.rmdir(d)
            except OSError:
                pass
        if os.environ.get('DDR_KEEP_TMP'):
            log('kept %s' % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _cgroup_pids(self):
        pids = []
        for cg in self.cgroups:
            for d, _, _ in os.walk(cg):
                try:
                    with open(os.path.join(d, 'cgroup.procs')) as f:
                        pids += [int(p) for p in f.read().split()]
                except OSError:
                    pass
        return pids

    def _kill_what_is_left(self):
        """Whatever still runs in the container's cgroups - a boot that failed before its
        init was found, a poweroff nspawn did not wait for - is killed, so that no system
        keeps running after the test and the cgroups can go."""
        for pid in self._cgroup_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            rig.wait_until(lambda: not self._cgroup_pids(), 10, interval=0.05,
                           what='the container\'s processes to exit')
        except AssertionError as e:
            log('%s: %s' % (self.name, e))

    def leftovers(self):
        """What the boot might have left behind; [] after stop()."""
        left = []
        if os.path.exists('/sys/class/net/' + self.veth):
            left.append('link ' + self.veth)
        for cg in self.cgroups:
            if os.path.exists(cg):
                left.append('cgroup ' + cg)
        rules = sh(['ip', 'rule', 'show']).stdout
        if 'lookup %d' % self.table in rules:
            left.append('ip rule for table %d' % self.table)
        if os.path.exists(self.dir):
            left.append('dir ' + self.dir)
        if self._net_mark and os.path.exists(self._net_mark):
            left.append('subnet reservation ' + self._net_mark)
        with open('/proc/self/mountinfo') as f:
            if self.dir in f.read():
                left.append('a mount under ' + self.dir)
        for p in (self.nspawn, self.dnsmasq):
            if p and p.poll() is None:
                left.append('process %d' % p.pid)
        return left


def main(argv):
    if argv[:1] == ['build']:
        print(root_for(argv[1:]))
        return 0
    if argv[:1] == ['shell']:
        deb = argv[1] if len(argv) > 1 else None
        c = Container('ddrsh', root_for(deb_depends(deb) if deb else [])).boot()
        if deb:
            c.run('apt-get install -y -q %s' % c.put(deb))
        print('host end %s; DoH https://doh.test/dns-query (bootstrap %s), CA /srv/ddr-test/ca.pem'
              % (c.host_ip, c.host_ip))
        subprocess.call(c.enter() + ['/bin/bash', '-l'])
        c.stop()
        return 0
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
