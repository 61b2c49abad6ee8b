#!/usr/bin/python3
"""Run one integration test module and print TAP, so meson counts each test method.

usage: run.py tests/integration/test_x.py [-k PATTERN]"""

import importlib.util
import os
import sys
import time
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0
        self.t0 = 0.0

    def _emit(self, line):
        sys.stdout.write(line + '\n')
        sys.stdout.flush()

    def _comment(self, text):
        for line in text.rstrip('\n').splitlines():
            self._emit('# ' + line)

    @staticmethod
    def _name(test):
        return '%s.%s' % (type(test).__name__, test._testMethodName)

    def startTest(self, test):
        super().startTest(test)
        self.t0 = time.monotonic()
        self.problems = []     # (kind, text) for this test, subtests included
        self.verdict = None    # 'ok', 'skip', 'xfail', 'xpass'
        sys.stderr.write('--- %s\n' % self._name(test))
        sys.stderr.flush()

    def stopTest(self, test):
        super().stopTest(test)
        self.n += 1
        took = ' (%.1fs)' % (time.monotonic() - self.t0)
        name = self._name(test)
        if self.problems:
            self._emit('not ok %d - %s%s' % (self.n, name, took))
            for kind, text in self.problems:
                self._comment('%s:\n%s' % (kind, text))
        elif self.verdict == 'skip':
            # A skipped test is a failure in CI (STYLE.md rule 11).
            self._emit('not ok %d - %s # skipped tests are failures: %s'
                       % (self.n, name, self.skip_reason))
        elif self.verdict == 'xpass':
            self._emit('not ok %d - %s # unexpected success' % (self.n, name))
        else:
            self._emit('ok %d - %s%s' % (self.n, name, took))

    def _err(self, kind, err, sub=None):
        text = ''.join(traceback.format_exception(*err))
        if sub is not None:
            kind = '%s in %s' % (kind, sub._subDescription())
        self.problems.append((kind, text))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._err('FAIL', err)

    def addError(self, test, err):
        super().addError(test, err)
        self._err('ERROR', err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failure = issubclass(err[0], test.failureException)
            self._err('FAIL' if failure else 'ERROR', err, subtest)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.verdict = 'skip'
        self.skip_reason = reason

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.verdict = 'xfail'

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.verdict = 'xpass'


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    path = os.path.abspath(argv[0])
    pattern = argv[2] if len(argv) >= 3 and argv[1] == '-k' else None
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    try:
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        tests = list(_flatten(unittest.defaultTestLoader.loadTestsFromModule(mod)))
    except Exception:  # noqa: BLE001
        print('1..1')
        print('not ok 1 - load %s' % name)
        for line in traceback.format_exc().splitlines():
            print('# ' + line)
        sys.stderr.write(traceback.format_exc())  # meson --print-errorlogs shows stderr
        return 1
    if pattern:
        tests = [t for t in tests if pattern in t.id()]
    print('1..%d' % len(tests), flush=True)
    result = TapResult()
    for t in tests:
        t(result)
    return 0 if result.wasSuccessful() and not result.skipped else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
