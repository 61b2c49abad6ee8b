#!/usr/bin/python3
"""A real desktop for the indicator's tests (issue 11): a private session bus, Xvfb,
xfce4-panel with xfce4-sntray-plugin (a real StatusNotifierWatcher + host, dbusmenu
clicks through xdotool), dunst as the notification daemon, and a stand-in web browser
registered for http/https through GIO's mimeapps.list. Screenshots with ImageMagick's
`import`.

Commands, each started in a session of its own (stop() kills the members of those
sessions by PID, D-Bus-activated xfconfd included):

    dbus-daemon --nofork --config-file=DIR/bus.conf
    Xvfb -displayfd 3 -screen 0 640x240x24 -nolisten tcp -noreset
    xfce4-panel --disable-wm-check          (DISPLAY=:N, HOME/XDG_* under DIR)
    dunst -config DIR/config/dunst/dunstrc

Ready when org.kde.StatusNotifierWatcher says IsStatusNotifierHostRegistered and
org.freedesktop.Notifications has an owner (~0.3 s here). Pitfalls (found by
shared/research/tray-host): without --disable-wm-check the panel waits ~5 s for a window
manager; without NO_AT_BRIDGE=1 GTK activates at-spi on the bus; dunst sends
ActionInvoked only to the connection that called Notify."""

import os
import shutil
import signal
import subprocess
import time

import dbus

import rig

WATCHER = 'org.kde.StatusNotifierWatcher'
NOTIFICATIONS = 'org.freedesktop.Notifications'
SCREEN = (640, 240)
PANEL_HEIGHT = 32

PANEL_XML = '''<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="plugin-ids" type="array"><value type="int" value="1"/></property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="sntray"/>
  </property>
</channel>
'''

DUNSTRC = '''[global]
    monitor = 0
    follow = none
    width = 330
    height = 150
    origin = top-right
    offset = 8x40
    font = DejaVu Sans 9
    format = "<b>%s</b>\\n%b"
    show_indicators = yes
    mouse_left_click = do_action, close_current
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
'''

BUS_CONF = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={dir}/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{dir}/dbus-services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
'''

# the stand-in browser: records each URL it is asked to open
BROWSER = '''#!/bin/sh
printf '%s\\n' "$1" >> {dir}/opened-urls
'''
BROWSER_DESKTOP = '''[Desktop Entry]
Type=Application
Name=Test browser
Exec={dir}/browser.sh %u
MimeType=x-scheme-handler/http;x-scheme-handler/https;
NoDisplay=true
'''
MIMEAPPS = '''[Default Applications]
x-scheme-handler/http=ddr-test-browser.desktop
x-scheme-handler/https=ddr-test-browser.desktop
'''


def wait(cond, timeout, what, diagnostics=None):
    """rig.wait_until, with a program's log in the failure message."""
    try:
        return rig.wait_until(cond, timeout, what=what)
    except AssertionError as e:
        raise AssertionError('%s\n%s' % (e, diagnostics() if diagnostics else '')) from None


class TrayHost:
    """Everything above, under dir; env() is the environment for the desktop's
    programs (the indicator included)."""

    def __init__(self, dir):
        self.dir = dir
        self.procs = {}          # name -> Popen (each the leader of its own session)
        self.display = None
        self.address = 'unix:path=%s/bus' % dir
        self.bus = None

    # set-up -----------------------------------------------------------------

    def _write(self, rel, text, mode=0o644):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text.replace('{dir}', self.dir))
        os.chmod(path, mode)
        return path

    def _configure(self):
        for d in ('home', 'cache', 'data', 'run', 'dbus-services'):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.chmod(os.path.join(self.dir, 'run'), 0o700)
        self._write('config/xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml', PANEL_XML)
        self._write('config/dunst/dunstrc', DUNSTRC)
        self._write('bus.conf', BUS_CONF)
        self._write('browser.sh', BROWSER, 0o755)
        self._write('data/applications/ddr-test-browser.desktop', BROWSER_DESKTOP)
        self._write('config/mimeapps.list', MIMEAPPS)
        # only xfconfd may be D-Bus-activated: no at-spi, dconf or a second notifier
        shutil.copy('/usr/share/dbus-1/services/org.xfce.Xfconf.service',
                    os.path.join(self.dir, 'dbus-services'))

    def env(self):
        e = dict(os.environ)
        for k in ('SESSION_MANAGER', 'XDG_SESSION_TYPE', 'WAYLAND_DISPLAY', 'LANGUAGE'):
            e.pop(k, None)
        e.update(HOME=self.path('home'), XDG_CONFIG_HOME=self.path('config'),
                 XDG_CACHE_HOME=self.path('cache'), XDG_DATA_HOME=self.path('data'),
                 XDG_RUNTIME_DIR=self.path('run'), NO_AT_BRIDGE='1',
                 GSETTINGS_BACKEND='memory', DBUS_SESSION_BUS_ADDRESS=self.address,
                 LANG='C.UTF-8', LC_ALL='C.UTF-8')
        if self.display:
            e['DISPLAY'] = self.display
        return e

    def path(self, *rel):
        return os.path.join(self.dir, *rel)

    def _spawn(self, name, cmd, **kw):
        log = open(self.path(name + '.log'), 'ab')
        p = subprocess.Popen(cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        log.close()
        self.procs[name] = p
        return p

    def start(self, timeout=20, panel=True):
        t0 = time.monotonic()
        os.makedirs(self.dir, exist_ok=True)
        self._configure()
        self._spawn('dbus', [rig.tool('dbus-daemon'), '--nofork',
                             '--config-file=' + self.path('bus.conf')])
        rig.wait_until(lambda: os.path.exists(self.path('bus')), 10, what='the session bus')
        r, w = os.pipe()
        self._spawn('xvfb', [rig.tool('Xvfb'), '-displayfd', str(w), '-screen', '0',
                             '%dx%dx24' % SCREEN, '-nolisten', 'tcp', '-noreset'],
                    pass_fds=(w,))
        os.close(w)
        with os.fdopen(r) as f:
            n = f.readline().strip()     # written once Xvfb accepts clients
        if not n:
            raise AssertionError('Xvfb did not start:\n' + self.log('xvfb'))
        self.display = ':' + n
        self.bus = dbus.bus.BusConnection(self.address)
        if panel:
            self.start_panel()
        self.start_dunst()
        self.ready_ms = int((time.monotonic() - t0) * 1000)
        return self

    def start_panel(self, timeout=20):
        self._spawn('panel', [rig.tool('xfce4-panel'), '--disable-wm-check'])
        wait(self.host_registered, timeout, 'xfce4-panel\'s StatusNotifierWatcher and host',
             lambda: self.log('panel'))

    def start_dunst(self, timeout=20):
        self._spawn('dunst', [rig.tool('dunst'), '-config',
                              self.path('config', 'dunst', 'dunstrc')])
        wait(lambda: self.bus.name_has_owner(NOTIFICATIONS), timeout, 'dunst on the session bus',
             lambda: self.log('dunst'))

    def host_registered(self):
        try:
            obj = self.bus.get_object(WATCHER, '/StatusNotifierWatcher', introspect=False)
            return bool(obj.Get(WATCHER, 'IsStatusNotifierHostRegistered',
                                dbus_interface='org.freedesktop.DBus.Properties'))
        except dbus.exceptions.DBusException:
            return False

    def registered_items(self):
        try:
            obj = self.bus.get_object(WATCHER, '/StatusNotifierWatcher', introspect=False)
            return [str(s) for s in obj.Get(WATCHER, 'RegisteredStatusNotifierItems',
                                             dbus_interface='org.freedesktop.DBus.Properties')]
        except dbus.exceptions.DBusException:
            return []

    def log(self, name):
        try:
            with open(self.path(name + '.log'), errors='replace') as f:
                return f.read()[-4000:]
        except OSError:
            return ''

    # the desktop's programs ----------------------------------------------------

    def stop_one(self, name, gone=None):
        """End the program's whole session (its D-Bus-activated helpers too)."""
        p = self.procs.pop(name, None)
        if p is None:
            return
        _kill_session(p)
        if gone is not None:
            rig.wait_until(gone, 10, what='%s to leave the bus' % name)

    def stop_panel(self):
        self.stop_one('panel', lambda: not self.bus.name_has_owner(WATCHER))

    def stop_dunst(self):
        self.stop_one('dunst', lambda: not self.bus.name_has_owner(NOTIFICATIONS))

    def dunstctl(self, *args):
        return subprocess.run([rig.tool('dunstctl')] + list(args), env=self.env(),
                              capture_output=True, text=True, timeout=10)

    def displayed(self):
        p = self.dunstctl('count', 'displayed')
        return int(p.stdout.strip() or -1)

    def xdotool(self, *args):
        subprocess.run([rig.tool('xdotool')] + [str(a) for a in args], env=self.env(),
                       check=True, capture_output=True, timeout=10)

    def shot(self, path, crop=None):
        """Screenshot of the whole screen, or of crop = (w, h, x, y)."""
        cmd = ['/usr/bin/import', '-display', self.display, '-window', 'root']
        if crop:
            cmd += ['-crop', '%dx%d+%d+%d' % crop, '+repage']
        subprocess.run(cmd + [path], env=self.env(), check=True, capture_output=True,
                       timeout=20)
        return path

    def opened_urls(self):
        try:
            with open(self.path('opened-urls')) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def stop(self):
        if self.bus is not None:
            self.bus.close()
            self.bus = None
        for name in ('dunst', 'panel', 'xvfb', 'dbus'):
            p = self.procs.pop(name, None)
            if p is not None:
                _kill_session(p)


def _session_members(sid):
    pids = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            if int(fields[3]) == sid:      # field 6 of stat: the session id
                pids.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def _kill_session(p):
    """SIGTERM to every member of p's session (p leads it), SIGKILL after 5 s."""
    sid = p.pid
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for pid in _session_members(sid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + wait
        while _session_members(sid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not _session_members(sid):
            return


def pixels(png, crop=None):
    """(width, height, [(r, g, b), ...]) of a PNG through ImageMagick's txt: format."""
    cmd = ['/usr/bin/convert', png]
    if crop:
        cmd += ['-crop', '%dx%d+%d+%d' % crop, '+repage']
    out = subprocess.run(cmd + ['-depth', '8', 'txt:-'], capture_output=True, text=True,
                         check=True, timeout=30).stdout.splitlines()
    w = h = 0
    px = []
    for line in out[1:]:
        pos, rest = line.split(':', 1)
        x, y = (int(v) for v in pos.split(','))
        rgb = rest.split('(', 1)[1].split(')', 1)[0].split(',')[:3]
        px.append(tuple(int(float(v)) for v in rgb))
        w, h = max(w, x + 1), max(h, y + 1)
    return w, h, px
