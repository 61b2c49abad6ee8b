#!/usr/bin/python3
"""Translations: every catalog in po/ is listed in LINGUAS, compiles (msgfmt --check), is
complete (no untranslated, no fuzzy) and current with the sources; the CLI speaks German
and French under LANGUAGE.

At test time the CLI finds the build tree's catalogs (build/po/<lang>/LC_MESSAGES) through
THREATSTOP_DDR_LOCALEDIR, the uninstalled-run seam it honours; LANG=C.UTF-8 is built into
glibc, so no locale needs generating on a minimal system."""

import glob
import os
import re
import subprocess
import unittest

import rig
from busrig import admin_binary

HERE = os.path.dirname(os.path.abspath(__file__))
PO = os.path.abspath(os.path.join(HERE, '..', '..', 'po'))


def catalogs():
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(PO, '*.po')))


def linguas():
    with open(os.path.join(PO, 'LINGUAS')) as f:
        return [w for line in f for w in line.split('#')[0].split()]


class TestCatalogs(unittest.TestCase):

    def test_linguas_lists_exactly_the_catalogs(self):
        self.assertEqual(sorted(linguas()), catalogs())
        self.assertTrue({'de', 'fr'} <= set(catalogs()))

    def test_each_catalog_compiles_and_is_complete(self):
        msgfmt = rig.tool('msgfmt')
        for lang in catalogs():
            with self.subTest(lang=lang):
                p = subprocess.run([msgfmt, '--check', '--statistics', '-o', os.devnull,
                                    os.path.join(PO, lang + '.po')],
                                   capture_output=True, text=True, timeout=60,
                                   env=dict(os.environ, LC_ALL='C'))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertRegex(p.stderr, r'^\d+ translated messages\.\n$', p.stderr)

    def test_catalogs_cover_the_sources(self):
        """Every string xgettext finds in POTFILES.in is translated (the catalogs are not
        stale), checked against a freshly extracted template."""
        tmp = self.tmp = os.path.join(rig.build_dir(), 'po-check')
        os.makedirs(tmp, exist_ok=True)
        pot = os.path.join(tmp, 'fresh.pot')
        files = [l.strip() for l in open(os.path.join(PO, 'POTFILES.in'))
                 if l.strip() and not l.startswith('#')]
        env = dict(os.environ, GETTEXTDATADIRS=PO)
        p = subprocess.run([rig.tool('xgettext'), '--from-code=UTF-8', '--add-comments',
                            '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2',
                            '--keyword=NC_:1c,2', '--keyword=g_dngettext:2,3',
                            '-o', pot, '-D', os.path.dirname(PO)] + files,
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        for lang in catalogs():
            with self.subTest(lang=lang):
                merged = os.path.join(tmp, lang + '.po')
                p = subprocess.run([rig.tool('msgmerge'), '--quiet', '--no-fuzzy-matching',
                                    '-o', merged, os.path.join(PO, lang + '.po'), pot],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                p = subprocess.run([rig.tool('msgfmt'), '--statistics', '-o', os.devnull,
                                    merged], capture_output=True, text=True, timeout=60,
                                   env=dict(os.environ, LC_ALL='C'))
                self.assertRegex(p.stderr, r'^\d+ translated messages\.\n$', p.stderr)

    def test_compiled_catalogs_in_build(self):
        for lang in linguas():
            mo = os.path.join(rig.build_dir(), 'po', lang, 'LC_MESSAGES', 'threatstop-ddr.mo')
            self.assertTrue(os.path.exists(mo), mo)


class TestCliLanguage(rig.RigTestCase):

    def run_admin(self, lang, *args):
        env = dict(os.environ)
        for k in ('LC_ALL', 'LC_MESSAGES', 'LANG', 'LANGUAGE'):
            env.pop(k, None)
        env.update(LANG='C.UTF-8', LANGUAGE=lang,
                   THREATSTOP_DDR_LOCALEDIR=os.path.join(rig.build_dir(), 'po'),
                   DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + self.path('no-bus'))
        return subprocess.run([admin_binary()] + list(args), capture_output=True, text=True,
                              timeout=30, env=env, stdin=subprocess.DEVNULL)

    def test_german(self):
        r = self.run_admin('de', '--action=status')
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, 'Der ThreatSTOP-DDR-Dienst ist nicht erreichbar: der '
                         'Systembus ist nicht verfügbar.\n')
        r = self.run_admin('de', '--action=frobnicate')
        self.assertEqual(r.returncode, 2)
        self.assertIn('unbekannte Aktion „frobnicate“', r.stderr)
        r = self.run_admin('de', '--help')
        self.assertEqual(r.returncode, 0)
        self.assertIn('Mit --action=status: ein JSON-Objekt für Skripte ausgeben', r.stdout)

    def test_french(self):
        r = self.run_admin('fr', '--action=pause', '--minutes=jamais')
        self.assertEqual(r.returncode, 2)
        self.assertIn('--minutes=jamais invalide', r.stderr)

    def test_english_without_language(self):
        r = self.run_admin('', '--action=status')
        self.assertEqual(r.stderr, 'The ThreatSTOP DDR daemon cannot be reached: the system '
                         'bus is not available.\n')


if __name__ == '__main__':
    unittest.main()
