"""The feedback core does no I/O, reads no clock and draws no random numbers: checked on its source."""

from __future__ import annotations

import ast
from pathlib import Path

import handoff_feedback.outcomes

from tests.unit.router.test_purity import ALSO_FORBIDDEN, IO_LIBRARIES, clock_and_file_calls, imported_roots

MODULES = sorted(Path(handoff_feedback.outcomes.__file__).parent.glob("*.py"))


def test_the_outcomes_package_has_its_modules() -> None:
    expected = {"facts", "windows", "segments", "tally", "decisions", "alerts", "signals", "documents"}
    assert expected <= {path.stem for path in MODULES}


def test_feedback_core_imports_nothing_that_reaches_outside() -> None:
    forbidden = IO_LIBRARIES | ALSO_FORBIDDEN
    offenders = {path.name: imported_roots(ast.parse(path.read_text())) & forbidden for path in MODULES}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_feedback_core_reads_no_clock_and_opens_no_file() -> None:
    offenders = {path.name: clock_and_file_calls(ast.parse(path.read_text())) for path in MODULES}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_outcome_logic_reads_under_a_new_group_not_the_skeletons() -> None:
    from handoff_feedback.settings import Settings

    settings = Settings(database_url="postgresql+asyncpg://u:p@127.0.0.1:1/db")
    # The skeleton committed offsets as "handoff-feedback": reusing it would skip its history.
    assert settings.consumer_group == "handoff-feedback-outcomes"
