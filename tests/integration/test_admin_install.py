#!/usr/bin/python3
"""threatstop-ddr-admin --action=install / --action=uninstall, always under --root=DIR:
the files install writes (and that the real daemon runs from them), re-install in
place, bad input changing nothing, prompts without a terminal, exact undo, the
systemd-resolved stub conflict, and --engine=dnsdist with the real dnsdist."""

import glob
import os
import shutil
import signal
import subprocess
import time

import rig
from busrig import admin_binary


def snapshot(root):
    """Every path under root with its type, mode and content: what "nothing changed" means."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            tree[os.path.relpath(p, root)] = ('dir', os.stat(p).st_mode)
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            with open(p, 'rb') as fh:
                tree[os.path.relpath(p, root)] = ('file', st.st_mode, st.st_uid, st.st_gid,
                                                  fh.read())
    return tree


class InstalledDaemon(rig.Daemon):
    """The real daemon run from the ddr.conf that install wrote (not a test-made one)."""

    def __init__(self, binary, dir, conf, port):
        super().__init__(binary, dir, {'relay': {'listen': '127.0.0.1:%d' % port}}, port=port)
        self.conf = conf

    def write_config(self):
        pass


class TestAdminInstall(rig.RigTestCase):

    def setUp(self):
        super().setUp()
        self.root = self.path('root')
        os.makedirs(os.path.join(self.root, 'etc'))
        # The unit from the build tree: what a package would have put under /usr/lib.
        self.data = self.path('data')
        os.makedirs(self.data)
        shutil.copy(os.path.join(rig.build_dir(), 'data', 'threatstop-ddr.service'), self.data)

    def admin(self, *args, env=None, root=True):
        e = dict(os.environ, LANGUAGE='C', LC_ALL='C.UTF-8', THREATSTOP_DDR_DATA_DIR=self.data)
        e.update(env or {})
        cmd = [admin_binary()] + list(args) + (['--root=' + self.root] if root else [])
        # No terminal: a question is answered "no" unless --yes is given.
        return subprocess.run(cmd, capture_output=True, text=True, env=e,
                              stdin=subprocess.DEVNULL, timeout=60)

    def install(self, *args, **kw):
        r = self.admin('--action=install', *args, **kw)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def uninstall(self):
        r = self.admin('--action=uninstall')
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def conf_path(self):
        found = glob.glob(os.path.join(self.root, '**', 'threatstop-ddr', 'ddr.conf'),
                          recursive=True)
        self.assertEqual(len(found), 1, found)
        return found[0]

    def read_conf(self):
        import configparser
        cp = configparser.ConfigParser(interpolation=None)
        cp.read(self.conf_path())
        return cp

    def ca_copy(self):
        """Where install copies --ca-file, as the installed system sees it."""
        return os.path.dirname(self.conf_path())[len(self.root):] + '/ca.pem'

    def service_args(self, u, port):
        return ['--listen=127.0.0.1:%d' % port, '--url=' + u.url, '--bootstrap=127.0.0.1',
                '--ca-file=' + self.ca.ca, '--check-domain=check.test']

    # -------------------------------------------------------------------------

    def test_install_writes_config_the_daemon_runs(self):
        u = self.start_unbound()
        port = rig.free_port()
        before = snapshot(self.root)
        r = self.install(*self.service_args(u, port))
        self.assertIn('no network test', r.stdout)
        cp = self.read_conf()
        self.assertEqual(cp['service']['url'], u.url)
        self.assertEqual(cp['service']['check-domain'], 'check.test')
        # the CA is copied where the sandboxed daemon can read it (issue 12 item 1)
        self.assertEqual(cp['service']['ca-file'], self.ca_copy())
        self.assertEqual(cp['service']['bootstrap'].strip(';'), '127.0.0.1')
        self.assertEqual(cp['relay']['listen'].strip(';'), '127.0.0.1:%d' % port)
        self.assertEqual(cp['relay']['acl'].strip(';'), '127.0.0.0/8;::1/128')
        self.assertEqual(os.stat(self.conf_path()).st_mode & 0o777, 0o644)
        unit = os.path.join(self.root, 'etc/systemd/system/threatstop-ddr.service')
        self.assertTrue(os.path.isfile(unit))
        with open(os.path.join(os.path.dirname(self.conf_path()), 'install.state')) as f:
            state = f.read()
        self.assertIn('engine=ddr', state)
        self.assertIn('/etc/systemd/system/threatstop-ddr.service', state)
        # The real daemon runs from exactly that file (its CA path taken under the root)
        # and answers through the service.
        conf = self.path('ddr-from-root.conf')
        with open(self.conf_path()) as f, open(conf, 'w') as out:
            out.write(f.read().replace('=' + self.ca_copy(), '=' + self.root + self.ca_copy()))
        d = InstalledDaemon(rig.daemon_binary(), self.path('ddrd'), conf, port)
        self._daemons.append(d)
        d.start()
        m = d.query('check.test')
        self.assertAnswered(m)
        self.assertEqual(m.values('A'), [rig.CHECK_A])
        d.stop()
        self._daemons.remove(d)
        self.uninstall()
        self.assertEqual(snapshot(self.root), before)

    def test_ca_file_is_copied_into_etc_and_removed_by_uninstall(self):
        # --ca-file in root's home: the unit's ProtectHome=yes hides it from the daemon,
        # so install copies it into /etc/threatstop-ddr/ and records the copy.
        u = self.start_unbound()
        before = snapshot(self.root)
        self.install(*self.service_args(u, rig.free_port()))
        copy = self.root + self.ca_copy()
        with open(copy) as f, open(self.ca.ca) as g:
            self.assertEqual(f.read(), g.read())
        self.assertEqual(os.stat(copy).st_mode & 0o777, 0o644)
        self.assertEqual(self.read_conf()['service']['ca-file'], self.ca_copy())
        with open(os.path.join(os.path.dirname(copy), 'install.state')) as f:
            self.assertIn(self.ca_copy(), f.read())
        # a re-install with a new CA replaces the copy; the same file again changes nothing
        other = self.ca.wrong(self.path('ca2'))
        args = self.service_args(u, rig.free_port())
        args[3] = '--ca-file=' + other.ca
        self.install(*args)
        with open(copy) as f, open(other.ca) as g:
            self.assertEqual(f.read(), g.read())
        r = self.admin('--action=install', *args[:3] + args[4:], '--ca-file=' + copy)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.uninstall()
        self.assertFalse(os.path.exists(copy))
        self.assertEqual(snapshot(self.root), before)

    def test_beyond_loopback_gets_private_default_acl(self):
        r = self.install('--listen=192.0.2.1:5353', '--url=https://doh.example/dns-query')
        self.assertIn('without --acl', r.stdout)
        acl = self.read_conf()['relay']['acl'].strip(';').split(';')
        self.assertEqual(acl, ['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12',
                               '192.168.0.0/16', 'fc00::/7'])
        self.install('--listen=192.0.2.1:5353', '--url=https://doh.example/dns-query',
                     '--acl=192.0.2.0/24', '--acl=2001:db8::/32,10.1.0.0/16')
        acl = self.read_conf()['relay']['acl'].strip(';').split(';')
        self.assertEqual(acl, ['192.0.2.0/24', '2001:db8::/32', '10.1.0.0/16'])

    def test_lan_forwarder_turns_roaming_off(self):
        # Roaming steers the system to 127.0.0.1:53; a LAN-only relay must not roam.
        r = self.install('--listen=192.0.2.1', '--url=https://doh.example/dns-query')
        self.assertEqual(self.read_conf()['roaming']['enabled'], 'false')
        self.assertIn('enabled=false', r.stdout)
        # with 127.0.0.1:53 roaming stays as configured (auto by default)
        self.install('--listen=127.0.0.1', '--url=https://doh.example/dns-query')
        self.assertEqual(self.read_conf()['roaming']['enabled'], 'false')
        self.uninstall()
        self.install('--listen=127.0.0.1', '--listen=192.0.2.1',
                     '--url=https://doh.example/dns-query')
        cp = self.read_conf()
        self.assertFalse(cp.has_option('roaming', 'enabled'), dict(cp.items('roaming'))
                         if cp.has_section('roaming') else None)

    def test_reinstall_updates_in_place_and_keeps_other_keys(self):
        before = snapshot(self.root)
        self.install('--listen=127.0.0.1', '--url=https://a.example/dns-query')
        conf = self.conf_path()
        with open(conf, 'a') as f:
            f.write('\n[roaming]\nlocal-domains=corp.example\n')
        self.install('--listen=[::1]:5300', '--url=https://b.example/q',
                     '--check-domain=check.example')
        cp = self.read_conf()
        self.assertEqual(cp['service']['url'], 'https://b.example/q')
        self.assertEqual(cp['relay']['listen'].strip(';'), '[::1]:5300')
        self.assertEqual(cp['roaming']['local-domains'], 'corp.example')
        with open(os.path.join(os.path.dirname(conf), 'install.state')) as f:
            state = f.read()
        self.assertNotIn('replaced', state)   # still ours: uninstall removes it
        self.uninstall()
        self.assertEqual(snapshot(self.root), before)
        r = self.admin('--action=uninstall')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('Nothing to uninstall', r.stdout)

    def test_bad_input_exits_2_names_the_value_and_changes_nothing(self):
        self.install('--listen=127.0.0.1', '--url=https://a.example/dns-query')
        before = snapshot(self.root)
        good = ['--listen=127.0.0.1', '--url=https://a.example/dns-query']
        cases = [
            (['--listen=127.0.0.1', '--url=http://a.example/dns-query'], 'http://a.example'),
            (['--listen=127.0.0.1', '--url=a.example'], 'a.example'),
            (['--listen=127.0.0.1'], '--url'),
            (['--url=https://a.example/dns-query'], '--listen'),
            (['--listen=localhost', '--url=https://a.example/'], 'localhost'),
            (['--listen=127.0.0.1:99999', '--url=https://a.example/'], '127.0.0.1:99999'),
            (['--listen=::1:53', '--url=https://a.example/'], '::1:53'),
            (good + ['--acl=10.0.0.0/33'], '10.0.0.0/33'),
            (good + ['--acl=192.168.1.0/24,bogus'], 'bogus'),
            (good + ['--bootstrap=198.51.100.1,nope'], 'nope'),
            (good + ['--ca-file=' + self.path('missing.pem')], 'missing.pem'),
            (good + ['--ca-file=relative.pem'], 'relative.pem'),
            (good + ['--check-domain=bad..name'], 'bad..name'),
            (good + ['--engine=bind'], 'bind'),
            (good + ['--resolved=maybe'], 'maybe'),
            (good + ['--llmnr=resolve'], 'resolve'),
        ]
        for args, named in cases:
            with self.subTest(args=args):
                r = self.admin('--action=install', *args)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn(named, r.stderr)
                self.assertIn('expected', r.stderr)
                self.assertEqual(r.stderr.count('\n'), 1, r.stderr)
                self.assertEqual(snapshot(self.root), before)

    def test_usage_errors(self):
        r = self.admin('--action=status', '--listen=127.0.0.1', root=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn('--listen', r.stderr)
        r = self.admin('--action=install', '--listen=127.0.0.1', '--url=https://a.example/',
                       '--root=' + self.path('nowhere'), root=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn('nowhere', r.stderr)
        self.assertFalse(os.path.exists(self.path('nowhere')))

    def test_help_lists_every_flag(self):
        r = self.admin('--help', root=False)
        self.assertEqual(r.returncode, 0)
        for flag in ('--action', '--listen', '--url', '--acl', '--check-domain', '--bootstrap',
                     '--ca-file', '--engine', '--resolved', '--llmnr', '--root', '--yes', 'install',
                     'uninstall'):
            self.assertIn(flag, r.stdout)

    def test_preexisting_files_are_restored(self):
        conf_dir = os.path.join(self.root, 'usr/local/etc/threatstop-ddr')
        etc_dir = os.path.join(self.root, 'etc/threatstop-ddr')
        # Whatever sysconfdir this build has, put an admin's own file there first.
        self.install('--listen=127.0.0.1', '--url=https://a.example/dns-query')
        conf = self.conf_path()
        self.uninstall()
        self.assertTrue(conf.startswith((conf_dir, etc_dir)), conf)
        os.makedirs(os.path.dirname(conf))
        own = '# the admin\'s own\n[service]\nurl=https://old.example/dns-query\n'
        with open(conf, 'w') as f:
            f.write(own)
        os.chmod(conf, 0o600)
        before = snapshot(self.root)
        self.install('--listen=127.0.0.1', '--url=https://new.example/dns-query')
        self.assertEqual(self.read_conf()['service']['url'], 'https://new.example/dns-query')
        self.uninstall()
        self.assertEqual(snapshot(self.root), before)

    def test_resolved_stub_conflict(self):
        stub = os.path.join(self.root, 'run/systemd/resolve')
        os.makedirs(stub)
        with open(os.path.join(stub, 'stub-resolv.conf'), 'w') as f:
            f.write('nameserver 127.0.0.53\n')
        before = snapshot(self.root)
        args = ['--listen=0.0.0.0:53', '--url=https://a.example/dns-query']
        # A specific address does not collide with 127.0.0.53: no question, no drop-in.
        self.install('--listen=127.0.0.1:53', '--url=https://a.example/dns-query')
        dropin = os.path.join(self.root, 'etc/systemd/resolved.conf.d/threatstop-ddr.conf')
        self.assertFalse(os.path.exists(dropin))
        self.uninstall()
        # No terminal, no --yes: the answer is no, exit 1, the flag named, nothing written.
        r = self.admin('--action=install', *args)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('stub listener', r.stdout)
        self.assertIn('--yes', r.stderr)
        self.assertEqual(snapshot(self.root), before)
        # --yes: the gentle fix, recorded and undone.
        r = self.install(*args, '--yes')
        with open(dropin) as f:
            self.assertIn('DNSStubListener=no', f.read())
        with open(os.path.join(os.path.dirname(self.conf_path()), 'install.state')) as f:
            self.assertIn('restart=systemd-resolved.service', f.read())
        # Re-install: the stub is off now (our drop-in), so nothing is asked.
        r = self.install(*args)
        self.assertNotIn('stub listener', r.stdout)
        self.uninstall()
        self.assertEqual(snapshot(self.root), before)
        # The vendor's way: systemd-resolved disabled (recorded; systemctl not run here).
        r = self.install(*args, '--yes', '--resolved=disable')
        self.assertFalse(os.path.exists(dropin))
        with open(os.path.join(os.path.dirname(self.conf_path()), 'install.state')) as f:
            self.assertIn('disabled=systemd-resolved.service', f.read())
        r = self.uninstall()
        self.assertIn('systemd-resolved', r.stdout)
        self.assertEqual(snapshot(self.root), before)

    def test_llmnr_off_where_resolved_is(self):
        """resolved would send every single-label name to LLMNR on every link (a failing
        local lookup waits ~10 s; a hostile hotspot answers names the DNS firewall never
        sees): install turns it off by a drop-in where resolved is installed."""
        dropin = os.path.join(self.root, 'etc/systemd/resolved.conf.d/threatstop-ddr-llmnr.conf')
        args = ['--listen=127.0.0.1', '--url=https://a.example/dns-query']
        # no systemd-resolved under the root: nothing written
        before = snapshot(self.root)
        self.install(*args)
        self.assertFalse(os.path.exists(dropin))
        self.uninstall()
        self.assertEqual(snapshot(self.root), before)
        for present in ('usr/lib/systemd/system/systemd-resolved.service',
                        'lib/systemd/systemd-resolved'):
            with self.subTest(present=present):
                shutil.rmtree(self.root)
                os.makedirs(os.path.join(self.root, 'etc'))
                os.makedirs(os.path.dirname(os.path.join(self.root, present)))
                open(os.path.join(self.root, present), 'w').close()
                before = snapshot(self.root)
                r = self.install(*args)
                with open(dropin) as f:
                    text = f.read()
                self.assertIn('\n[Resolve]\nLLMNR=no\n', text)
                self.assertIn('threatstop-ddr-admin --action=install', text)
                self.assertIn('--action=uninstall removes', text)
                self.assertEqual(os.stat(dropin).st_mode & 0o777, 0o644)
                self.assertIn('Wrote ' + dropin, r.stdout)
                self.assertIn('Not restarting systemd-resolved (--root)', r.stdout)
                with open(os.path.join(os.path.dirname(self.conf_path()), 'install.state')) as f:
                    state = f.read()
                self.assertIn('/etc/systemd/resolved.conf.d/threatstop-ddr-llmnr.conf', state)
                self.assertIn('restart=systemd-resolved.service', state)
                self.install(*args, '--llmnr=off')     # a re-install: the same, in place
                # keep does not take back an earlier install's drop-in: it says so
                r = self.install(*args, '--llmnr=keep')
                self.assertIn('An earlier install turned LLMNR off with ' + dropin, r.stdout)
                self.assertTrue(os.path.exists(dropin))
                r = self.uninstall()
                self.assertIn('systemd-resolved', r.stdout)
                self.assertEqual(snapshot(self.root), before)
        # --llmnr=keep, for networks that rely on LLMNR: nothing written
        self.install(*args, '--llmnr=keep')
        self.assertFalse(os.path.exists(dropin))
        self.uninstall()
        self.assertEqual(snapshot(self.root), before)
        # the flag is install's alone
        r = self.admin('--action=uninstall', '--llmnr=keep')
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn('--llmnr', r.stderr)

    def test_dispatcher_installed_where_networkmanager_is(self):
        os.makedirs(os.path.join(self.root, 'etc/NetworkManager'))
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                           'dispatcher', '90-threatstop-ddr')
        shutil.copy(src, self.data)
        before = snapshot(self.root)
        self.install('--listen=127.0.0.1', '--url=https://a.example/dns-query')
        script = os.path.join(self.root, 'etc/NetworkManager/dispatcher.d/90-threatstop-ddr')
        self.assertEqual(os.stat(script).st_mode & 0o777, 0o755)
        with open(script) as f, open(src) as g:
            self.assertEqual(f.read(), g.read())
        self.uninstall()
        self.assertEqual(snapshot(self.root), before)

    # without --root, in a private mount namespace ---------------------------

    def sysconfdir(self):
        with open(os.path.join(rig.build_dir(), 'config.h')) as f:
            for line in f:
                if line.startswith('#define DDR_SYSCONFDIR '):
                    return line.split('"')[1]
        raise AssertionError('DDR_SYSCONFDIR not in config.h')

    def in_private_namespace(self, *admin_runs):
        """Runs the CLI without --root where it can change nothing real: /etc is an
        overlay (changes land in etc-upper), the sysconfdir a tmpfs, /run an empty tmpfs
        (systemctl cannot reach any systemd), no system bus. Returns [(rc, out, err)]
        and the files left in etc-upper and the sysconfdir."""
        up, work = self.path('etc-upper'), self.path('etc-work')
        os.makedirs(up)
        os.makedirs(work)
        conf_parent = os.path.dirname(self.sysconfdir())
        out = self.path('ns-out')
        os.makedirs(out)
        lines = ['set -e',
                 'mount -t overlay overlay -o lowerdir=/etc,upperdir=%s,workdir=%s /etc'
                 % (up, work),
                 'mkdir -p %s' % conf_parent if not conf_parent.startswith('/etc') else 'true',
                 'mount -t tmpfs tmpfs %s' % conf_parent,
                 'mount -t tmpfs tmpfs /run',
                 'set +e']
        conf = os.path.join(self.sysconfdir(), 'ddr.conf')
        for i, args in enumerate(admin_runs):
            lines.append('%s %s >%s/%d.out 2>%s/%d.err </dev/null; echo $? >%s/%d.rc'
                         % (admin_binary(), ' '.join("'%s'" % a for a in args), out, i, out, i,
                            out, i))
            lines.append('cat %s >%s/%d.conf 2>/dev/null' % (conf, out, i))
        lines.append('find %s -type f > %s/left.txt' % (conf_parent, out))
        env = dict(os.environ, LANGUAGE='C', LC_ALL='C.UTF-8', THREATSTOP_DDR_DATA_DIR=self.data,
                   DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + self.path('no-bus'))
        p = subprocess.run([rig.tool('unshare'), '-m', '--propagation', 'private', 'sh', '-c',
                            '\n'.join(lines)], capture_output=True, text=True, env=env,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        results = []
        self.confs = []
        for i in range(len(admin_runs)):
            with open('%s/%d.rc' % (out, i)) as rc, open('%s/%d.out' % (out, i)) as o, \
                    open('%s/%d.err' % (out, i)) as e:
                results.append((int(rc.read()), o.read(), e.read()))
            with open('%s/%d.conf' % (out, i)) as c:
                self.confs.append(c.read())
        with open(os.path.join(out, 'left.txt')) as f:
            left = f.read().split()
        upper = [os.path.relpath(os.path.join(d, n), up) for d, _, ns in os.walk(up) for n in ns]
        return results, upper, left

    def test_a_taken_listen_port_is_named_before_anything_is_written(self):
        # a local unbound or dnsmasq on 127.0.0.1:53 (issue 12 item 2): found before any
        # change, with the process that holds it; UDP and TCP both count
        u = self.start_unbound()
        for proto in ('udp', 'tcp'):
            port = rig.free_port()
            holder = subprocess.Popen(
                ['/usr/bin/python3', '-c',
                 'import socket, sys, time\n'
                 's = socket.socket(socket.AF_INET, socket.SOCK_%s)\n'
                 's.bind(("127.0.0.1", %d))\n'
                 '%s\n'
                 'print("ready", flush=True)\n'
                 'time.sleep(120)' % ('DGRAM' if proto == 'udp' else 'STREAM', port,
                                      's.listen()' if proto == 'tcp' else '')],
                stdout=subprocess.PIPE, text=True)
            self.addCleanup(holder.wait)
            self.addCleanup(holder.kill)
            self.assertEqual(holder.stdout.readline().strip(), 'ready')
            results, upper, left = self.in_private_namespace(
                ['--action=install'] + self.service_args(u, port))
            rc, out, err = results[0]
            self.assertEqual(rc, 1, out + err)
            self.assertIn('127.0.0.1 port %d' % port, err)
            self.assertIn('python3 (pid %d)' % holder.pid, err)
            self.assertIn('Nothing was changed', err)
            self.assertNotIn('endpoint', out)      # checked before the network test
            self.assertEqual((self.confs[0], upper, left), ('', [], []))
            holder.kill()
            shutil.rmtree(self.path('etc-upper'))
            shutil.rmtree(self.path('etc-work'))
            shutil.rmtree(self.path('ns-out'))

    def test_endpoint_test_and_service_steps_without_root(self):
        u = self.start_unbound()
        port = rig.free_port()
        good = ['--action=install'] + self.service_args(u, port)
        bad_port = rig.free_port(('127.0.0.1',))
        bad = ['--action=install', '--listen=127.0.0.1:%d' % port,
               '--url=https://doh.test:%d/dns-query' % bad_port, '--bootstrap=127.0.0.1',
               '--ca-file=' + self.ca.ca, '--check-domain=check.test']
        wrong_ca = ['--action=install', '--listen=127.0.0.1:%d' % port, '--url=' + u.url,
                    '--bootstrap=127.0.0.1', '--ca-file=' + self.ca.wrong().ca,
                    '--check-domain=check.test']
        # An installation made before (--root=/ in the namespace: files only, no systemctl).
        first = ['--action=install', '--root=/', '--listen=127.0.0.1:%d' % port,
                 '--url=https://doh.test:%d/first' % bad_port]
        results, upper, left = self.in_private_namespace(bad, wrong_ca, first, good,
                                                         ['--action=uninstall'])
        (rc_bad, out_bad, err_bad), (rc_ca, _, err_ca), (rc_first, out_first, err_first), \
            (rc, out, err), (rc_un, out_un, err_un) = results
        # The vendor's curl --doh-url step fails: exit 1, a clear report, nothing written.
        self.assertEqual(rc_bad, 1, out_bad + err_bad)
        self.assertIn('endpoint test failed', err_bad)
        self.assertIn(str(bad_port), err_bad)
        self.assertIn('Nothing was changed', err_bad)
        self.assertEqual(self.confs[0], '')
        self.assertEqual(rc_ca, 1, err_ca)
        self.assertIn('endpoint test failed', err_ca)
        self.assertEqual(rc_first, 0, out_first + err_first)
        self.assertIn('/first', self.confs[2])
        # The re-install passes the endpoint test against the real service; then
        # systemctl cannot reach a systemd here: exit 1, and the previous installation is
        # back exactly (ddr.conf of before, no unit left over from this run).
        self.assertIn('The endpoint answered: check.test is %s' % rig.CHECK_A, out)
        self.assertIn('Wrote %s/ddr.conf' % self.sysconfdir(), out)
        self.assertEqual(rc, 1, out + err)
        self.assertIn('systemctl', err)
        self.assertIn('put back', err)
        self.assertEqual(self.confs[3], self.confs[2])
        # Uninstall removes the first installation: nothing left in /etc or the sysconfdir.
        self.assertEqual(rc_un, 0, out_un + err_un)
        self.assertIn('Removed /etc/systemd/system/threatstop-ddr.service', out_un)
        self.assertEqual(upper, [])
        self.assertEqual(left, [])

    # dnsdist -----------------------------------------------------------------

    def test_dnsdist_too_old_is_refused(self):
        before = snapshot(self.root)
        r = self.admin('--action=install', '--engine=dnsdist', '--listen=127.0.0.1',
                       '--url=https://a.example/dns-query', '--bootstrap=192.0.2.1',
                       env={'THREATSTOP_DDR_DNSDIST_VERSION':
                            'dnsdist 1.6.1 (Lua 5.1.4 [LuaJIT 2.1.0-beta3])'})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn('1.6', r.stderr)
        self.assertIn('1.7', r.stderr)
        self.assertEqual(snapshot(self.root), before)

    def test_dnsdist_engine_answers_through_real_dnsdist(self):
        dnsdist = rig.tool('dnsdist')
        u = self.start_unbound()
        port = rig.free_port(('127.0.0.1',))
        conf = os.path.join(self.root, 'etc/dnsdist/dnsdist.conf')
        os.makedirs(os.path.dirname(conf))
        with open(conf, 'w') as f:
            f.write('-- the admin\'s own dnsdist.conf\nsetLocal("127.0.0.1:1")\n')
        # As Debian ships it: root:_dnsdist 0640 (here a group that exists everywhere).
        os.chown(conf, 0, 65534)
        os.chmod(conf, 0o640)
        before = snapshot(self.root)
        self.install('--engine=dnsdist', *self.service_args(u, port))
        with open(conf) as f:
            text = f.read()
        for part in ('setSecurityPollSuffix("")', 'setLocal("127.0.0.1:%d")' % port,
                     'setACL({"127.0.0.0/8", "::1/128"})', 'tls="openssl"',
                     'subjectName="doh.test"', 'dohPath="/dns-query"',
                     'validateCertificates=true',
                     'checkName="check.test."', 'maxCheckFailures=3', 'newPacketCache'):
            self.assertIn(part, text)
        self.assertFalse(glob.glob(os.path.join(self.root, '**', 'ddr.conf'), recursive=True))
        # the CA copied where dnsdist's sandbox can read it; run here with the root's copy
        copy = glob.glob(os.path.join(self.root, '**', 'threatstop-ddr', 'ca.pem'),
                         recursive=True)
        self.assertEqual(len(copy), 1, copy)
        self.assertIn('caStore="%s"' % copy[0][len(self.root):], text)
        with open(conf, 'w') as f:
            f.write(text.replace('caStore="%s"' % copy[0][len(self.root):],
                                 'caStore="%s"' % copy[0]))
        p = subprocess.run([dnsdist, '--check-config', '-C', conf], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        log = open(self.path('dnsdist.log'), 'wb')
        proc = subprocess.Popen([dnsdist, '--supervised', '--disable-syslog', '-C', conf],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            def answered():
                assert proc.poll() is None, 'dnsdist exited: ' + open(log.name).read()
                m = rig.udp_query('127.0.0.1', port, 'allowed.test', timeout=0.5)
                return m is not None and m.rcode_name == 'NOERROR' and m.values('A')
            rig.wait_until(answered, 20, interval=0.2, what='dnsdist to answer')
            m = rig.udp_query('127.0.0.1', port, 'allowed.test')
            self.assertEqual(sorted(m.values('A')), sorted(rig.ALLOWED_A))
            m = rig.tcp_query('127.0.0.1', port, 'check.test')
            self.assertEqual(m.values('A'), [rig.CHECK_A])
            m = rig.udp_query('127.0.0.1', port, 'blocked.example')
            self.assertEqual(m.rcode_name, 'NXDOMAIN')
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        self.uninstall()
        self.assertEqual(snapshot(self.root), before)

    def test_dnsdist_under_root_needs_bootstrap_for_a_host_name(self):
        before = snapshot(self.root)
        r = self.admin('--action=install', '--engine=dnsdist', '--listen=127.0.0.1',
                       '--url=https://a.example/dns-query')
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn('--bootstrap', r.stderr)
        self.assertEqual(snapshot(self.root), before)
