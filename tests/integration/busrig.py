#!/usr/bin/python3
"""D-Bus test rig: a private *system-like* bus (real dbus-daemon) that enforces the
project's own policy file (data/com.threatstop.DDR1.conf), python3-dbusmock's polkitd
template on it, the real daemon attached to it (without --no-bus), and the admin CLI.

The bus config mirrors a distribution's system bus: method calls are denied by default,
the daemon's policy file is included as is, and root may additionally own and call the
mock polkit. Tests run as root, so "root only" rules are exercised from root and, where a
test needs it, from an unprivileged user through setpriv."""

import os
import subprocess
import time

import dbus
import dbus.mainloop.glib
import dbusmock

import rig
from rig import RigTestCase, wait_until

BUS_NAME = 'com.threatstop.DDR1'
OBJ_PATH = '/com/threatstop/DDR1'
IFACE = 'com.threatstop.DDR1'
PROPS = 'org.freedesktop.DBus.Properties'
SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

DDR_POLICY = os.path.join(SRC, 'data', 'com.threatstop.DDR1.conf')

BUS_CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
{listen}  <auth>EXTERNAL</auth>
{servicedir}  <policy context="default">
    <allow user="*"/>
    <{calls} own="*"/>
    <{calls} send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <policy user="root">
    <!-- the test's mocks: python3-dbusmock's polkitd and its control interface -->
    <allow own="org.freedesktop.PolicyKit1"/>
    <allow send_destination="org.freedesktop.PolicyKit1"/>
    <allow send_destination="org.freedesktop.DBus"/>{root_policy}
  </policy>
  <include>{policy}</include>
</busconfig>
'''


def bus_config(socket, permissive=False, root_policy='', also_listen=(), servicedir=None):
    """dbus-daemon config text for a private system bus at socket (and also_listen).

    Like a distribution's system bus, method calls and owning names are denied by
    default (permissive=True allows both, for buses of mocks only); root may own and
    call the mock polkit plus whatever root_policy (<allow .../> lines) adds; the
    daemon's policy file is included as is."""
    listen = ''.join('  <listen>unix:path=%s</listen>\n' % p
                     for p in list(also_listen) + [socket])
    return BUS_CONFIG.format(
        listen=listen, calls='allow' if permissive else 'deny', root_policy=root_policy,
        servicedir='  <servicedir>%s</servicedir>\n' % servicedir if servicedir else '',
        policy=DDR_POLICY)


# PropertiesChanged is delivered through GLib's main loop.
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)

POLKIT_PAUSE = 'com.threatstop.ddr.pause'
POLKIT_CONFIGURE = 'com.threatstop.ddr.configure'


def admin_binary():
    return rig.built('CLI binary', 'src', 'admin', 'threatstop-ddr-admin')


class BusDaemon(rig.Daemon):
    """The real daemon on the test's system bus: no --no-bus. extra_env: variables
    set for it alone (test seams, NOTIFY_SOCKET, ...)."""

    extra_env = {}

    def command(self):
        return [a for a in super().command() if a != '--no-bus']

    def spawn(self):
        saved = {k: os.environ.get(k) for k in self.extra_env}
        os.environ.update(self.extra_env)
        try:
            return super().spawn()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class SystemBus:
    """A private dbus-daemon configured like a system bus (see bus_config), with our
    policy included; while it runs, DBUS_SYSTEM_BUS_ADDRESS points at it."""

    def __init__(self, dir, permissive=False, root_policy=''):
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        self.socket = os.path.join(dir, 'system_bus_socket')
        self.address = 'unix:path=' + self.socket
        self.conf = os.path.join(dir, 'system.conf')
        with open(self.conf, 'w') as f:
            f.write(bus_config(self.socket, permissive=permissive, root_policy=root_policy))
        self.pid = None
        self._old_addr = False      # False: DBUS_SYSTEM_BUS_ADDRESS not changed

    def start(self):
        rig.tool('dbus-daemon')
        self.pid, addr = dbusmock.DBusTestCase.start_dbus(conf=self.conf)
        self._old_addr = os.environ.get('DBUS_SYSTEM_BUS_ADDRESS')
        os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = self.address
        return self

    def stop(self):
        if self.pid:
            dbusmock.DBusTestCase.stop_dbus(self.pid)
            self.pid = None
        if self._old_addr is None:
            os.environ.pop('DBUS_SYSTEM_BUS_ADDRESS', None)
        elif self._old_addr is not False:
            os.environ['DBUS_SYSTEM_BUS_ADDRESS'] = self._old_addr
        self._old_addr = False


class BusTestCase(RigTestCase):
    """unbound + private system bus + mock polkitd + the daemon on that bus."""

    system_bus = SystemBus      # a subclass may give the bus more policy

    def setUp(self):
        super().setUp()
        self.polkitd = None
        self.bus = None
        # an unprivileged client (setpriv) must reach the bus socket in our temp dir
        os.chmod(self.tmp, 0o755)
        self.bus_rig = self.system_bus(self.path('bus')).start()
        os.chmod(self.bus_rig.dir, 0o755)
        self.bus = dbus.bus.BusConnection(self.bus_rig.address)
        self.polkitd, self.polkit_obj = dbusmock.DBusTestCase.spawn_server_template(
            'polkitd', {}, stdout=subprocess.DEVNULL)
        self.polkit = dbus.Interface(self.polkit_obj, dbusmock.MOCK_IFACE)
        self.unbound = self.start_unbound()

    def _rig_cleanup(self):
        # daemons first (the rig's own cleanup), then the bus they are attached to
        try:
            super()._rig_cleanup()
        finally:
            if self.polkitd is not None:
                self.polkitd.terminate()
                self.polkitd.wait()
            if self.bus is not None:
                self.bus.close()
            self.bus_rig.stop()

    # the daemon ---------------------------------------------------------

    def start_bus_daemon(self, name='ddrd', env=None, **overrides):
        port = rig.free_port()
        cfg = rig.relay_config(self.unbound, self.ca, port, **overrides)
        d = BusDaemon(rig.daemon_binary(), self.path(name), cfg, port=port)
        d.extra_env = dict(env or {})
        self._daemons.append(d)
        d.spawn()
        d.wait_ready()
        wait_until(lambda: self.bus.name_has_owner(BUS_NAME), 10,
                   what='the daemon to own %s' % BUS_NAME)
        return d

    def proxy(self):
        return self.bus.get_object(BUS_NAME, OBJ_PATH, introspect=False)

    def iface(self):
        return dbus.Interface(self.proxy(), IFACE)

    def props(self):
        return self.proxy().GetAll(IFACE, dbus_interface=PROPS)

    def prop(self, name):
        return self.proxy().Get(IFACE, name, dbus_interface=PROPS)

    def statistics(self):
        return self.iface().GetStatistics()

    def allow(self, *actions):
        self.polkit.SetAllowed(list(actions))

    # the CLI ------------------------------------------------------------

    def admin(self, *args, env=None, timeout=30, user=None):
        cmd = [admin_binary()] + list(args)
        if user is not None:
            cmd = ['setpriv', '--reuid=%d' % user, '--regid=%d' % user, '--clear-groups'] + cmd
        e = dict(os.environ)
        e.setdefault('G_DEBUG', 'fatal-criticals')
        e.setdefault('ASAN_OPTIONS', 'abort_on_error=1')
        e.pop('G_MESSAGES_DEBUG', None)
        e.update(env or {})
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e,
                              stdin=subprocess.DEVNULL)

    def assertDBusError(self, name, call, *args):
        with self.assertRaises(dbus.exceptions.DBusException) as cm:
            call(*args)
        self.assertEqual(cm.exception.get_dbus_name(), name, str(cm.exception))
        return cm.exception


def wait_signal(bus, collected, pred, timeout=5.0, what='signal'):
    """Iterate a GLib main loop (dbus-python's) until pred(collected) is true."""
    from gi.repository import GLib
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while not pred(collected):
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %s; got %r' % (what, collected))
        ctx.iteration(False)
        time.sleep(0.01)
    return collected
