"""The event models of CONTRACT §3: strict on the fields it names, open to the ones it doesn't."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from handoff_shared import events
from handoff_shared.events import (
    EVENT_TYPES,
    LeadAssigned,
    MqlCreated,
    format_rfc3339,
    parse_rfc3339,
)
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.unit.shared.samples import EARLIEST, LATEST, data_of, mql


def problems(model: type[Any], data: dict[str, Any]) -> dict[str, str]:
    """Each field path the model refuses, with pydantic's message."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {".".join(str(part) for part in error["loc"]): error["msg"] for error in caught.value.errors()}


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_sample_of_every_event_type_validates_and_dumps_back_as_it_came(event_type: str) -> None:
    data = data_of(event_type)

    model = EVENT_TYPES[event_type].model_validate(data)

    assert model.model_dump(mode="json", exclude_none=True) == data


def test_event_types_are_the_contract_names() -> None:
    assert set(EVENT_TYPES) == {
        "mql.created",
        "lead.assigned",
        "lead.accepted",
        "lead.rejected",
        "lead.escalated",
        "lead.qualified",
        "scoring.lead_outcome",
        "scoring.feedback_snapshot",
        "scoring.acceptance_alert",
        "routing.config_applied",  # an extension beyond the contract's names
    }


def test_unknown_fields_are_kept_at_every_level() -> None:
    data = mql() | {"utm_medium": "email", "company": {"domain": "acme.io", "hq": "Berlin"}}
    assigned = data_of(events.LEAD_ASSIGNED) | {"config_version": 7}

    lead = MqlCreated.model_validate(data)
    assignment = LeadAssigned.model_validate(assigned)

    assert lead.model_dump(mode="json")["utm_medium"] == "email"
    assert lead.company is not None
    assert lead.company.model_dump(mode="json")["hq"] == "Berlin"
    dumped = assignment.model_dump(mode="json")
    assert dumped["config_version"] == 7
    assert dumped["explanation"]["matched_by"] == "rule"


def test_required_fields_are_named_when_missing() -> None:
    assert problems(MqlCreated, {"company": {}}) == {"lead_id": "Field required", "email": "Field required"}
    missing = problems(LeadAssigned, {"lead_id": "lead-1"})
    assert set(missing) == {
        "assignment_id",
        "rep_id",
        "team_id",
        "rule_id",
        "attempt",
        "assigned_at",
        "sla_due_at",
        "explanation",
        "lead",
    }


@pytest.mark.parametrize(("given_code", "stored"), [("US", "US"), ("de", "DE"), ("gB", "GB")])
def test_country_is_normalised_to_upper_case(given_code: str, stored: str) -> None:
    assert MqlCreated.model_validate(mql() | {"country": given_code}).country == stored


@pytest.mark.parametrize("code", ["USA", "U", "u1", "us\n", "", "Ü1", 1])
def test_country_that_is_not_alpha_2_is_refused(code: object) -> None:
    assert "country" in problems(MqlCreated, mql() | {"country": code})


def test_company_domain_is_lower_cased() -> None:
    lead = MqlCreated.model_validate(mql() | {"company": {"domain": "ACME.io"}})
    assert lead.company is not None
    assert lead.company.domain == "acme.io"


@pytest.mark.parametrize("email", ["pat", "pat@", "@acme.io", "pat@acme", "pat @acme.io", "pat@acme.io\n", 3])
def test_email_that_does_not_look_like_one_is_refused(email: object) -> None:
    assert "email" in problems(MqlCreated, mql() | {"email": email})


@pytest.mark.parametrize("lead_id", ["", " ", " lead-1", "lead-1 ", "lead\n1", 17, None])
def test_lead_id_must_be_a_one_line_non_blank_string(lead_id: object) -> None:
    assert "lead_id" in problems(MqlCreated, mql() | {"lead_id": lead_id})


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("company.employees", "12"),
        ("company.employees", True),
        ("company.employees", 12.0),
        ("company.employees", -1),
        ("score", "87.5"),
        ("score", True),
        ("score", float("nan")),
        ("first_name", 12),
        ("product_interest", "routing"),
        ("product_interest.0", 3),
        ("attributes", ["not", "an", "object"]),
    ],
)
def test_known_fields_are_strict_no_coercion(path: str, value: object) -> None:
    data = mql()
    head, _, tail = path.partition(".")
    if tail == "employees":
        data["company"] = {"employees": value}
    elif tail == "0":
        data[head] = [value]
    else:
        data[head] = value

    assert path in problems(MqlCreated, data)


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        (events.LEAD_ASSIGNED, "attempt", 0),
        (events.LEAD_ASSIGNED, "attempt", 1.0),
        (events.LEAD_ASSIGNED, "attempt", "1"),
        (events.LEAD_ACCEPTED, "seconds_to_accept", -1.0),
        (events.LEAD_ESCALATED, "level", "panic"),
        (events.LEAD_OUTCOME, "outcome", "maybe"),
        (events.FEEDBACK_SNAPSHOT, "mqls", True),
        (events.FEEDBACK_SNAPSHOT, "acceptance_rate", 1.5),
        (events.FEEDBACK_SNAPSHOT, "rejected_by_reason", {"spam": "1"}),
        (events.FEEDBACK_SNAPSHOT, "sal_to_sql_rate", -0.1),
        (events.LEAD_QUALIFIED, "outcome", "maybe"),
        (events.LEAD_QUALIFIED, "seconds_since_accept", -1.0),
        (events.ACCEPTANCE_ALERT, "direction", "sideways"),
        (events.ACCEPTANCE_ALERT, "state", "open"),
    ],
)
def test_wrong_values_are_refused_at_their_field(event_type: str, field: str, value: object) -> None:
    refused = problems(EVENT_TYPES[event_type], data_of(event_type) | {field: value})
    assert any(path == field or path.startswith(f"{field}.") for path in refused)


def test_reminder_before_the_deadline_has_negative_overdue_seconds() -> None:
    escalation = EVENT_TYPES[events.LEAD_ESCALATED].model_validate(data_of(events.LEAD_ESCALATED))
    assert escalation.model_dump()["overdue_seconds"] == -7200.0


def test_reason_other_needs_a_note() -> None:
    data = data_of(events.LEAD_REJECTED) | {"reason": "other"}
    del data["note"]

    assert "reason 'other' needs a note" in str(problems(events.LeadRejected, data))
    assert EVENT_TYPES[events.LEAD_REJECTED].model_validate(data | {"note": "met at a fair"})


def test_snapshot_window_cannot_end_before_it_starts() -> None:
    data = data_of(events.FEEDBACK_SNAPSHOT) | {"window_end": "2026-03-01T00:00:00Z"}
    assert "window_end is before window_start" in str(problems(events.FeedbackSnapshot, data))


def test_assigned_lead_is_the_lead_of_the_assignment() -> None:
    data = data_of(events.LEAD_ASSIGNED) | {"lead": mql("lead-2")}
    assert "differs from lead_id" in str(problems(LeadAssigned, data))


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02T09:15:00",  # naive
        "2026-03-02",  # a date
        "2026-03-02 09:15:00Z",  # ISO 8601 with a space, not RFC 3339's T
        "20260302T091500Z",  # ISO 8601 basic format
        "2026-03-02T09:15Z",  # no seconds
        "2026-02-30T09:15:00Z",  # no such day
        "2026-03-02T09:15:00+25:00",  # no such offset
        "2026-03-02T09:15:00Z\n",
        "1772442900",  # a unix timestamp as text
        "٢٠٢٦-03-02T09:15:00Z",  # digits of another script
    ],
)
def test_time_that_is_not_rfc_3339_with_offset_is_refused(text: str) -> None:
    assert "accepted_at" in problems(
        events.LeadAccepted, data_of(events.LEAD_ACCEPTED) | {"accepted_at": text}
    )


@pytest.mark.parametrize("value", [1772442900, 1772442900.0, datetime(2026, 3, 2, 9, 15)])  # noqa: DTZ001
def test_time_as_timestamp_or_naive_datetime_is_refused(value: object) -> None:
    assert "accepted_at" in problems(
        events.LeadAccepted, data_of(events.LEAD_ACCEPTED) | {"accepted_at": value}
    )


def test_times_are_utc_inside_and_rfc_3339_with_z_outside() -> None:
    data = data_of(events.LEAD_ACCEPTED) | {"accepted_at": "2026-03-02t11:15:00.250+02:00"}

    accepted = events.LeadAccepted.model_validate(data)

    assert accepted.accepted_at == datetime(2026, 3, 2, 9, 15, 0, 250_000, tzinfo=UTC)
    assert accepted.accepted_at.tzinfo is UTC
    assert accepted.model_dump(mode="json")["accepted_at"] == "2026-03-02T09:15:00.250000Z"


def test_aware_datetime_objects_are_taken_and_turned_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    data = data_of(events.LEAD_ACCEPTED) | {"accepted_at": datetime(2026, 3, 2, 10, 15, tzinfo=paris)}

    accepted = events.LeadAccepted.model_validate(data)

    assert accepted.accepted_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert accepted.accepted_at.tzinfo is UTC


offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    moment=st.datetimes(
        timezones=offsets,
        min_value=EARLIEST,
        max_value=LATEST,
    )
)
def test_any_aware_time_survives_rfc_3339_round_trip(moment: datetime) -> None:
    text = format_rfc3339(moment)

    assert text.endswith("Z")
    assert parse_rfc3339(text) == moment


def test_disqualified_needs_a_reason_and_other_a_note() -> None:
    data = data_of(events.LEAD_QUALIFIED)
    del data["reason"]
    assert "outcome 'disqualified' needs a reason" in str(problems(events.LeadQualified, data))
    assert "reason 'other' needs a note" in str(problems(events.LeadQualified, data | {"reason": "other"}))
    assert EVENT_TYPES[events.LEAD_QUALIFIED].model_validate(data | {"outcome": "sql"})
