#!/usr/bin/python3
"""Issue 11, the desktop indicator: the real threatstop-ddr-indicator between the real
daemon (roaming on, the NM mock, in the roaming rig's namespaces: roamrig.py) and a real
desktop (trayrig.py: Xvfb + xfce4-panel's StatusNotifierWatcher/host + dunst) on a
private session bus. Everything is asserted through D-Bus (the item's properties, its
dbusmenu layout, Event clicks that reach the daemon, the Notify calls dunst receives,
eavesdropped on the session bus) and through screenshots (not blank; protected and
portal differ).

The time from the daemon's State change (PropertiesChanged on the system bus) to the
item's NewIcon on the session bus is printed as `# reaction State->NewIcon(...): N ms`.

DDR_INDICATOR_SHOTS=DIR keeps the screenshots there (the demo uses it)."""

import os
import re
import shutil
import subprocess
import time

import dbus
from gi.repository import GLib

import busrig
import rig
import roamrig
import trayrig
from roamrig import LOGIN_URL, WIFI_ID, RoamTestCase

SNI = 'org.kde.StatusNotifierItem'
MENU = 'com.canonical.dbusmenu'
PROPS = 'org.freedesktop.DBus.Properties'
NOTIFY = 'org.freedesktop.Notifications'
ICONS = os.path.join(busrig.SRC, 'data', 'icons')
ATTENTION_S = 2           # --attention-after for the tests (30 s by default)
ICON_BOX = (32, 32, 0, 0)  # where xfce4-sntray-plugin draws the first item

NOT_ALLOWED = 'You are not allowed to pause protection; ask an administrator.'


def indicator_binary():
    return rig.built('indicator binary', 'src', 'indicator', 'threatstop-ddr-indicator')


def pump_until(cond, timeout, what):
    """Run the GLib main context (dbus-python's signals) until cond() is true. Blocks
    in the poll, so a signal is time-stamped when it arrives, not at the next tick."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.1f s waiting for %s' % (timeout, what))
        fired = []
        tid = GLib.timeout_add(20, lambda: fired.append(1) or False)
        ctx.iteration(True)
        if not fired:
            GLib.source_remove(tid)


class NotifyMonitor:
    """Every Notify call on the session bus (eavesdropped, as dbus-monitor does) with
    the id the server answered; and the item's NewIcon signals with arrival times."""

    def __init__(self, address):
        self.bus = dbus.bus.BusConnection(address)
        self.calls = []          # dicts: app, replaces_id, icon, summary, body, actions, id
        self.by_serial = {}
        self.new_icons = []      # monotonic times
        self.bus.add_match_string("type='method_call',interface='%s',member='Notify',"
                                  "eavesdrop='true'" % NOTIFY)
        self.bus.add_match_string("type='method_return',eavesdrop='true'")
        self.bus.add_message_filter(self._filter)
        self.bus.add_signal_receiver(lambda *a: self.new_icons.append(time.monotonic()),
                                     'NewIcon', SNI)

    def _filter(self, bus, msg):
        if msg.get_type() == 1 and msg.get_member() == 'Notify' \
                and msg.get_interface() == NOTIFY:
            a = msg.get_args_list()
            call = dict(app=str(a[0]), replaces_id=int(a[1]), icon=str(a[2]),
                        summary=str(a[3]), body=str(a[4]), actions=[str(x) for x in a[5]],
                        id=None)
            self.calls.append(call)
            self.by_serial[(msg.get_sender(), msg.get_serial())] = call
            # handled: else libdbus answers the eavesdropped call with UnknownMethod,
            # and that error can reach the indicator before dunst's reply
            return dbus.lowlevel.HANDLER_RESULT_HANDLED
        elif msg.get_type() == 2:
            call = self.by_serial.pop((msg.get_destination(), msg.get_reply_serial()), None)
            if call is not None:
                call['id'] = int(msg.get_args_list()[0])
        return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED

    def wait(self, summary, since=0, timeout=10):
        """The first Notify at index >= since with that summary, once answered."""
        def found():
            for c in self.calls[since:]:
                if c['summary'] == summary and c['id'] is not None:
                    return c
            return None
        return pump_until(found, timeout, 'a notification %r (seen: %r)' % (
            summary, [c['summary'] for c in self.calls]))

    def close(self):
        self.bus.close()


class IndicatorTestCase(RoamTestCase):
    """The roaming rig + a desktop + the indicator (start_indicator())."""

    panel_at_start = True

    def setUp(self):
        self.host = self.indicator = self.mon = None
        super().setUp()
        self.host = trayrig.TrayHost(self.path('desktop'))
        self.addCleanup(self.host.stop)
        self.host.start(panel=self.panel_at_start)
        print('# desktop ready after %d ms' % self.host.ready_ms, flush=True)
        self.mon = NotifyMonitor(self.host.address)
        self.addCleanup(self.mon.close)
        self.shots = os.environ.get('DDR_INDICATOR_SHOTS') or self.path('shots')
        os.makedirs(self.shots, exist_ok=True)

    # the indicator ----------------------------------------------------------

    def start_indicator(self):
        env = self.host.env()
        env.update(G_DEBUG='fatal-criticals', G_MESSAGES_DEBUG='all',
                   ASAN_OPTIONS='abort_on_error=1',
                   DBUS_SYSTEM_BUS_ADDRESS=self.bus_rig.address)
        self.indicator_log = self.path('indicator.log')
        log = open(self.indicator_log, 'ab')
        self.indicator = subprocess.Popen(
            [indicator_binary(), '-v', '--attention-after=%d' % ATTENTION_S,
             '--icon-theme-path=' + ICONS],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.addCleanup(self.stop_indicator)
        self.item_name = 'org.kde.StatusNotifierItem-%d-1' % self.indicator.pid
        rig.wait_until(lambda: self.host.bus.name_has_owner(self.item_name), 10,
                       what='the indicator on the session bus')
        return self.indicator

    def stop_indicator(self):
        if self.indicator is None:
            return
        if self.indicator.poll() is None:
            self.indicator.terminate()
        rc = self.indicator.wait(10)
        self.indicator = None
        log = rig.read_log(self.indicator_log)
        for bad in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:', '-CRITICAL **',
                    '-WARNING **', '-ERROR **'):
            self.assertNotIn(bad, log, 'in the indicator log:\n' + log[-3000:])
        self.assertEqual(rc, 0, 'the indicator exited with %d:\n%s' % (rc, log[-3000:]))

    def log(self):
        return rig.read_log(self.indicator_log)

    def registered(self):
        return any(i.startswith(self.item_name) for i in self.host.registered_items())

    def item(self):
        return self.host.bus.get_object(self.item_name, '/StatusNotifierItem', introspect=False)

    def item_props(self):
        return self.item().GetAll(SNI, dbus_interface=PROPS)

    def menu(self):
        path = str(self.item_props()['Menu'])
        return dbus.Interface(self.host.bus.get_object(self.item_name, path, introspect=False),
                              MENU)

    def layout(self):
        """The visible entries: [(id, label or '-', enabled)]."""
        rev, (root, props, children) = self.menu().GetLayout(0, -1, dbus.Array([], 's'))
        self.assertEqual(str(props['children-display']), 'submenu')
        out = []
        for c in children:
            i, p, _ = c
            if not bool(p.get('visible', True)):
                continue
            label = '-' if str(p.get('type', '')) == 'separator' else str(p['label'])
            out.append((int(i), label, bool(p.get('enabled', True))))
        return out

    def labels(self):
        return [l for _, l, _ in self.layout()]

    def entry(self, label):
        for i, l, enabled in self.layout():
            if l == label:
                return i, enabled
        raise AssertionError('no menu entry %r in %r' % (label, self.labels()))

    def click(self, label):
        i, _ = self.entry(label)
        self.menu().Event(i, 'clicked', dbus.String('', variant_level=1), dbus.UInt32(0))

    def wait_item(self, pred, what, timeout=10):
        return pump_until(lambda: pred(self.item_props()), timeout, what)

    def wait_icon(self, icon, timeout=10):
        self.wait_item(lambda p: str(p['IconName']) == 'threatstop-ddr-%s-symbolic' % icon,
                       'the icon %s' % icon, timeout)

    def state_to_icon(self, label, state, icon, act):
        """act(); wait for State (system bus) and the icon (session bus); note the time
        from PropertiesChanged(State) to the NewIcon that followed it."""
        n_icons = len(self.mon.new_icons)
        t0 = time.monotonic()
        act()
        t_state = self.wait_state(state, t0, 15)
        # both signals may arrive in the same poll and be dispatched in either order
        t_icon = pump_until(lambda: self.mon.new_icons[n_icons:], 10,
                            'NewIcon after State %s' % state)[0]
        roamrig.reaction('State->NewIcon(%s)' % label, t_state, max(t_icon, t_state))
        self.wait_icon(icon)

    # the screen ---------------------------------------------------------------

    def shot(self, name):
        path = os.path.join(self.shots, name + '.png')
        self.host.shot(path)
        return path

    def icon_pixels(self, path):
        w, h, px = trayrig.pixels(path, ICON_BOX)
        return px

    def icon_drawn(self, path):
        return len([p for p in self.icon_pixels(path) if sum(p) < 3 * 110]) > 15

    def differs(self, a, b, min_pixels=10):
        pa, pb = self.icon_pixels(a), self.icon_pixels(b)
        return sum(1 for x, y in zip(pa, pb) if x != y) >= min_pixels

    def shot_shown(self, name, unlike=None, timeout=5):
        """A screenshot once the panel shows an icon (unlike: that differs from the one
        in that screenshot): the panel redraws a moment after NewIcon."""
        def good():
            path = self.shot(name)
            return self.icon_drawn(path) and (unlike is None or self.differs(unlike, path)) \
                and path
        try:
            return rig.wait_until(good, timeout, interval=0.1, what='the icon on screen')
        except AssertionError:
            raise AssertionError('no icon%s drawn in the panel: %s' % (
                ' different from %s' % unlike if unlike else '',
                os.path.join(self.shots, name + '.png'))) from None


class TestIndicatorPortal(IndicatorTestCase):

    def test_portal_login_story(self):
        """protected -> portal (login item, notification with a "Log in" action that
        opens PortalUrl in the browser) -> login -> "Protected again" replacing it."""
        self.start_roam_daemon(wait_state='protected')
        self.start_indicator()
        rig.wait_until(self.registered, 10, what='the item registered with the watcher')
        self.wait_icon('protected')
        p = self.item_props()
        self.assertEqual(str(p['Category']), 'SystemServices')
        self.assertEqual(str(p['Id']), 'threatstop-ddr')
        self.assertEqual(str(p['Title']), 'ThreatSTOP DNS Defense')
        self.assertEqual(str(p['Status']), 'Active')
        self.assertTrue(bool(p['ItemIsMenu']))
        self.assertEqual(str(p['IconThemePath']), ICONS)
        tip = p['ToolTip']
        self.assertEqual(str(tip[2]), 'ThreatSTOP DNS Defense')
        self.assertTrue(str(tip[3]).startswith('Protected on %s\n' % WIFI_ID), tip[3])
        self.assertEqual(self.labels(), ['Protected on %s' % WIFI_ID, '-',
                                         'Pause for 15 minutes', 'Pause for 1 hour', '-',
                                         'Check again', 'Details…'])
        self.assertEqual(self.entry('Protected on %s' % WIFI_ID)[1], False)
        protected_png = self.shot_shown('1-protected')
        self.assertEqual(self.mon.calls, [], 'no notification while protected')

        # a captive portal
        def portal():         # a real one: the DoH service does not answer behind it
            self.real_portal()
            self.nm.set_connectivity('PORTAL')
        self.state_to_icon('portal', 'portal', 'portal', portal)
        rig.wait_until(lambda: self.prop('PortalUrl') == LOGIN_URL, 5, what='PortalUrl')
        pump_until(lambda: 'Log in to %s…' % WIFI_ID in self.labels(), 5, 'the login entry')
        self.assertEqual(str(self.item_props()['Status']), 'NeedsAttention')
        first = self.mon.wait('Log in to %s' % WIFI_ID)
        # NM's verdict may come before the probe has the portal's address: then the
        # notice is replaced once it can offer the login
        note = first if first['actions'] else self.mon.wait(
            'Log in to %s' % WIFI_ID, self.mon.calls.index(first) + 1)
        self.assertEqual(note['actions'], ['default', 'Log in'])
        if note is not first:
            self.assertEqual(note['replaces_id'], first['id'], '%r\n%s' % (self.mon.calls, self.log()[-3000:]))
        self.assertEqual(note['app'], 'ThreatSTOP DNS Defense')
        self.assertEqual(note['icon'], 'threatstop-ddr-portal-symbolic')
        rig.wait_until(lambda: self.host.displayed() == 1, 5, what='dunst showing it')
        portal_png = self.shot_shown('2-portal-notification', unlike=protected_png)

        # the notification's action, invoked in dunst, opens the login page
        self.assertEqual(self.host.dunstctl('action', '0').returncode, 0)
        rig.wait_until(lambda: self.host.opened_urls() == [LOGIN_URL], 10,
                       what='the browser asked to open %s (opened: %r)'
                       % (LOGIN_URL, self.host.opened_urls()))
        # ...and so does the menu entry, clicked for real in the panel's menu: the menu
        # the host built while protected must now show the login as its second row
        self.host.xdotool('mousemove', 13, 13, 'click', 1)
        rig.wait_until(lambda: 'menu event 0 opened' in self.log(), 5, what='the menu open')
        time.sleep(0.4)         # the menu's animation: a picture, not a condition
        self.shot('3-portal-menu')
        self.host.xdotool('mousemove', 60, 42, 'click', 1)
        rig.wait_until(lambda: self.host.opened_urls() == [LOGIN_URL] * 2, 10,
                       what='the second row of the panel\'s menu opening the login page '
                       '(opened: %r)' % self.host.opened_urls())
        self.host.xdotool('mousemove', 320, 200)

        # logged in: protected again, the bubble replaced (never a second one)
        def login():
            self.nm.set_check_result('FULL')
            self.portal_login()
        n = len(self.mon.calls)
        self.state_to_icon('protected(login)', 'protected', 'protected', login)
        back = self.mon.wait('Protected again', n)
        self.assertEqual(back['replaces_id'], note['id'])
        self.assertEqual(back['actions'], [])
        pump_until(lambda: 'Log in to %s…' % WIFI_ID not in self.labels(), 5,
                   'the login entry gone')
        rig.wait_until(lambda: self.host.displayed() == 1, 5, what='one bubble')
        self.assertEqual(str(self.item_props()['Status']), 'Active')
        self.shot_shown('4-protected-again', unlike=portal_png)


class TestIndicatorMenu(IndicatorTestCase):

    def test_menu_calls_the_daemon(self):
        """Pause / Resume / Check again / Details through dbusmenu Event, as a panel
        sends them; polkit (the mock) says yes, then no."""
        self.allow(busrig.POLKIT_PAUSE)
        self.start_roam_daemon(wait_state='protected')
        self.start_indicator()
        self.wait_icon('protected')

        t_wall = time.time()
        self.state_to_icon('paused', 'paused', 'paused',
                           lambda: self.click('Pause for 15 minutes'))
        until = int(self.prop('PausedUntil'))
        self.assertTrue(t_wall + 15 * 60 - 2 <= until <= time.time() + 15 * 60 + 2, until)
        pump_until(lambda: 'Resume' in self.labels(), 5, 'the Resume entry')
        self.assertNotIn('Pause for 15 minutes', self.labels())
        self.assertTrue(self.labels()[0].startswith('Protection paused until '))
        self.shot_shown('paused')

        self.state_to_icon('protected(resume)', 'protected', 'protected',
                           lambda: self.click('Resume'))
        self.state_to_icon('paused(1 h)', 'paused', 'paused',
                           lambda: self.click('Pause for 1 hour'))
        until = int(self.prop('PausedUntil'))
        self.assertGreaterEqual(until, int(t_wall) + 3600 - 2)
        self.state_to_icon('protected(resume)', 'protected', 'protected',
                           lambda: self.click('Resume'))
        # a pause is the admin's decision: nothing to notify
        self.assertEqual([c['summary'] for c in self.mon.calls], [])

        # Check again = Reprobe: the daemon probes the portal URL once more
        n = len(self.portal.requests)
        self.click('Check again')
        rig.wait_until(lambda: len(self.portal.requests) > n, 10,
                       what='a new portal probe after Reprobe')

        self.click('Details…')
        d = self.mon.wait('ThreatSTOP DNS Defense')
        for line in ('State: Protected on %s' % WIFI_ID, 'Network: %s' % WIFI_ID,
                     'DNS backend: networkmanager', 'Service: https://'):
            self.assertIn(line, d['body'])
        # a host that activates the item instead of opening its menu gets the same
        n = len(self.mon.calls)
        self.item().Activate(dbus.Int32(5), dbus.Int32(5), dbus_interface=SNI)
        self.assertEqual(self.mon.wait('ThreatSTOP DNS Defense', n)['body'], d['body'])
        self.item().SecondaryActivate(dbus.Int32(5), dbus.Int32(5), dbus_interface=SNI)
        self.item().Scroll(dbus.Int32(120), 'vertical', dbus_interface=SNI)

        # polkit now says no: the entries are greyed out when the menu opens...
        self.polkit.SetAllowed(dbus.Array([], signature='s'))
        self.menu().AboutToShow(0)
        pump_until(lambda: self.entry('Pause for 15 minutes')[1] is False, 5,
                   'Pause greyed out')
        self.assertIs(self.entry('Pause for 1 hour')[1], False)
        self.assertIs(self.entry('Check again')[1], True)
        # ...and a click that still comes (an old menu) is told in one sentence
        n = len(self.mon.calls)
        self.click('Pause for 15 minutes')
        refused = self.mon.wait(NOT_ALLOWED, n)
        self.assertEqual(refused['body'], '')
        self.assertEqual(self.state(), 'protected')
        self.assertIsNone(self.indicator.poll())
        self.assertIn('Pause refused', self.log())


class TestIndicatorRestarts(IndicatorTestCase):

    panel_at_start = False

    def test_without_watcher_then_restarts(self):
        """No StatusNotifierWatcher: notifications only, said once. Then a panel comes,
        goes and comes back (registered each time); the daemon stops (stopped icon,
        "Protection is off" after the delay) and starts again ("Protected again",
        replacing it); dunst restarts (a fresh bubble, no stale replaces_id)."""
        d, _ = self.start_roam_daemon(wait_state='protected')
        self.start_indicator()
        rig.wait_until(lambda: 'notifications only' in self.log(), 5,
                       what='the notifications-only message')
        self.click('Details…')
        self.mon.wait('ThreatSTOP DNS Defense')
        # the autostart entry and the user unit may both start one: the second leaves
        second = subprocess.run([indicator_binary()], env=dict(
            self.host.env(), DBUS_SYSTEM_BUS_ADDRESS=self.bus_rig.address),
            capture_output=True, text=True, timeout=10)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn('already runs in this session', second.stderr)

        self.host.start_panel()
        rig.wait_until(self.registered, 10, what='the item registered with the new watcher')
        self.host.stop_panel()
        self.host.start_panel()
        rig.wait_until(self.registered, 10, what='the item registered again after a restart')
        self.assertEqual(self.log().count('notifications only'), 1)
        self.wait_icon('protected')
        self.shot_shown('restart-1-protected')

        # the system daemon stops: a state, not an error
        n_icons, n = len(self.mon.new_icons), len(self.mon.calls)
        d.stop()
        self.wait_icon('stopped')
        self.assertIn('not running', str(self.item_props()['ToolTip'][3]))
        self.assertNotIn('Pause for 15 minutes', self.labels())
        off = self.mon.wait('Protection is off', n, timeout=ATTENTION_S + 5)
        self.assertIn('not running', off['body'])
        self.assertEqual(str(self.item_props()['Status']), 'NeedsAttention')
        self.shot_shown('restart-2-daemon-stopped')

        n = len(self.mon.calls)
        self.start_roam_daemon(name='ddrd2', wait_state='protected')
        self.wait_icon('protected')
        back = self.mon.wait('Protected again', n)
        self.assertEqual(back['replaces_id'], off['id'], '%r\n%s' % (self.mon.calls, self.log()))
        self.assertIn('Pause for 15 minutes', self.labels())

        # the notification daemon restarts: a new server knows none of the old ids
        self.host.stop_dunst()
        self.host.start_dunst()
        n = len(self.mon.calls)
        # the bus tells the indicator of the restart before it relays this click
        self.click('Details…')
        fresh = self.mon.wait('ThreatSTOP DNS Defense', n)
        self.assertEqual(fresh['replaces_id'], 0)
        rig.wait_until(lambda: self.host.displayed() == 1, 5, what='the bubble in the new dunst')
        self.assertIsNone(self.indicator.poll())


class TestIndicatorHostileNetwork(IndicatorTestCase):

    network = dict(IndicatorTestCase.network, id='Caf\u00e9_<b>Guest</b> & Co')

    def test_network_name_is_shown_as_text(self):
        """A connection name is hostile data: in the menu it keeps its underscore (not a
        mnemonic), in the tooltip its markup is escaped, and the indicator is idle."""
        self.start_roam_daemon(wait_state='protected')
        self.start_indicator()
        self.wait_icon('protected')
        name = str(self.prop('Network'))
        self.assertEqual(name, 'Caf\u00e9_<b>Guest</b> & Co')
        self.assertEqual(self.labels()[0], 'Protected on Caf\u00e9__<b>Guest</b> & Co')
        self.assertTrue(str(self.item_props()['ToolTip'][3]).startswith(
            'Protected on Caf\u00e9_&lt;b&gt;Guest&lt;/b&gt; &amp; Co\n'))
        # idle: no timers, no polling (the panel may still ask for properties)
        pid = self.indicator.pid

        def switches():     # every thread's (GDBus has its own)
            n = 0
            for t in os.listdir('/proc/%d/task' % pid):
                with open('/proc/%d/task/%s/status' % (pid, t)) as f:
                    n += sum(int(l.split()[1]) for l in f if 'ctxt_switches' in l)
            return n
        samples = []
        for _ in range(4):    # measuring idleness: durations, not conditions
            before = switches()
            time.sleep(0.5)
            samples.append(switches() - before)
        # the first half second still has the panel reading the new item
        print('# indicator idle: context switches per 0.5 s: %r' % samples)
        self.assertLess(sum(samples[1:]), 10, self.log()[-3000:])
