#!/usr/bin/python3
"""The Debian package: `dpkg-buildpackage -us -uc -b` on a copy of the tracked source
tree (DEB_BUILD_OPTIONS=nocheck: the suite has already run), its contents
(`dpkg-deb -c`), `lintian` (no errors; warnings are printed), and install, remove and
purge into a throwaway root.

The rpm (TestRpm): `rpmbuild -bb` of rpm/threatstop-ddr.spec on a tarball of the same
files, with the macros Debian's rpm lacks from rpm-shim.macros (and --nodeps: Debian's
rpm database knows none of the BuildRequires); its files against the .deb's (built once
for both), `rpmlint` with Fedora's settings (rpmlint-fedora.toml: no errors), and its
scriptlets installing and erasing it in a throwaway root.

The throwaway root: dpkg --root=ROOT runs the maintainer scripts chrooted into ROOT, so
ROOT gets the host's /usr as the lower layer of an overlay (its writes land in a
directory of the test) inside a private mount namespace, and its own empty /etc and
/var. Nothing is written to the host's /usr, /etc or /var: the test checks that. The
root's dpkg database is empty, so dependencies are not checked (--force-depends); no
systemd runs in it, so the scripts start and stop nothing."""

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import debbuild
import rig

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
PKG = 'threatstop-ddr'

# Every file the package must ship (regular files, without the leading '.').
EXPECTED = [
    '/etc/threatstop-ddr/ddr.conf',
    '/lib/systemd/system/threatstop-ddr.service',
    '/lib/systemd/system/threatstop-ddr-metrics.service',
    '/lib/systemd/system/threatstop-ddr-metrics.timer',
    '/usr/bin/threatstop-ddr-admin',
    '/usr/sbin/threatstop-ddrd',
    '/usr/lib/NetworkManager/dispatcher.d/90-threatstop-ddr',
    '/usr/share/bash-completion/completions/threatstop-ddr-admin',
    '/usr/share/dbus-1/interfaces/com.threatstop.DDR1.xml',
    '/usr/share/dbus-1/system.d/com.threatstop.DDR1.conf',
    '/usr/share/polkit-1/actions/com.threatstop.ddr.policy',
    '/usr/share/locale/de/LC_MESSAGES/threatstop-ddr.mo',
    '/usr/share/locale/fr/LC_MESSAGES/threatstop-ddr.mo',
    '/usr/share/man/man5/ddr.conf.5.gz',
    '/usr/share/man/man8/threatstop-ddr-admin.8.gz',
    '/usr/share/man/man8/threatstop-ddrd.8.gz',
    '/usr/share/doc/threatstop-ddr/copyright',
    '/usr/share/doc/threatstop-ddr/changelog.gz',
    '/usr/share/doc/threatstop-ddr/examples/ddr.conf',
    # the desktop indicator (issue 11)
    '/usr/bin/threatstop-ddr-indicator',
    '/etc/xdg/autostart/threatstop-ddr-indicator.desktop',
    '/usr/lib/systemd/user/threatstop-ddr-indicator.service',
    '/usr/share/man/man1/threatstop-ddr-indicator.1.gz',
] + ['/usr/share/icons/hicolor/scalable/status/threatstop-ddr-%s-symbolic.svg' % s
     for s in ('protected', 'portal', 'unprotected', 'paused', 'trusted', 'forwarding',
               'stopped')]
EXECUTABLE = {'/usr/bin/threatstop-ddr-admin', '/usr/sbin/threatstop-ddrd',
              '/usr/bin/threatstop-ddr-indicator',
              '/usr/lib/NetworkManager/dispatcher.d/90-threatstop-ddr'}
# Host paths the package would touch if it were installed for real.
HOST_WATCH = ['/usr/sbin/threatstop-ddrd', '/usr/bin/threatstop-ddr-admin', '/etc/threatstop-ddr',
              '/lib/systemd/system/threatstop-ddr.service', '/var/lib/threatstop-ddr',
              '/usr/lib/NetworkManager/dispatcher.d/90-threatstop-ddr',
              '/var/lib/systemd/deb-systemd-helper-enabled', '/etc/systemd/system',
              '/var/lib/dpkg/info/threatstop-ddr.list']


def _whiteout(path):
    """overlayfs marks a deleted lower entry with a 0/0 character device in upper."""
    st = os.lstat(path)
    return (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0


def run(cmd, **kw):
    kw.setdefault('capture_output', True)
    kw.setdefault('text', True)
    return subprocess.run(cmd, **kw)


def source_files():
    """The tracked (and new, not ignored) files of the source tree, relative to SRC."""
    files = run(['git', '-C', SRC, 'ls-files', '-z', '--cached', '--others',
                 '--exclude-standard'], check=True).stdout.split('\0')
    # a file deleted in the work tree but not yet in the index is left out
    return [f for f in files if f and os.path.lexists(os.path.join(SRC, f))]


def project_version():
    with open(os.path.join(SRC, 'meson.build')) as f:
        return re.search(r"version: '([^']+)'", f.read()).group(1)


def snapshot(paths):
    """path -> (exists, mtime, listing) for the host paths we must not touch."""
    out = {}
    for p in paths:
        if not os.path.lexists(p):
            out[p] = None
            continue
        st = os.lstat(p)
        listing = None
        if os.path.isdir(p):
            listing = sorted(os.path.relpath(os.path.join(d, f), p)
                             for d, dirs, files in os.walk(p) for f in files + dirs)
        out[p] = (st.st_mtime_ns, listing)
    return out


class _Once:
    """One build per process, shared by the tests (run.py runs each test on its own,
    without class fixtures). Its temp dir goes at exit (DDR_KEEP_TMP=1 keeps it)."""

    done = None

    @classmethod
    def get(cls):
        if cls.done is None:
            cls.done = cls()
        return cls.done

    def make_tmp(self, prefix):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        atexit.register(self.cleanup)

    def cleanup(self):
        if os.environ.get('DDR_KEEP_TMP'):
            sys.stderr.write('kept %s\n' % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class Build(_Once):
    """The .deb, built once for this tree."""

    def __init__(self):
        for t in ('dpkg-buildpackage', 'dpkg-deb', 'dpkg', 'dpkg-query', 'lintian', 'git',
                  'unshare', 'dh'):
            rig.tool(t)
        self.make_tmp('ddr-pkg-')
        self.host_before = snapshot(HOST_WATCH)
        self.host_dpkg = run(['dpkg-query', '-W', PKG]).returncode
        # built once for this tree (tests/integration/debbuild.py); the system tests reuse it
        b = debbuild.build()
        self.build_seconds = b.seconds
        self.build_log = b.log
        self.build_rc = b.rc
        self.deb = b.deb
        self.changes = b.changes



class TestPackaging(unittest.TestCase):

    def setUp(self):
        b = Build.get()
        for k in ('tmp', 'host_before', 'host_dpkg', 'build_seconds', 'build_log', 'build_rc',
                  'deb', 'changes'):
            setattr(self, k, getattr(b, k))
        if self.build_rc != 0 or not self.deb:
            self.fail('dpkg-buildpackage failed (rc %d) after %.0f s:\n%s'
                      % (self.build_rc, self.build_seconds, self.build_log[-6000:]))

    def test_build_time(self):
        print('# dpkg-buildpackage -us -uc -b (nocheck): %.0f s' % self.build_seconds)
        self.assertLess(self.build_seconds, 900)

    def test_contents(self):
        listing = run(['dpkg-deb', '-c', self.deb], check=True).stdout.splitlines()
        files = {}
        for line in listing:
            parts = line.split()
            mode, path = parts[0], parts[5]
            if mode.startswith('-'):
                files[path[1:]] = mode
        print('# %s: %d files' % (os.path.basename(self.deb), len(files)))
        # debian/changelog follows the project's version
        with open(os.path.join(SRC, 'meson.build')) as f:
            version = re.search(r"version: '([^']+)'", f.read()).group(1)
        self.assertEqual(run(['dpkg-deb', '-f', self.deb, 'Version'], check=True).stdout.strip(),
                         version)
        for f in EXPECTED:
            with self.subTest(file=f):
                self.assertIn(f, files)
                if f in EXECUTABLE:
                    self.assertEqual(files[f], '-rwxr-xr-x')
                else:
                    self.assertEqual(files[f], '-rw-r--r--')
        # nothing in /usr/local, no test programs or fuzzers
        self.assertEqual(sorted(set(files) - set(EXPECTED) - {
            '/usr/share/doc/threatstop-ddr/README.md.gz'}), [])
        ctl = os.path.join(self.tmp, 'control')
        shutil.rmtree(ctl, ignore_errors=True)
        run(['dpkg-deb', '-e', self.deb, ctl], check=True)
        with open(os.path.join(ctl, 'conffiles')) as f:
            self.assertEqual(sorted(f.read().split()),
                             ['/etc/threatstop-ddr/ddr.conf',
                              '/etc/xdg/autostart/threatstop-ddr-indicator.desktop'])
        # the unit points at the installed binaries
        unit = run(['dpkg-deb', '--fsys-tarfile', self.deb], check=True,
                   text=False).stdout
        import io
        import tarfile
        with tarfile.open(fileobj=io.BytesIO(unit)) as tf:
            text = tf.extractfile('./lib/systemd/system/threatstop-ddr.service').read().decode()
        self.assertIn('\nExecStart=/usr/sbin/threatstop-ddrd\n', text)
        self.assertIn('\nExecStopPost=/usr/bin/threatstop-ddr-admin --action=restore-dns\n', text)
        info = run(['dpkg-deb', '-f', self.deb, 'Depends'], check=True).stdout
        # libcurl4: the captive-portal probe (every build); procps: the unit's ExecReload=
        # runs /bin/kill
        for lib in ('libglib2.0-0', 'libssl3', 'libnghttp2-14', 'libcurl4', 'procps'):
            self.assertIn(lib, info)

    def test_lintian_reports_no_errors(self):
        p = run(['lintian', '--display-level', '>=pedantic', '--tag-display-limit', '0',
                 self.changes], timeout=600)
        tags = [l for l in p.stdout.splitlines() if l[:2] in ('E:', 'W:', 'I:', 'P:', 'X:')]
        print('# lintian: %d tag(s)' % len(tags))
        for t in tags:
            print('# ' + t)
        errors = [t for t in tags if t.startswith('E:')]
        self.assertEqual(errors, [])

    # -- the throwaway root -------------------------------------------------

    def in_root(self, root, upper, script, check=True):
        """Run a bash script in a private mount namespace where ROOT/usr is an overlay
        of the host's /usr (writes go to upper)."""
        work = upper + '.work'
        os.makedirs(work, exist_ok=True)
        prologue = ('set -e\nmount -t overlay overlay -o lowerdir=/usr,upperdir=%s,workdir=%s '
                    '%s/usr\n' % (upper, work, root))
        p = run(['unshare', '--mount', '--propagation', 'private', 'bash', '-c',
                 prologue + script], timeout=300)
        if check and p.returncode != 0:
            self.fail('in the throwaway root, rc %d:\n%s\n%s\n%s'
                      % (p.returncode, script, p.stdout, p.stderr))
        return p

    def make_root(self):
        root = os.path.join(self.tmp, 'root')
        upper = os.path.join(self.tmp, 'usr-upper')
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(upper, ignore_errors=True)
        shutil.rmtree(upper + '.work', ignore_errors=True)
        for d in ('usr', 'etc', 'var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/log', 'tmp',
                  'run', 'dev'):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        os.makedirs(upper)
        for link in ('bin', 'sbin', 'lib', 'lib64'):
            if os.path.islink('/' + link):
                os.symlink(os.readlink('/' + link), os.path.join(root, link))
        for f in ('status', 'available'):
            open(os.path.join(root, 'var/lib/dpkg', f), 'w').close()
        for f in ('passwd', 'group'):
            shutil.copy(os.path.join('/etc', f), os.path.join(root, 'etc', f))
        os.mknod(os.path.join(root, 'dev/null'), 0o666 | 0o020000, os.makedev(1, 3))
        return root, upper

    def dpkg(self, root, *args):
        return ('dpkg --root=%s --log=%s/var/log/dpkg.log --force-depends %s'
                % (root, root, ' '.join(args)))

    def test_install_remove_purge_in_a_throwaway_root(self):
        root, upper = self.make_root()
        q = "dpkg-query --admindir=%s/var/lib/dpkg -W -f='${Status}\\n' %s" % (root, PKG)
        p = self.in_root(root, upper, '%s -i %s\n%s\n'
                         'chroot %s /usr/sbin/threatstop-ddrd --version\n'
                         'chroot %s /usr/bin/threatstop-ddr-admin --help >/dev/null\n'
                         'ls %s/usr/lib/NetworkManager/dispatcher.d/\n'
                         % (self.dpkg(root), self.deb, q, root, root, root))
        print('# install (dependencies not checked: the root has an empty dpkg database):')
        for line in p.stdout.splitlines():
            print('#   ' + line)
        self.assertIn('install ok installed', p.stdout)
        self.assertRegex(p.stdout, r'threatstop-ddrd \d+\.\d+\.\d+')
        self.assertIn('90-threatstop-ddr', p.stdout)
        self.assertTrue(os.path.isfile(os.path.join(upper, 'sbin', 'threatstop-ddrd')))
        self.assertTrue(os.path.isfile(os.path.join(root, 'etc/threatstop-ddr/ddr.conf')))
        # not enabled, not started: it needs a URL first (threatstop-ddr-admin --action=install)
        self.assertFalse(os.path.lexists(os.path.join(
            root, 'etc/systemd/system/multi-user.target.wants/threatstop-ddr.service')))
        # nor is the metrics timer: the admin turns it on (README, "Monitoring a fleet")
        self.assertFalse(os.path.lexists(os.path.join(
            root, 'etc/systemd/system/timers.target.wants/threatstop-ddr-metrics.timer')))

        # the admin's install inside the root (--root=/ there: files only, no service,
        # no probe), and what the daemon leaves behind at run time
        p = self.in_root(root, upper, 'chroot %s /usr/bin/threatstop-ddr-admin --action=install '
                         '--root=/ --listen=127.0.0.1 --url=https://doh.example/dns-query '
                         '--check-domain=check.example --yes\n' % root)
        self.assertTrue(os.path.isfile(os.path.join(root, 'etc/threatstop-ddr/install.state')),
                        p.stdout + p.stderr)
        with open(os.path.join(root, 'etc/threatstop-ddr/ddr.conf')) as f:
            self.assertIn('https://doh.example/dns-query', f.read())
        os.makedirs(os.path.join(root, 'var/lib/threatstop-ddr'))
        with open(os.path.join(root, 'var/lib/threatstop-ddr/last-good-doh.example'), 'w') as f:
            f.write('192.0.2.1\n')

        # remove: prerm runs the admin's uninstall (install.state is there)
        p = self.in_root(root, upper, '%s -r %s\n' % (self.dpkg(root), PKG))
        print('# remove:')
        for line in (p.stdout + p.stderr).splitlines():
            print('#   ' + line)
        self.assertFalse(os.path.exists(os.path.join(root, 'etc/threatstop-ddr/install.state')),
                         'prerm did not run the uninstall')
        self.assertFalse(os.path.exists(os.path.join(upper, 'sbin', 'threatstop-ddrd')))
        self.assertTrue(os.path.isfile(os.path.join(root, 'etc/threatstop-ddr/ddr.conf')),
                        'remove keeps the conffile')
        p = self.in_root(root, upper, q + '\n', check=False)
        self.assertIn('deinstall ok config-files', p.stdout)

        self.in_root(root, upper, '%s -P %s\n' % (self.dpkg(root), PKG))
        p = self.in_root(root, upper, q + '\n', check=False)
        self.assertNotIn('installed', p.stdout)
        self.assertFalse(os.path.exists(os.path.join(root, 'etc/threatstop-ddr')))
        self.assertFalse(os.path.exists(os.path.join(root, 'var/lib/threatstop-ddr')))
        # an empty directory of the host's /usr that purge removed (hicolor's
        # scalable/status) shows as an overlay whiteout: a deletion, not a file left
        left = [os.path.join(d, f) for d, _, files in os.walk(upper) for f in files
                if not _whiteout(os.path.join(d, f))]
        self.assertEqual(left, [], 'files left in /usr after purge')

        # and the host was never touched
        self.assertEqual(snapshot(HOST_WATCH), self.host_before)
        self.assertEqual(run(['dpkg-query', '-W', PKG]).returncode, self.host_dpkg)


# -- the rpm ----------------------------------------------------------------

RPM_SPEC = os.path.join(SRC, 'rpm', 'threatstop-ddr.spec')
RPM_SHIM = os.path.join(SRC, 'tests', 'integration', 'rpm-shim.macros')
RPMLINT_CONF = os.path.join(SRC, 'tests', 'integration', 'rpmlint-fedora.toml')
# Where the two distributions put the same file differently; docs differ by policy.
DEB_TO_RPM = [('/lib/systemd/system/', '/usr/lib/systemd/system/')]


def deb_files(deb):
    """path -> mode of the .deb's regular files."""
    out = {}
    for line in run(['dpkg-deb', '-c', deb], check=True).stdout.splitlines():
        parts = line.split()
        if parts[0].startswith('-'):
            out[parts[5][1:]] = parts[0]
    return out


class RpmBuild(_Once):
    """The rpm, built once from a tarball of the same source files."""

    def __init__(self):
        for t in ('rpmbuild', 'rpm', 'rpmlint', 'git'):
            rig.tool(t)
        self.make_tmp('ddr-rpm-')
        self.version = project_version()
        top = os.path.join(self.tmp, 'rpmbuild')
        os.makedirs(os.path.join(top, 'SOURCES'))
        import tarfile
        prefix = '%s-%s' % (PKG, self.version)
        with tarfile.open(os.path.join(top, 'SOURCES', prefix + '.tar.gz'), 'w:gz') as tf:
            for f in source_files():
                tf.add(os.path.join(SRC, f), arcname=prefix + '/' + f, recursive=False)
        env = dict(os.environ, LC_ALL='C.UTF-8')
        for k in ('DDR_BUILD_DIR', 'MESON_TEST_ITERATION', 'MALLOC_PERTURB_',
                  'ASAN_OPTIONS', 'UBSAN_OPTIONS'):
            env.pop(k, None)
        t0 = time.monotonic()
        p = run(['rpmbuild', '-bb', '--nodeps', '--load', RPM_SHIM,
                 '--define', '_topdir ' + top, RPM_SPEC], env=env, timeout=1500)
        self.build_seconds = time.monotonic() - t0
        self.build_log = p.stdout + p.stderr
        self.build_rc = p.returncode
        rpms = []
        for d, _, files in os.walk(os.path.join(top, 'RPMS')):
            rpms += [os.path.join(d, f) for f in files if f.endswith('.rpm')]
        self.rpm = rpms[0] if len(rpms) == 1 else None



class TestRpm(unittest.TestCase):

    def setUp(self):
        b = RpmBuild.get()
        self.tmp, self.rpm = b.tmp, b.rpm
        if b.build_rc != 0 or not self.rpm:
            self.fail('rpmbuild -bb failed (rc %d) after %.0f s:\n%s'
                      % (b.build_rc, b.build_seconds, b.build_log[-6000:]))
        self.build_seconds, self.build_log = b.build_seconds, b.build_log

    def q(self, *args):
        return run(['rpm', '-qp'] + list(args) + [self.rpm], check=True).stdout

    def test_build(self):
        print('# rpmbuild -bb (the unit tests in %%check): %.0f s' % self.build_seconds)
        self.assertRegex(self.build_log, r'\nOk: +\d+ *\nExpected Fail: +0 *\nFail: +0 ')
        self.assertEqual(self.q('--qf', '%{VERSION}'), RpmBuild.get().version)
        self.assertNotIn('debian', self.q('--qf', '%{RELEASE}'))

    def test_files_match_the_deb(self):
        deb = Build.get().deb
        self.assertIsNotNone(deb, 'the .deb did not build (see TestPackaging)')
        want = {}
        for path, mode in deb_files(deb).items():
            if path.startswith('/usr/share/doc/'):
                continue
            for a, b in DEB_TO_RPM:
                if path.startswith(a):
                    path = b + path[len(a):]
            want[path] = mode
        got = {}
        for line in self.q('--qf', '[%{FILEMODES:perms} %{FILENAMES}\n]').splitlines():
            mode, path = line.split(' ', 1)
            if mode.startswith('-') and not path.startswith('/usr/share/doc/'):
                got[path] = mode
        print('# %s: %d files, the .deb %d (documentation aside)'
              % (os.path.basename(self.rpm), len(got), len(want)))
        self.assertEqual(sorted(got), sorted(want))
        self.assertEqual(got, want)     # and the same modes
        self.assertEqual(sorted(self.q('--configfiles').split()),
                         ['/etc/threatstop-ddr/ddr.conf',
                          '/etc/xdg/autostart/threatstop-ddr-indicator.desktop'])
        self.assertIn('/usr/share/doc/%s-%s/README.md' % (PKG, RpmBuild.get().version),
                      self.q('--docfiles').split())

    def test_rpmlint_reports_no_errors(self):
        p = run(['rpmlint', '-c', RPMLINT_CONF, self.rpm, RPM_SPEC], timeout=300)
        out = p.stdout + p.stderr
        tags = [l for l in out.splitlines() if re.search(r': [EW]: ', l)]
        print('# rpmlint (Fedora settings): %d tag(s)' % len(tags))
        for t in tags:
            print('# ' + t)
        m = re.search(r'(\d+) errors?, (\d+) warnings?', out)
        self.assertIsNotNone(m, out)
        self.assertEqual((m.group(1), [t for t in tags if ': E: ' in t]), ('0', []), out)

    def test_install_erase_in_a_throwaway_root(self):
        """rpm -i and rpm -e with their scriptlets, chrooted into a root whose /usr is an
        overlay of the host's (TestPackaging's rig). No systemd runs there: systemctl
        works offline (preset, disable), with Fedora's preset policy ("disable *",
        its 99-default-disable.preset; Debian's default would enable every unit)."""
        root, upper = TestPackaging.make_root(self)
        os.makedirs(os.path.join(root, 'var/tmp'))
        for kind in ('system', 'user'):
            presets = os.path.join(root, 'etc/systemd/%s-preset' % kind)
            os.makedirs(presets)
            with open(os.path.join(presets, '99-default-disable.preset'), 'w') as f:
                f.write('disable *\n')
        rpm = 'rpm --root=%s' % root
        p = TestPackaging.in_root(self, root, upper,
                                  '%s --initdb\n%s --nodeps -i %s\n%s -q %s\n'
                                  'chroot %s /usr/sbin/threatstop-ddrd --version\n'
                                  % (rpm, rpm, self.rpm, rpm, PKG, root))
        self.assertRegex(p.stdout, r'%s-\d' % PKG)
        self.assertTrue(os.path.isfile(os.path.join(upper, 'lib/systemd/system/'
                                                    'threatstop-ddr-metrics.timer')))
        self.assertTrue(os.path.isfile(os.path.join(upper, 'lib/systemd/user/'
                                                    'threatstop-ddr-indicator.service')))
        self.assertTrue(os.path.isfile(os.path.join(root, 'etc/threatstop-ddr/ddr.conf')))
        for wants in ('system/multi-user.target.wants/threatstop-ddr.service',
                      'system/timers.target.wants/threatstop-ddr-metrics.timer',
                      'user/default.target.wants/threatstop-ddr-indicator.service',
                      'user/graphical-session.target.wants/threatstop-ddr-indicator.service'):
            self.assertFalse(os.path.lexists(os.path.join(root, 'etc/systemd', wants)))
        # what the admin's install and the daemon leave behind, then erase: %preun runs
        # the uninstall, %postun removes the state
        TestPackaging.in_root(self, root, upper,
                              'chroot %s /usr/bin/threatstop-ddr-admin --action=install '
                              '--root=/ --listen=127.0.0.1 --url=https://doh.example/dns-query '
                              '--check-domain=check.example --yes\n' % root)
        self.assertTrue(os.path.isfile(os.path.join(root, 'etc/threatstop-ddr/install.state')))
        os.makedirs(os.path.join(root, 'var/lib/threatstop-ddr'))
        p = TestPackaging.in_root(self, root, upper, '%s --nodeps -e %s\n' % (rpm, PKG))
        print('# rpm -e:')
        for line in (p.stdout + p.stderr).splitlines():
            print('#   ' + line)
        self.assertFalse(os.path.exists(os.path.join(root, 'etc/threatstop-ddr/install.state')))
        self.assertFalse(os.path.exists(os.path.join(root, 'var/lib/threatstop-ddr')))
        # the edited configuration is kept aside, as rpm does for %config(noreplace)
        self.assertTrue(os.path.isfile(os.path.join(root, 'etc/threatstop-ddr/ddr.conf.rpmsave')))
        left = [os.path.join(d, f) for d, _, files in os.walk(upper) for f in files]
        self.assertEqual(left, [], 'files left in /usr after rpm -e')


if __name__ == '__main__':
    unittest.main()
