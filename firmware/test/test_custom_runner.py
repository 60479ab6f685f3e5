"""PlatformIO custom test runner for firmware/test (tiny_test.h output).

`pio test -e host -e qemu_m4` builds each firmware/test/test_<unit>/ with the
board support and runs it: the host program directly, the qemu_m4 ELF under
qemu-system-arm (the env's test_testing_command, with a timeout; semihosting
ends QEMU with main's return value). This runner reads the program's output:

    RUN <test function>          one test case starts
    FAIL <file>:<line>: <expr>   a check in the current case failed
    N passed, N failed           the closing summary (TinyTestSummary())

Each RUN becomes a PlatformIO test case, passed unless a FAIL line followed it.
A program that ends without the summary (crash, hang ended by the timeout,
fault on the emulator) is reported as an error, never as a pass.
"""

import re

import click
from platformio.public import TestCase, TestCaseSource, TestRunnerBase, TestStatus
from platformio.test.exception import UnitTestError

RUN_RE = re.compile(r"^RUN (?P<name>\S+)$")
FAIL_RE = re.compile(r"^FAIL (?P<file>[^:\s]+):(?P<line>\d+): (?P<expr>.*)$")
SUMMARY_RE = re.compile(r"^(?P<passed>\d+) passed, (?P<failed>\d+) failed$")


class CustomTestRunner(TestRunnerBase):
    """Turns tiny_test.h lines into PlatformIO test cases."""

    def setup(self):
        self._current = None
        self._current_failures = []
        self._summary = None

    def _close_current(self):
        if self._current is None:
            return
        if not self._current_failures:
            self.test_suite.add_case(TestCase(name=self._current, status=TestStatus.PASSED))
        for file_name, line, expr in self._current_failures:
            self.test_suite.add_case(
                TestCase(
                    name=self._current,
                    status=TestStatus.FAILED,
                    message=expr,
                    stdout=f"FAIL {file_name}:{line}: {expr}",
                    source=TestCaseSource(filename=file_name, line=line),
                )
            )
        self._current = None
        self._current_failures = []

    def on_testing_line_output(self, line):
        if self.options.verbose:
            click.echo(line, nl=False)
        text = line.strip()
        if not text:
            return
        match = RUN_RE.match(text)
        if match:
            self._close_current()
            self._current = match.group("name")
            if not self.options.verbose:
                click.echo(text)
            return
        match = FAIL_RE.match(text)
        if match:
            if self._current is None:
                self._current = "checks_outside_TT_RUN"
            self._current_failures.append(
                (match.group("file"), int(match.group("line")), match.group("expr"))
            )
            click.secho(text, fg="red")
            return
        match = SUMMARY_RE.match(text)
        if match:
            self._close_current()
            self._summary = (int(match.group("passed")), int(match.group("failed")))
            click.echo(text)
            if self._summary[0] + self._summary[1] == 0:
                self._add_error("the test ran no check")
            self.test_suite.on_finish()
            return
        if not self.options.verbose:
            # Other output (prints of the test itself) stays visible.
            click.echo(text)

    def _add_error(self, reason):
        self.test_suite.add_case(
            TestCase(
                name=f"{self.test_suite.env_name}:{self.test_suite.test_name}",
                status=TestStatus.ERRORED,
                exception=UnitTestError(reason),
            )
        )

    def stage_testing(self):
        try:
            result = super().stage_testing()
        except UnitTestError:
            # A non-zero exit after the summary only repeats its failures.
            if self._summary is not None and self._summary[1] > 0:
                return None
            raise
        if self._summary is None and not self.options.without_testing:
            self._close_current()
            raise UnitTestError(
                "the program ended without the 'N passed, N failed' summary "
                "(crash, fault or timeout)"
            )
        return result
