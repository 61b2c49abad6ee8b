#!/usr/bin/python3
"""The shipped XML is well-formed and valid offline: the introspection data and the bus
policy against DTDs written from the D-Bus specification (tests/integration/dtd/, the
freedesktop DTDs are not packaged), the polkit policy (source and the built, translated
file) against polkit's own DTD; and the systemd unit says what DESIGN.md says."""

import os
import subprocess
import unittest
import xml.etree.ElementTree as ET

import rig

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, '..', '..'))
DATA = os.path.join(SRC, 'data')
POLKIT_DTD = '/usr/share/polkit-1/policyconfig-1.dtd'


class TestXml(unittest.TestCase):

    def xmllint(self, *args):
        p = subprocess.run([rig.tool('xmllint'), '--nonet', '--noout'] + list(args),
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn('error', p.stderr.lower(), p.stderr)
        return p

    def dtd_valid(self, path, dtd):
        # --dtdvalid alone still tries the DOCTYPE's URL; a catalog maps it to nothing
        # remote (and --nonet refuses the network).
        catalog = os.path.join(HERE, 'dtd', 'catalog.xml')
        env = dict(os.environ, XML_CATALOG_FILES=catalog + ' /etc/xml/catalog')
        p = subprocess.run([rig.tool('xmllint'), '--nonet', '--noout', '--dtdvalid', dtd, path],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), '', p.stderr)

    def test_introspection_xml(self):
        path = os.path.join(DATA, 'com.threatstop.DDR1.xml')
        self.xmllint(path)
        self.dtd_valid(path, os.path.join(HERE, 'dtd', 'introspect.dtd'))

    def test_introspection_documents_every_member(self):
        """Every property and method has a comment right before it (gdbus-codegen's doc
        convention); that is what a tray author reads."""
        text = open(os.path.join(DATA, 'com.threatstop.DDR1.xml')).read()
        root = ET.fromstring(text)
        iface = root.find('interface')
        self.assertEqual(iface.get('name'), 'com.threatstop.DDR1')
        members = [(e.tag, e.get('name')) for e in iface if e.tag in ('property', 'method')]
        names = {n for _, n in members}
        for n in ('State', 'Protected', 'PortalUrl', 'ServiceUrl', 'ServiceReachable',
                  'Network', 'DnsBackend', 'PausedUntil', 'Reason', 'UnprotectedSince',
                  'LastError', 'Version', 'GetStatistics', 'Reprobe', 'NotifyNetworkEvent',
                  'Pause', 'Resume', 'Reload'):
            self.assertIn(n, names)
        for tag, name in members:
            marker = '<%s name="%s"' % (tag, name)
            before = text[:text.index(marker)].rstrip()
            self.assertTrue(before.endswith('-->'), '%s %s has no doc comment' % (tag, name))
            comment = before[before.rindex('<!--'):]
            self.assertIn(name, comment, '%s: the comment must name the member' % name)

    def test_bus_policy(self):
        path = os.path.join(DATA, 'com.threatstop.DDR1.conf')
        self.xmllint(path)
        self.dtd_valid(path, os.path.join(HERE, 'dtd', 'busconfig.dtd'))
        root = ET.parse(path).getroot()
        owners = [(p.attrib, a.get('own')) for p in root.findall('policy')
                  for a in p.findall('allow') if a.get('own')]
        self.assertEqual(owners, [({'user': 'root'}, 'com.threatstop.DDR1')])
        default = [p for p in root.findall('policy') if p.get('context') == 'default'][0]
        members = {a.get('send_member') for a in default.findall('allow')}
        self.assertNotIn('NotifyNetworkEvent', members)
        self.assertTrue({'GetStatistics', 'Reprobe', 'Pause', 'Resume', 'Reload', 'Get',
                         'GetAll'} <= members)

    def test_polkit_policy(self):
        self.assertTrue(os.path.exists(POLKIT_DTD), 'polkit DTD missing: install polkitd')
        src = os.path.join(DATA, 'com.threatstop.ddr.policy.in')
        self.dtd_valid(src, POLKIT_DTD)
        built = os.path.join(rig.build_dir(), 'data', 'com.threatstop.ddr.policy')
        self.assertTrue(os.path.exists(built), built)
        self.dtd_valid(built, POLKIT_DTD)
        root = ET.parse(built).getroot()
        ids = [a.get('id') for a in root.findall('action')]
        self.assertEqual(ids, ['com.threatstop.ddr.pause', 'com.threatstop.ddr.configure'])
        lang = '{http://www.w3.org/XML/1998/namespace}lang'
        for a in root.findall('action'):
            for tag in ('description', 'message'):
                langs = {e.get(lang) for e in a.findall(tag)}
                self.assertEqual(langs, {None, 'de', 'fr'}, (a.get('id'), tag))

    def test_systemd_unit(self):
        unit = open(os.path.join(rig.build_dir(), 'data', 'threatstop-ddr.service')).read()
        self.assertIn('\nType=notify\n', unit)
        self.assertIn('\nBusName=com.threatstop.DDR1\n', unit)


if __name__ == '__main__':
    unittest.main()
