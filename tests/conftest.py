"""Test order: pytest-randomly shuffles modules and tests (seeded, printed at the top of the
run) so hidden order dependencies surface, then this hook moves the fault tests last, in that
shuffled order. Fault tests kill and restart Kafka, PostgreSQL and the services; run between
integration tests they would break connections and consumer groups those tests rely on.

The counts the fault tests print (what was killed, how long recovery took, how many leads,
decisions, escalations and callbacks came through once) are shown at the end of the run, in
the "fault test figures" section, even when they pass: pytest keeps them otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

FAULTS = Path(__file__).parent / "faults"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.is_relative_to(FAULTS))  # stable: keeps the shuffle


_FIGURES: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed and report.capstdout and "tests/faults/" in report.nodeid:
        _FIGURES.append((report.nodeid, report.capstdout.strip()))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault test figures")
    for nodeid, text in _FIGURES:
        terminalreporter.write_line(nodeid)
        for line in text.splitlines():
            terminalreporter.write_line("  " + line)
