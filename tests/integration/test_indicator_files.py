#!/usr/bin/python3
"""The indicator's files and languages (issue 11), without a desktop: the autostart entry
(desktop-file-validate, translated), the systemd user unit (systemd-analyze verify), one
symbolic SVG per icon the code names, and the indicator itself speaking German and French
in its menu, on a private session bus with no daemon to follow."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

import dbus

import busrig
import rig

SRC = busrig.SRC
ICON_DIR = os.path.join(SRC, 'data', 'icons', 'hicolor', 'scalable', 'status')


def indicator_binary():
    return rig.built('indicator binary', 'src', 'indicator', 'threatstop-ddr-indicator')


class TestIndicatorFiles(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='ddr-indicator-files-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_autostart_entry(self):
        path = os.path.join(rig.build_dir(), 'data', 'threatstop-ddr-indicator.desktop')
        p = subprocess.run([rig.tool('desktop-file-validate'), path], capture_output=True,
                           text=True)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ''))
        text = open(path).read()
        self.assertRegex(text, r'\nExec=/\S+/threatstop-ddr-indicator\n')
        self.assertIn('\nName[de]=ThreatSTOP-DNS-Defense-Anzeige\n', text)
        self.assertIn('\nName[fr]=Indicateur ThreatSTOP DNS Defense\n', text)
        self.assertIn('\nComment[de]=', text)

    def test_user_unit(self):
        path = os.path.join(rig.build_dir(), 'data', 'threatstop-ddr-indicator.service')
        text = open(path).read()
        self.assertRegex(text, r'\nExecStart=/\S+/threatstop-ddr-indicator\n')
        self.assertIn('\nWantedBy=graphical-session.target\n', text)
        # verify checks that ExecStart exists: point it at the built binary
        unit = os.path.join(self.tmp, 'threatstop-ddr-indicator.service')
        with open(unit, 'w') as f:
            f.write(re.sub(r'\nExecStart=\S+', '\nExecStart=' + indicator_binary(), text))
        p = subprocess.run([rig.tool('systemd-analyze'), '--user', 'verify', unit],
                           capture_output=True, text=True, cwd=self.tmp,
                           env=dict(os.environ, XDG_RUNTIME_DIR=self.tmp))
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ''))

    def test_one_symbolic_icon_per_look(self):
        with open(os.path.join(SRC, 'src', 'indicator', 'ddr-indicator-model.c')) as f:
            named = set(re.findall(r'"(threatstop-ddr-[a-z]+-symbolic)"', f.read()))
        self.assertEqual(len(named), 7, named)
        files = {f[:-4] for f in os.listdir(ICON_DIR) if f.endswith('.svg')}
        self.assertEqual(files, named)
        for name in sorted(named):
            with self.subTest(icon=name):
                root = ET.parse(os.path.join(ICON_DIR, name + '.svg')).getroot()
                self.assertEqual(root.get('viewBox'), '0 0 16 16')
                fills = {e.get('fill') for e in root.iter() if e.get('fill')
                         and e.get('fill') != 'none'}
                # symbolic: one colour, which the desktop replaces with its own
                self.assertEqual(len(fills), 1, fills)


class TestIndicatorLanguages(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='ddr-indicator-lang-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        conf = os.path.join(self.tmp, 'bus.conf')
        with open(conf, 'w') as f:
            f.write('<busconfig><type>session</type><listen>unix:path=%s/bus</listen>'
                    '<auth>EXTERNAL</auth><policy context="default"><allow user="*"/>'
                    '<allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>'
                    '<allow own="*"/></policy></busconfig>' % self.tmp)
        self.dbus = subprocess.Popen([rig.tool('dbus-daemon'), '--nofork',
                                      '--config-file=' + conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.addCleanup(self.dbus.wait)
        self.addCleanup(self.dbus.terminate)
        self.address = 'unix:path=%s/bus' % self.tmp
        rig.wait_until(lambda: os.path.exists(os.path.join(self.tmp, 'bus')), 10,
                       what='the session bus')
        self.bus = dbus.bus.BusConnection(self.address)
        self.addCleanup(self.bus.close)

    def env(self, lang):
        e = dict(os.environ)
        for k in ('LC_ALL', 'LC_MESSAGES', 'LANG', 'LANGUAGE'):
            e.pop(k, None)
        e.update(LANG='C.UTF-8', LANGUAGE=lang, DBUS_SESSION_BUS_ADDRESS=self.address,
                 THREATSTOP_DDR_LOCALEDIR=os.path.join(rig.build_dir(), 'po'),
                 DBUS_SYSTEM_BUS_ADDRESS='unix:path=' + os.path.join(self.tmp, 'no-bus'),
                 G_DEBUG='fatal-criticals')
        return e

    def menu_in(self, lang):
        p = subprocess.Popen([indicator_binary()], env=self.env(lang),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        name = 'org.kde.StatusNotifierItem-%d-1' % p.pid
        try:
            rig.wait_until(lambda: self.bus.name_has_owner(name), 10, what='the indicator')
            item = self.bus.get_object(name, '/StatusNotifierItem', introspect=False)
            props = item.GetAll('org.kde.StatusNotifierItem',
                                dbus_interface='org.freedesktop.DBus.Properties')
            menu = self.bus.get_object(name, str(props['Menu']), introspect=False)
            _, (_, _, children) = menu.GetLayout(0, -1, dbus.Array([], 's'),
                                                 dbus_interface='com.canonical.dbusmenu')
            labels = [str(c[1]['label']) for c in children
                      if 'label' in c[1] and bool(c[1].get('visible', True))]
            return labels, props
        finally:
            p.terminate()
            out = p.communicate(timeout=10)[0]
            self.assertEqual(p.returncode, 0, out)

    def test_german(self):
        labels, props = self.menu_in('de')
        self.assertEqual(labels, ['Nicht geschützt: Der ThreatSTOP-DDR-Dienst läuft nicht',
                                  'Erneut prüfen', 'Details …'])
        self.assertEqual(str(props['IconName']), 'threatstop-ddr-stopped-symbolic')
        h = subprocess.run([indicator_binary(), '--help'], env=self.env('de'),
                           capture_output=True, text=True, timeout=10)
        self.assertIn('Sekunden ohne Schutz', h.stdout)

    def test_french(self):
        labels, _ = self.menu_in('fr')
        self.assertEqual(labels[1:], ['Vérifier à nouveau', 'Détails…'])

    def test_english(self):
        labels, props = self.menu_in('')
        self.assertEqual(labels, ['Not protected: the ThreatSTOP DDR service is not running',
                                  'Check again', 'Details…'])
        self.assertEqual(str(props['ToolTip'][2]), 'ThreatSTOP DNS Defense')


if __name__ == '__main__':
    unittest.main()
