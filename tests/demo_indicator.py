#!/usr/bin/python3
"""The desktop part of the demo (issue 11), as root: the real threatstop-ddr-indicator on
a real, headless desktop (a private session bus, Xvfb, xfce4-panel with its
StatusNotifierItem host, dunst for notifications) following the real daemon through the
roaming story: a hotel Wi-Fi, its captive portal, the login, the ThreatSTOP service going
down and coming back, the daemon stopping. A screenshot of the screen at each step goes
to OUT (default: demo-output/indicator/), and every notification the desktop received is
listed. The rig is the indicator's integration test's (tests/integration/trayrig.py,
test_indicator.py) in the roaming rig's private network + mount namespace.

usage: tests/demo_indicator.py [--build DIR] [--out DIR]"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'integration'))

from demo_out import B, N, R, Unexpected, check, finish  # noqa: E402


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description='The desktop part of the demo (needs root).')
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'demo-output', 'indicator'))
    a = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    if os.geteuid() != 0:
        print('%sThe desktop part needs root (private namespaces): run it with sudo.%s' % (R, N))
        return 1
    os.environ['DDR_BUILD_DIR'] = os.path.abspath(a.build)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith('.png'):
            os.remove(os.path.join(out, f))
    os.environ['DDR_INDICATOR_SHOTS'] = out
    t_start = time.monotonic()
    try:
        import roamrig          # moves this process into new namespaces
        import test_indicator
        from roamrig import LOGIN_URL, WIFI_ID
    except ImportError as e:
        print('%sThe desktop part cannot start: %s (./ddr-dev demo installs what it needs).%s'
              % (R, e, N))
        return 1

    class Desk(test_indicator.IndicatorTestCase):
        def runTest(self):
            pass

    shots = []
    failed = None
    case = Desk()

    bubble = (360, 130, 280, 34)     # where dunst draws (top right, under the panel)

    def shot(name, unlike=None, new_bubble_since=None):
        """A screenshot once the panel shows the new icon (unlike: differs from that
        picture's) and, with new_bubble_since, once dunst has redrawn its bubble."""
        def ready():
            path = case.shot_shown(name, unlike=unlike)
            if new_bubble_since is None:
                return path
            a = test_indicator.trayrig.pixels(path, bubble)[2]
            b = test_indicator.trayrig.pixels(new_bubble_since, bubble)[2]
            return path if sum(1 for x, y in zip(a, b) if x != y) > 50 else None
        path = roamrig.rig.wait_until(ready, 10, interval=0.1, what='the screen of ' + name)
        shots.append(path)
        print('    screenshot: %s' % path)
        return path

    def step(n, title):
        print('\n%s-- %d. %s%s' % (B, n, title, N))

    def menu():
        return ' | '.join(l if enabled else '(%s)' % l for _, l, enabled in case.layout())

    try:
        case.setUp()
        step(1, 'A desktop: Xvfb, xfce4-panel (StatusNotifierItem host), dunst; the daemon '
             'on the hotel Wi-Fi, protected; the indicator starts')
        print('    desktop up after %d ms (display %s)' % (case.host.ready_ms, case.host.display))
        # polkit (the mock) answers as for an admin's session: Pause is offered
        case.allow(test_indicator.busrig.POLKIT_PAUSE)
        d, ms = case.start_roam_daemon(wait_state='protected')
        case.start_indicator()
        rig_wait = roamrig.rig.wait_until
        rig_wait(case.registered, 10, what='the item registered in the panel')
        case.wait_icon('protected')
        p = case.item_props()
        check(True, 'icon %s, status %s' % (p['IconName'], p['Status']))
        print('    tooltip: %s' % str(p['ToolTip'][3]).replace('\n', ' / '))
        print('    menu: %s' % menu())
        protected = shot('1-protected')

        step(2, 'A captive portal: NetworkManager says PORTAL, the probe is redirected')
        def portal():         # a real one: the DoH service does not answer behind it
            case.real_portal()
            case.nm.set_connectivity('PORTAL')
        case.state_to_icon('portal', 'portal', 'portal', portal)
        test_indicator.pump_until(lambda: 'Log in to %s…' % WIFI_ID in case.labels(), 10,
                                  'the login entry')
        note = case.mon.wait('Log in to %s' % WIFI_ID)
        if not note['actions']:
            note = case.mon.wait('Log in to %s' % WIFI_ID, case.mon.calls.index(note) + 1)
        check(note['actions'] == ['default', 'Log in'],
              'notification "%s" with a "Log in" action' % note['summary'])
        print('    menu: %s' % menu())
        portal_png = shot('2-portal', unlike=protected)

        step(3, 'The person opens the menu in the panel (a real click)')
        case.host.xdotool('mousemove', 13, 13, 'click', 1)
        time.sleep(0.5)
        shots.append(case.shot('3-portal-menu'))
        print('    screenshot: %s' % shots[-1])
        case.host.xdotool('key', 'Escape')
        case.host.xdotool('mousemove', 320, 200)     # no tooltip over the next pictures

        step(4, 'The person clicks "Log in" on the notification: the browser opens the '
             'portal\'s page; after the login the laptop is protected again')
        case.host.dunstctl('action', '0')
        rig_wait(lambda: case.host.opened_urls() == [LOGIN_URL], 10, what='the browser')
        check(True, 'the default browser was asked to open %s' % LOGIN_URL)
        n = len(case.mon.calls)
        def login():
            case.nm.set_check_result('FULL')
            case.portal_login()
        case.state_to_icon('protected(login)', 'protected', 'protected', login)
        back = case.mon.wait('Protected again', n)
        check(back['replaces_id'] == note['id'],
              '"Protected again" replaced the portal notification (id %d)' % note['id'])
        again = shot('4-protected-again', unlike=portal_png, new_bubble_since=portal_png)

        step(5, 'The ThreatSTOP service stops answering: not protected; after %d s the '
             'icon asks for attention and a notification says why'
             % test_indicator.ATTENTION_S)
        n = len(case.mon.calls)
        def down():
            case.unbound.stop()
            case.relay('allowed.test')
        case.state_to_icon('unreachable', 'unreachable', 'unprotected', down)
        off = case.mon.wait('Protection is off', n, timeout=15)
        check(True, 'notification "Protection is off": %s' % off['body'])
        down_png = shot('5-service-down', unlike=protected, new_bubble_since=again)

        step(6, 'The service answers again')
        n = len(case.mon.calls)
        case.state_to_icon('protected(service back)', 'protected', 'protected',
                           case.unbound.start)
        case.mon.wait('Protected again', n, timeout=15)
        back_png = shot('6-service-back', unlike=down_png, new_bubble_since=down_png)

        step(7, 'The daemon stops (as at uninstall or a crash): the indicator shows it')
        n = len(case.mon.calls)
        d.stop()
        case.wait_icon('stopped')
        case.mon.wait('Protection is off', n, timeout=15)
        shot('7-daemon-stopped', unlike=protected, new_bubble_since=back_png)

        print('\n%sNotifications the desktop received (summary / body / actions, '
              'replaces_id -> id):%s' % (B, N))
        for c in case.mon.calls:
            print('    [%s -> %s] %s / %s / %s' % (c['replaces_id'], c['id'], c['summary'],
                                                   c['body'].replace('\n', ' '), c['actions']))
    except (Unexpected, AssertionError) as e:
        failed = str(e)
    finally:
        if failed and case.indicator is not None:
            sys.stderr.write('\n----- the indicator\'s log (last 30 lines) -----\n%s\n'
                             % '\n'.join(case.log().splitlines()[-30:]))
        try:
            case.doCleanups()
        except AssertionError as e:
            failed = failed or str(e)

    print('\nScreenshots (%d) in %s:' % (len(shots), out))
    for s in shots:
        print('    ' + s)
    if roamrig.REACTIONS:
        print('Daemon State -> indicator NewIcon (ms): ' +
              ', '.join('%s %d' % r for r in roamrig.REACTIONS))
    return finish('desktop', t_start, failed,
                  'Indicator: every step showed on the desktop as described.')


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
