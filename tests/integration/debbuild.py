#!/usr/bin/python3
"""The Debian package of this tree, built once for every test that needs it: the
packaging test (contents, lintian, a throwaway root) and the system tests (a booted
Debian 12). `dpkg-buildpackage -us -uc -b` (nocheck: the suite runs anyway) on a copy of
the tracked tree; the results are kept in BUILD/deb-cache/KEY, KEY being a hash of every
tracked file's path, mode and content, so a second test of the same run (or a later run
of the same tree) reuses them and a changed file builds anew. A lock serializes builds."""

import fcntl
import hashlib
import os
import shutil
import subprocess
import time

import rig

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
PKG = 'threatstop-ddr'


class Result:
    def __init__(self, dir):
        self.dir = dir
        files = os.listdir(dir)
        debs = [f for f in files if f.startswith(PKG + '_') and f.endswith('.deb')]
        changes = [f for f in files if f.endswith('.changes')]
        self.deb = os.path.join(dir, debs[0]) if len(debs) == 1 else None
        self.changes = os.path.join(dir, changes[0]) if len(changes) == 1 else None
        self.log = rig.read_log(os.path.join(dir, 'build.log'))
        with open(os.path.join(dir, 'build.rc')) as f:
            rc, seconds = f.read().split()
        self.rc = int(rc)
        self.seconds = float(seconds)
        self.cached = False


def _tracked():
    p = subprocess.run(['git', '-C', SRC, 'ls-files', '-z', '--cached', '--others',
                        '--exclude-standard'], check=True, capture_output=True)
    out = []
    for f in sorted(set(p.stdout.decode().split('\0'))):
        if f and os.path.lexists(os.path.join(SRC, f)):   # deleted ones are still in the index
            out.append(f)
    return out


def _key(files):
    h = hashlib.sha256()
    for f in files:
        path = os.path.join(SRC, f)
        st = os.lstat(path)
        h.update(('%s\0%o\0' % (f, st.st_mode)).encode())
        if os.path.islink(path):
            h.update(os.readlink(path).encode())
        else:
            with open(path, 'rb') as fh:
                h.update(fh.read())
    return h.hexdigest()[:16]


def build():
    """The package of the tree as it is now (built, or from the cache)."""
    for t in ('dpkg-buildpackage', 'dpkg-deb', 'git', 'dh'):
        rig.tool(t)
    files = _tracked()
    key = _key(files)
    cache = os.path.join(os.path.abspath(rig.build_dir()), 'deb-cache')
    out = os.path.join(cache, key)
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, 'lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(out, 'build.rc')):
            r = Result(out)
            if r.rc == 0:
                r.cached = True
                return r
        for old in os.listdir(cache):
            if old != 'lock':
                shutil.rmtree(os.path.join(cache, old), ignore_errors=True)
        os.makedirs(out)
        src = os.path.join(out, PKG)
        for f in files:
            os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
            shutil.copy2(os.path.join(SRC, f), os.path.join(src, f), follow_symlinks=False)
        env = dict(os.environ, DEB_BUILD_OPTIONS='nocheck parallel=%d' % (os.cpu_count() or 1),
                   LC_ALL='C.UTF-8')
        for k in ('DDR_BUILD_DIR', 'MESON_TEST_ITERATION', 'MALLOC_PERTURB_',
                  'ASAN_OPTIONS', 'UBSAN_OPTIONS'):
            env.pop(k, None)
        t0 = time.monotonic()
        p = subprocess.run(['dpkg-buildpackage', '-us', '-uc', '-b'], cwd=src, env=env,
                           capture_output=True, text=True, timeout=1500)
        seconds = time.monotonic() - t0
        shutil.rmtree(src, ignore_errors=True)
        with open(os.path.join(out, 'build.log'), 'w') as f:
            f.write(p.stdout + p.stderr)
        with open(os.path.join(out, 'build.rc'), 'w') as f:
            f.write('%d %.1f\n' % (p.returncode, seconds))
        return Result(out)
