"""SAL -> SQL: which qualifications are valid, and which are recorded, repeated or refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from handoff_router.assignments.qualification import (
    Conflict,
    Qualification,
    QualificationProblem,
    Verdict,
    check_qualification,
    judge,
    seconds_since_accept,
)
from handoff_router.routing.config import DEFAULT_DISQUALIFICATION_REASONS
from hypothesis import given
from hypothesis import strategies as st

REASONS = DEFAULT_DISQUALIFICATION_REASONS
SQL = Qualification("sql")
NO_BUDGET = Qualification("disqualified", "no_budget")


@pytest.mark.parametrize(
    "asked",
    [
        SQL,
        Qualification("sql", note="demo booked for Tuesday"),
        NO_BUDGET,
        Qualification("disqualified", "chose_competitor", "went with the incumbent"),
        Qualification("disqualified", "other", "company was acquired"),
    ],
)
def test_valid_qualifications_have_no_problem(asked: Qualification) -> None:
    assert check_qualification(asked, REASONS) is None


def test_disqualified_without_a_reason_lists_the_allowed_reasons() -> None:
    problem = check_qualification(Qualification("disqualified"), REASONS)
    assert problem is not None
    assert problem.allowed == REASONS
    assert "needs a reason" in problem.message
    assert "no_budget, no_authority" in problem.message


def test_an_unknown_reason_is_named_and_the_allowed_ones_listed() -> None:
    problem = check_qualification(Qualification("disqualified", "too_tired"), REASONS)
    assert problem == QualificationProblem(
        f"unknown reason 'too_tired'; expected one of: {', '.join(REASONS)}", REASONS
    )


def test_the_configured_reasons_are_the_ones_allowed() -> None:
    assert check_qualification(NO_BUDGET, ["bad_fit", "other"]) is not None
    assert check_qualification(Qualification("disqualified", "bad_fit"), ["bad_fit", "other"]) is None


@pytest.mark.parametrize("note", [None, "", "   "])
def test_other_needs_a_note(note: str | None) -> None:
    problem = check_qualification(Qualification("disqualified", "other", note), REASONS)
    assert problem is not None
    assert "needs a note" in problem.message


def test_a_rejection_reason_is_no_disqualification_reason() -> None:
    assert check_qualification(Qualification("disqualified", "not_icp"), REASONS) is not None


def test_sql_takes_no_reason() -> None:
    problem = check_qualification(Qualification("sql", "no_budget"), REASONS)
    assert problem is not None
    assert "takes no reason" in problem.message


def test_an_accepted_unqualified_assignment_is_recorded() -> None:
    assert judge("accepted", None, SQL) is Verdict.RECORD
    assert judge("accepted", None, NO_BUDGET) is Verdict.RECORD


@pytest.mark.parametrize("status", ["pending", "rejected", "reassigned"])
def test_only_an_accepted_lead_can_be_qualified(status: str) -> None:
    verdict = judge(status, None, SQL)
    assert isinstance(verdict, Conflict)
    assert "only an accepted lead can be qualified" in verdict.message
    assert ("not accepted yet" in verdict.message) == (status == "pending")


@pytest.mark.parametrize(
    "recorded",
    [SQL, NO_BUDGET, Qualification("disqualified", "other", "acquired"), Qualification("sql", note="hot")],
)
def test_the_same_qualification_again_is_a_repeat(recorded: Qualification) -> None:
    assert judge("accepted", recorded, recorded) is Verdict.REPEAT


def test_blank_and_missing_notes_are_the_same() -> None:
    assert (
        judge("accepted", Qualification("sql", note=None), Qualification("sql", note=" ")) is Verdict.REPEAT
    )


@pytest.mark.parametrize(
    ("recorded", "asked", "said"),
    [
        (SQL, NO_BUDGET, "already qualified as sql"),
        (NO_BUDGET, SQL, "already qualified as disqualified (no_budget)"),
        (
            NO_BUDGET,
            Qualification("disqualified", "no_need"),
            "already qualified as disqualified (no_budget)",
        ),
        (Qualification("sql", note="hot"), Qualification("sql", note="cold"), "already qualified as sql"),
    ],
)
def test_a_different_qualification_conflicts_with_the_recorded_one(
    recorded: Qualification, asked: Qualification, said: str
) -> None:
    verdict = judge("accepted", recorded, asked)
    assert isinstance(verdict, Conflict)
    assert said in verdict.message


qualifications = st.builds(
    Qualification,
    st.sampled_from(["sql", "disqualified"]),
    st.one_of(st.none(), st.sampled_from(REASONS)),
    st.one_of(st.none(), st.text(max_size=5)),
)


@given(
    status=st.sampled_from(["pending", "accepted", "rejected", "reassigned"]),
    recorded=st.one_of(st.none(), qualifications),
    asked=qualifications,
)
def test_a_qualification_is_recorded_at_most_once_and_only_after_acceptance(
    status: str, recorded: Qualification | None, asked: Qualification
) -> None:
    verdict = judge(status, recorded, asked)
    assert (verdict is Verdict.RECORD) == (status == "accepted" and recorded is None)
    if verdict is Verdict.REPEAT:
        assert recorded is not None
        assert recorded.same_as(asked)


def test_seconds_since_accept_is_never_negative() -> None:
    accepted = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert seconds_since_accept(accepted, accepted + timedelta(hours=2)) == 7200.0
    assert seconds_since_accept(accepted, accepted - timedelta(seconds=1)) == 0.0
