"""What the demo's parts print: colours on a terminal, a checked step, the last lines."""

import sys
import time

if sys.stdout.isatty():
    B, G, R, N = '\033[1m', '\033[32m', '\033[31m', '\033[0m'
else:
    B = G = R = N = ''


class Unexpected(Exception):
    pass


def ok(text):
    print('    %sok%s: %s' % (G, N, text), flush=True)


def check(cond, text, detail=''):
    if not cond:
        raise Unexpected('%s%s' % (text, (' (%s)' % detail) if detail else ''))
    ok(text)


def finish(part, t_start, failed, success):
    """The part's last lines; its exit status."""
    print('The %s part took %.1f s.' % (part, time.monotonic() - t_start))
    if failed:
        print('%s%sUNEXPECTED%s: %s' % (R, B, N, failed))
        return 1
    print('%s%s%s%s' % (G, B, success, N))
    return 0
