#!/usr/bin/python3
"""Roaming needs the relay on 127.0.0.1:53 (DESIGN "Configuration"): NetworkManager and
resolv.conf carry no port, so steering to a relay that listens elsewhere would point the
system at nothing. enabled=auto without that listener runs as a forwarder and says why;
enabled=true without it is a configuration error (exit 2)."""

import time

import rig
import roamrig
from roamrig import RoamTestCase


class TestRoamListen(RoamTestCase):

    def _spawn(self, listen, port, **roaming):
        cfg = self.roam_config(**roaming)
        cfg['relay']['listen'] = listen
        d = roamrig.RoamDaemon(rig.daemon_binary(), self.path('ddrd'), cfg, port=port)
        self._daemons.append(d)
        d.spawn()
        return d

    def test_auto_without_loopback_53_forwards(self):
        d = self._spawn(['127.0.0.1:5300'], 5300, enabled='auto')
        d.wait_ready()
        rig.wait_until(lambda: self.bus.name_has_owner(roamrig.BUS_NAME), 10,
                       what='the daemon to own its name')
        rig.wait_until(lambda: self.state() == 'forwarding', 5,
                       what='State forwarding (is %s)' % self.state())
        reason = str(self.prop('Reason'))
        self.assertIn('127.0.0.1:53', reason)
        self.assertIn('listen', reason)
        time.sleep(1.5)   # long enough for a probe cycle that must not happen
        self.assertEqual(self.state(), 'forwarding')
        self.assertFalse(self.nm.steering_active(), 'steered to a port nothing serves')
        self.assertAnswered(rig.udp_query('127.0.0.1', 5300, 'example.com'), 'NOERROR')

    def test_true_without_loopback_53_is_a_config_error(self):
        d = self._spawn(['127.0.0.1:5300'], 5300, enabled='true')
        rc = d.wait_exit(10)
        self._daemons.remove(d)   # it has exited: nothing to stop
        self.assertEqual(rc, 2, d.log())
        line = [l for l in d.log().splitlines() if 'listen' in l and 'enabled' in l]
        self.assertTrue(line, 'no error line names listen and enabled:\n' + d.log())
        self.assertIn('127.0.0.1:53', line[0])


if __name__ == '__main__':
    import unittest
    unittest.main()
