#!/usr/bin/python3
"""The man pages and the bash completion against the code: every page renders without a
groff or man warning, ddr.conf(5) documents every key of data/ddr.conf (which documents
every key the daemon knows), the admin page every action and flag of the real
`threatstop-ddr-admin --help` and the daemon page every flag of `threatstop-ddrd --help`;
the completion offers exactly the CLI's actions and flags."""

import os
import re
import subprocess
import unittest

import busrig
import rig

SRC = busrig.SRC
MAN = os.path.join(SRC, 'data', 'man')
PAGES = ['threatstop-ddrd.8', 'threatstop-ddr-admin.8', 'ddr.conf.5',
         'threatstop-ddr-indicator.1']
COMPLETION = os.path.join(SRC, 'data', 'bash-completion', 'threatstop-ddr-admin')
BASH_COMPLETION = '/usr/share/bash-completion/bash_completion'


def render(page):
    """The page as plain ASCII text: no hyphenation, long lines (so words stay whole)."""
    p = subprocess.run([rig.tool('groff'), '-man', '-Tascii', '-P-cbou', '-rHY=0', '-rLL=250n',
                        '-ww', os.path.join(MAN, page)],
                       capture_output=True, text=True, env=dict(os.environ, LC_ALL='C'))
    if p.returncode != 0 or p.stderr:
        raise AssertionError('groff on %s: rc %d\n%s' % (page, p.returncode, p.stderr))
    return p.stdout


def help_text(binary):
    p = subprocess.run([binary, '--help-all'], capture_output=True, text=True,
                       env=dict(os.environ, LANGUAGE='C', LC_ALL='C.UTF-8', LANG='C.UTF-8'))
    if p.returncode != 0:
        raise AssertionError('%s --help: rc %d\n%s' % (binary, p.returncode, p.stderr))
    return p.stdout


def long_options(text):
    """--flags of a GOption --help-all, every group but 'Help Options'."""
    section = re.sub(r'(?s)Help Options:.*?\n\n', '', text)
    return sorted(set(re.findall(r'^\s+(?:-\w, )?(--[a-z][a-z-]*)', section, re.M)))


def admin_actions(text):
    m = re.search(r'What to do: ([a-z, -]+)', text)
    if not m:
        raise AssertionError('no "What to do:" line in threatstop-ddr-admin --help:\n' + text)
    return [a.strip() for a in m.group(1).split(',')]


def conf_keys():
    """(group, key) of every key data/ddr.conf shows, set or commented out."""
    keys, group = [], None
    with open(os.path.join(SRC, 'data', 'ddr.conf')) as f:
        for line in f:
            m = re.match(r'^\[(\w+)\]', line)
            if m:
                group = m.group(1)
                continue
            m = re.match(r'^#?([a-z][a-z0-9-]*)=', line)
            if m:
                keys.append((group, m.group(1)))
    return keys


class TestManPages(unittest.TestCase):

    def test_pages_render_without_warnings(self):
        rig.tool('man')
        for page in PAGES:
            with self.subTest(page=page):
                render(page)
                p = subprocess.run(['man', '--warnings', '-l', os.path.join(MAN, page)],
                                   capture_output=True, text=True,
                                   env=dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8',
                                            MANPAGER='cat', PAGER='cat'))
                self.assertEqual((p.returncode, p.stderr), (0, ''))
                self.assertIn('NAME', p.stdout)

    def test_every_environment_variable_is_documented(self):
        """Each THREATSTOP_DDR_* variable the code reads is in ENVIRONMENT of the page of
        the binary that reads it (src/admin: the CLI; src/indicator: the indicator; the
        rest: the daemon)."""
        found = {}
        for d, _, files in os.walk(os.path.join(SRC, 'src')):
            for f in files:
                if f.endswith('.c'):
                    with open(os.path.join(d, f)) as fh:
                        for var in re.findall(r'g_getenv \("(THREATSTOP_DDR_[A-Z_]+)"\)',
                                              fh.read()):
                            admin = os.sep + 'admin' in d
                            steering = os.sep + 'steering' in d   # daemon and restore-dns
                            indicator = os.sep + 'indicator' in d
                            found.setdefault(var, set()).add(
                                'threatstop-ddr-admin.8' if admin else
                                'threatstop-ddr-indicator.1' if indicator else
                                'threatstop-ddrd.8')
                            if steering:
                                found[var].add('threatstop-ddrd.8')
        self.assertIn('THREATSTOP_DDR_STEER_LINK', found)
        for var, pages in sorted(found.items()):
            for page in pages:
                with self.subTest(var=var, page=page):
                    env = render(page).split('\nENVIRONMENT\n', 1)[1].split('\nFILES\n')[0]
                    self.assertRegex(env, r'(?m)^ {0,8}%s\b' % var)

    def test_pages_carry_the_project_version(self):
        with open(os.path.join(SRC, 'meson.build')) as f:
            version = re.search(r"version: '([^']+)'", f.read()).group(1)
        for page in PAGES:
            with open(os.path.join(MAN, page)) as f:
                th = re.search(r'(?m)^\.TH .*$', f.read()).group(0)
            self.assertIn('"threatstop-ddr %s"' % version, th, page)

    def test_the_check_sees_a_broken_page(self):
        broken = os.path.join(self.tmp_dir(), 'x.8')
        with open(os.path.join(MAN, 'ddr.conf.5')) as f:
            text = f.read()
        with open(broken, 'w') as f:
            f.write(text.replace('.SH FILES', '.SH FILES\n.BOGUS macro'))
        p = subprocess.run([rig.tool('groff'), '-man', '-Tascii', '-ww', '-z', broken],
                           capture_output=True, text=True)
        self.assertIn('BOGUS', p.stderr)

    def tmp_dir(self):
        import tempfile
        d = tempfile.mkdtemp(prefix='ddr-docs-')
        self.addCleanup(__import__('shutil').rmtree, d)
        return d

    def test_every_config_key_is_documented(self):
        keys = conf_keys()
        self.assertGreaterEqual(len(keys), 20)
        text = render('ddr.conf.5')
        for group in sorted({g for g, _ in keys}):
            self.assertRegex(text, r'(?m)^\[%s\]$' % group)
        for group, key in keys:
            with self.subTest(key='%s.%s' % (group, key)):
                section = text.split('[%s]' % group, 1)[1]
                self.assertRegex(section, r'(?m)^ {0,8}%s=' % re.escape(key))

    def test_every_admin_action_and_flag_is_documented(self):
        help = help_text(busrig.admin_binary())
        text = render('threatstop-ddr-admin.8')
        actions = admin_actions(help)
        self.assertIn('status', actions)
        actions_section = text.split('\nACTIONS\n', 1)[1].split('\nOPTIONS\n', 1)[0]
        for a in actions:
            with self.subTest(action=a):
                self.assertRegex(actions_section, r'(?m)^ {0,8}%s( |$)' % re.escape(a))
        options_section = text.split('\nOPTIONS\n', 1)[1]
        for opt in long_options(help):
            with self.subTest(option=opt):
                self.assertRegex(options_section, r'(?m)^ {0,8}%s\b' % re.escape(opt))

    def test_every_daemon_flag_is_documented(self):
        help = help_text(rig.daemon_binary())
        text = render('threatstop-ddrd.8')
        opts = long_options(help)
        self.assertIn('--config', opts)
        section = text.split('\nOPTIONS\n', 1)[1]
        for opt in opts:
            with self.subTest(option=opt):
                self.assertRegex(section, r'(?m)^ {0,8}(-\w, )?%s\b' % re.escape(opt))

    def test_every_indicator_flag_is_documented(self):
        help = help_text(rig.built('indicator binary', 'src', 'indicator',
                                   'threatstop-ddr-indicator'))
        text = render('threatstop-ddr-indicator.1')
        opts = long_options(help)
        self.assertIn('--attention-after', opts)
        section = text.split('\nOPTIONS\n', 1)[1]
        for opt in opts:
            with self.subTest(option=opt):
                self.assertRegex(section, r'(?m)^ {0,8}(-\w, )?%s\b' % re.escape(opt))


class TestBashCompletion(unittest.TestCase):

    def complete(self, line):
        """What the completion offers at the end of line, as bash itself splits it."""
        words = []
        for w in line.split(' '):
            # '=' is a word break in COMP_WORDBREAKS: bash hands "--a=b" over as 3 words
            parts = re.split(r'(=)', w)
            words += [p for p in parts if p != ''] or ['']
        if line.endswith('='):
            words.append('')
        script = '''
            source %s || exit 3
            source %s || exit 3
            compopt() { :; }   # only works inside real completion
            COMP_LINE=%s; COMP_POINT=${#COMP_LINE}
            COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            _threatstop_ddr_admin threatstop-ddr-admin "${COMP_WORDS[COMP_CWORD]}" \
                "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%%s\\n' "${COMPREPLY[@]}"
        ''' % (BASH_COMPLETION, COMPLETION, shquote(line), ' '.join(shquote(w) for w in words))
        if not os.path.exists(BASH_COMPLETION):
            raise AssertionError('%s missing: install bash-completion' % BASH_COMPLETION)
        p = subprocess.run(['bash', '--norc', '-c', script], capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stderr), (0, ''))
        return sorted(x for x in p.stdout.splitlines() if x)

    def test_actions_are_the_cli_actions(self):
        actions = admin_actions(help_text(busrig.admin_binary()))
        offered = self.complete('threatstop-ddr-admin --action=')
        self.assertEqual(sorted(set(actions) - set(offered)), [],
                         'actions of --help the completion does not offer')
        self.assertEqual(self.complete('threatstop-ddr-admin --action=re'),
                         [a for a in sorted(offered) if a.startswith('re')])
        self.assertEqual(self.complete('threatstop-ddr-admin --action re'),
                         [a for a in sorted(offered) if a.startswith('re')])

    def test_flags_follow_the_action(self):
        self.assertEqual(self.complete('threatstop-ddr-admin --'), ['--action=', '--help'])
        self.assertEqual(self.complete('threatstop-ddr-admin --action=status --'),
                         ['--help', '--json'])
        self.assertEqual(self.complete('threatstop-ddr-admin --action=pause --m'), ['--minutes='])
        self.assertEqual(self.complete('threatstop-ddr-admin --action=reload --'), ['--help'])
        install = self.complete('threatstop-ddr-admin --action=install --')
        for flag in ('--listen=', '--url=', '--acl=', '--yes', '--engine=', '--ca-file='):
            self.assertIn(flag, install)
        self.assertEqual(self.complete('threatstop-ddr-admin --action=install --engine='),
                         ['ddr', 'dnsdist'])

    def test_every_cli_flag_is_offered_somewhere(self):
        help = help_text(busrig.admin_binary())
        offered = set()
        for a in admin_actions(help) + ['']:
            line = 'threatstop-ddr-admin ' + ('--action=%s --' % a if a else '--')
            offered |= {o.rstrip('=') for o in self.complete(line)}
        self.assertEqual(sorted(set(long_options(help)) - offered), [])


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == '__main__':
    unittest.main()
