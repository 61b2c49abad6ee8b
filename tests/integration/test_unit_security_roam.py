#!/usr/bin/python3
"""The unit's sandbox with roaming on: the real daemon under strace follows the NM mock
(libnm), steers through the networkmanager backend, probes for a captive portal, falls
back and steers again, stops; then restore-dns (the unit's ExecStopPost=) runs under
strace too. Every system call, socket family and written path must be one the unit
allows (test_unit_security.check_trace). Own file: roamrig moves the process into
private network and mount namespaces."""

import time

import busrig
import rig
import roamrig
import test_unit_security as tus
from busrig import BUS_NAME


class TestUnitSandboxRoaming(roamrig.RoamTestCase):

    def test_roaming_daemon_stays_inside_the_sandbox(self):
        allowed, families = tus.sandbox_rules()
        trace = self.path('strace.txt')
        Traced = tus.traced(roamrig.RoamDaemon, trace)
        d = Traced(rig.daemon_binary(), self.path('ddrd'), self.roam_config(), port=53)
        self._daemons.append(d)
        t0 = time.monotonic()
        d.spawn()
        d.wait_ready(20)
        rig.wait_until(lambda: self.bus.name_has_owner(BUS_NAME), 10, what='bus name')
        self.wait_state('protected', t0, 30)
        self.wait_steering(True)
        self.assertEqual(self.relay('allowed.test').rcode_name, 'NOERROR')

        # a captive portal (a real one: the service does not answer either): fall
        # back, then steer again after the login
        self.real_portal()
        t0 = time.monotonic()
        self.nm.set_connectivity('PORTAL')
        self.wait_state('portal', t0, 20)
        self.wait_steering(False)
        self.nm.set_check_result('FULL')
        t0 = time.monotonic()
        self.portal_login()
        self.wait_state('protected', t0, 30)
        self.wait_steering(True)
        d.stop()
        self.wait_steering(False, 10)
        tus.check_trace(self, trace, allowed, families, d.state_dir, d.dir)

        # the unit's ExecStopPost=, in the same sandbox
        trace2 = self.path('strace-restore.txt')
        p = self.admin_traced(trace2, '--action=restore-dns', '--state-dir=' + d.state_dir)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        tus.check_trace(self, trace2, allowed, families, d.state_dir, d.dir)

    def admin_traced(self, trace, *args):
        import os
        import subprocess
        cmd = [rig.tool('strace'), '-f', '-qq', '-o', trace, '-e', 'signal=none',
               busrig.admin_binary()] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, LANGUAGE='C'), stdin=subprocess.DEVNULL)


if __name__ == '__main__':
    import unittest
    unittest.main()
