"""CloudEvents 1.0 over Kafka: both binding modes in, structured mode out, InvalidEvent for the rest."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from handoff_shared import cloudevents, events
from handoff_shared.cloudevents import CloudEvent, InvalidEvent, decode, decode_typed, encode, new_event
from handoff_shared.events import EVENT_TYPES
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.shared.samples import EARLIEST, LATEST, data_of, mql, subject_of

NOW = datetime(2026, 3, 2, 9, 15, 1, tzinfo=UTC)
ALL_TYPES = sorted(EVENT_TYPES)
Headers = list[tuple[str, bytes]]


def structured(overrides: dict[str, Any] | None = None, *, drop: tuple[str, ...] = ()) -> bytes:
    envelope = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "urn:marketing:hubspot",
        "type": "mql.created",
        "subject": "lead-1",
        "time": "2026-03-02T09:15:00Z",
        "datacontenttype": "application/json",
        "data": mql(),
    } | (overrides or {})
    return json.dumps({k: v for k, v in envelope.items() if k not in drop}).encode()


def binary_headers(event_type: str = "mql.created", subject: str = "lead-1", **overrides: str) -> Headers:
    attributes = {
        "ce_specversion": "1.0",
        "ce_id": "evt-1",
        "ce_source": "urn:marketing:hubspot",
        "ce_type": event_type,
        "ce_subject": subject,
        "ce_time": "2026-03-02T09:15:00Z",
        "content-type": "application/json",
    } | overrides
    return [(name, value.encode()) for name, value in attributes.items()]


def typed_event(event_type: str) -> CloudEvent:
    model = EVENT_TYPES[event_type].model_validate(data_of(event_type))
    return new_event(event_type, "urn:handoff:test", subject_of(event_type), model, id="evt-1", time=NOW)


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_structured_round_trip_of_every_event_type(event_type: str) -> None:
    event = typed_event(event_type)

    value, headers = encode(event)
    decoded, data = decode_typed(value, headers, {event_type})

    assert headers == [("content-type", b"application/cloudevents+json")]
    assert decoded == event
    assert data == EVENT_TYPES[event_type].model_validate(data_of(event_type))


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_binary_mode_reads_as_the_same_event_as_structured(event_type: str) -> None:
    value = json.dumps(data_of(event_type)).encode()
    headers = binary_headers(event_type, subject_of(event_type), ce_time="2026-03-02T10:15:01+01:00")

    decoded, data = decode_typed(value, headers, {event_type})

    assert decoded == CloudEvent(
        id="evt-1",
        source="urn:marketing:hubspot",
        type=event_type,
        subject=subject_of(event_type),
        time=NOW,
        data=data_of(event_type),
    )
    assert data == EVENT_TYPES[event_type].model_validate(data_of(event_type))


def test_encoding_is_compact_utf8_json_with_rfc_3339_time() -> None:
    event = new_event("mql.created", "urn:x", "lead-1", mql() | {"first_name": "Zoë"}, id="e", time=NOW)

    value, _ = encode(event)

    assert b", " not in value
    assert b": " not in value
    assert "Zoë".encode() in value
    assert json.loads(value)["time"] == "2026-03-02T09:15:01Z"


def test_new_event_gives_a_fresh_uuid_and_drops_unset_fields_of_a_model() -> None:
    data = events.MqlCreated(lead_id="lead-1", email="pat@acme.io")

    first = new_event("mql.created", "urn:x", "lead-1", data, time=NOW)
    second = new_event("mql.created", "urn:x", "lead-1", data, time=NOW)

    assert first.id != second.id
    assert len(first.id) == 36
    assert first.data == {"lead_id": "lead-1", "email": "pat@acme.io"}


def test_new_event_refuses_a_naive_time_and_turns_an_aware_one_to_utc() -> None:
    with pytest.raises(ValueError, match="naive"):
        new_event("mql.created", "urn:x", "lead-1", mql(), time=datetime(2026, 3, 2))  # noqa: DTZ001
    event = new_event(
        "mql.created", "urn:x", "lead-1", mql(), time=NOW.astimezone(timezone(timedelta(hours=5)))
    )
    assert event.time is not None
    assert event.time.tzinfo is UTC


def test_encode_refuses_extensions_that_would_redefine_an_attribute() -> None:
    event = CloudEvent("e", "urn:x", "mql.created", "lead-1", NOW, mql(), extensions={"id": "other"})
    with pytest.raises(ValueError, match="redefine id"):
        encode(event)


def test_extensions_survive_both_modes() -> None:
    value = structured({"traceparent": "00-abc-def-01", "partitionkey": 7, "sampled": True})
    from_structured = decode(value, [])
    from_binary = decode(
        json.dumps(mql()).encode(), [*binary_headers(), ("ce_traceparent", b"00-abc-def-01")]
    )

    assert from_structured.extensions == {
        "traceparent": "00-abc-def-01",
        "partitionkey": "7",
        "sampled": "true",
    }
    assert from_binary.extensions == {"traceparent": "00-abc-def-01"}
    assert decode(*encode(from_structured)) == from_structured


def test_structured_mode_is_read_with_or_without_its_content_type_and_with_parameters() -> None:
    plain = decode(structured(), [])
    labelled = decode(structured(), [("content-type", b"application/cloudevents+json; charset=utf-8")])
    assert plain == labelled


def test_other_kafka_headers_are_ignored() -> None:
    headers = [("traceparent", b"\xff\xfe"), ("Content-Type", b"application/cloudevents+json")]
    assert decode(structured(), headers).id == "evt-1"


ids = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)
names = st.from_regex(r"[a-z][a-z0-9]{0,19}", fullmatch=True).filter(
    lambda name: name not in {*cloudevents.REQUIRED, "data", "data_base64"}
)
# Integers within what orjson reads as integers (int64 and uint64): beyond them it reads a float
# (a known limit, see test_huge_integers_are_read_exactly_or_dead_lettered and the closing note).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ids,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ids, inner, max_size=3),
    max_leaves=10,
)


@given(
    id=ids,
    source=ids,
    type=st.sampled_from(ALL_TYPES),
    subject=ids,
    time=st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=st.just(UTC)),
    data=st.dictionaries(ids, json_values, max_size=5),
    extensions=st.dictionaries(names, ids, max_size=3),
)
def test_any_event_survives_encode_and_decode(
    id: str,
    source: str,
    type: str,
    subject: str,
    time: datetime,
    data: dict[str, Any],
    extensions: dict[str, str],
) -> None:
    event = CloudEvent(id, source, type, subject, time, data, extensions=extensions)

    assert decode(*encode(event)) == event


# --- invalid input -----------------------------------------------------------------------------


def refused(
    value: bytes | None, headers: Headers, expected: tuple[str, ...] = ("mql.created",)
) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        decode_typed(value, headers, expected)
    return caught.value


@pytest.mark.parametrize(
    ("value", "headers", "error_class", "named"),
    [
        (None, [], "not_json", "no value"),
        (b"", [], "not_json", "no value"),
        (b"\xff\xfe{}", [], "not_json", "UTF-8"),
        (b"{this is not json", [], "not_json", "not JSON"),
        (b'{"specversion": "1.0", "score": NaN}', [], "not_json", "NaN"),
        (b"[" * 100_000, [], "not_json", "not JSON"),
        (b"1" * 5000, [], "not_json", "not JSON"),
        (b"[1, 2]", [], "not_cloudevent", "list"),
        (b'"hello"', [], "not_cloudevent", "str"),
        (b'{"hello": "world"}', [], "not_cloudevent", "specversion"),
        (structured(), [("content-type", b"application/cloudevents-batch+json")], "not_cloudevent", "batch"),
        (b"{}", [("ce_id", b"evt-1")], "not_cloudevent", "ce_specversion"),
        (b"{}", [("ce_specversion", b"1.0"), ("ce_id", b"\xff")], "not_cloudevent", "ce_id"),
        (structured(drop=("id",)), [], "missing_attribute", "id"),
        (structured(drop=("time", "subject")), [], "missing_attribute", "time, subject"),
        (structured({"source": ""}), [], "missing_attribute", "source"),
        (structured(drop=("datacontenttype",)), [], "missing_attribute", "datacontenttype"),
        (structured(drop=("data",)), [], "missing_attribute", "data"),
        (None, binary_headers(), "missing_attribute", "data"),
        (b"{}", binary_headers()[:-1], "missing_attribute", "datacontenttype"),
        (structured({"specversion": "0.3"}), [], "invalid_attribute", "specversion"),
        (structured({"id": 17}), [], "invalid_attribute", "id must be a string"),
        (structured({"time": "2026-03-02T09:15:00"}), [], "invalid_attribute", "time"),
        (structured({"time": "yesterday"}), [], "invalid_attribute", "time"),
        (b"{}", binary_headers(ce_time="2026-03-02 09:15"), "invalid_attribute", "time"),
        (structured({"datacontenttype": "text/xml"}), [], "invalid_attribute", "datacontenttype"),
        (structured({"data_base64": "e30="}, drop=("data",)), [], "invalid_attribute", "data_base64"),
        (structured({"tags": ["a"]}), [], "invalid_attribute", "tags"),
        (structured({"type": "lead.accepted"}), [], "wrong_type", "lead.accepted"),
        (structured({"type": "com.example.unknown"}), [], "wrong_type", "expected: mql.created"),
        (structured({"subject": "lead-2"}), [], "subject_mismatch", "lead-2"),
    ],
)
def test_each_kind_of_bad_record_is_refused_with_its_class_and_a_precise_message(
    value: bytes | None, headers: Headers, error_class: str, named: str
) -> None:
    error = refused(value, headers)

    assert error.error_class == error_class
    assert error.error_class in cloudevents.ERROR_CLASSES
    assert named in error.message


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (mql() | {"email": None}, "data.email: Input should be a valid string"),
        ({k: v for k, v in mql().items() if k != "email"}, "data.email: Field required"),
        (mql() | {"company": {"employees": "12"}}, "data.company.employees: Input should be a valid integer"),
        (mql() | {"mql_at": "2026-03-02T09:15:00"}, "data.mql_at: Value error"),
        (mql() | {"product_interest": ["a", 2]}, "data.product_interest.1: Input should be a valid string"),
        ("a string", "data: Input should be a valid dictionary"),
    ],
)
def test_invalid_data_names_each_field_path(data: object, named: str) -> None:
    error = refused(structured({"data": data}), [])

    assert error.error_class == "invalid_data"
    assert named in error.message


def test_invalid_data_lists_every_problem() -> None:
    data = {"lead_id": "lead-1", "email": "nope", "country": "USA"}

    error = refused(structured({"data": data}), [])

    assert "data.email" in error.message
    assert "data.country" in error.message


def test_naive_time_inside_data_is_invalid_data_naming_the_field() -> None:
    data = data_of(events.LEAD_ACCEPTED) | {"accepted_at": "2026-03-02T10:00:00"}
    value = json.dumps(data).encode()

    error = refused(value, binary_headers("lead.accepted"), ("lead.accepted",))

    assert error.error_class == "invalid_data"
    assert "data.accepted_at" in error.message


def test_a_snapshot_needs_no_lead_id_subject() -> None:
    value = json.dumps(data_of(events.FEEDBACK_SNAPSHOT)).encode()
    headers = binary_headers(events.FEEDBACK_SNAPSHOT, "source=webinar")

    event, _ = decode_typed(value, headers, {events.FEEDBACK_SNAPSHOT})

    assert event.subject == "source=webinar"


def outcome(read: Callable[[], object]) -> str:
    """``read`` when the record reads, else the InvalidEvent's class; any other exception escapes."""
    try:
        read()
    except InvalidEvent as error:
        return error.error_class
    return "read"


header_lists = st.lists(
    st.tuples(
        st.sampled_from(["content-type", "ce_specversion", "ce_id", "ce_type", "ce_time", "x"])
        | st.text(max_size=8),
        st.binary(max_size=30)
        | st.sampled_from([b"1.0", b"application/json", b"application/cloudevents+json"]),
    ),
    max_size=6,
)


@given(value=st.none() | st.binary(max_size=200), headers=header_lists)
def test_any_bytes_and_headers_give_an_event_or_invalid_event_never_another_error(
    value: bytes | None, headers: Headers
) -> None:
    assert outcome(lambda: decode_typed(value, headers, ALL_TYPES)) in {*cloudevents.ERROR_CLASSES, "read"}


@given(envelope=st.dictionaries(st.sampled_from([*cloudevents.REQUIRED, "data", "x"]) | ids, json_values))
def test_any_json_object_gives_an_event_or_invalid_event_never_another_error(
    envelope: dict[str, Any],
) -> None:
    assert outcome(lambda: decode_typed(json.dumps(envelope).encode(), [], ALL_TYPES)) in {
        *cloudevents.ERROR_CLASSES,
        "read",
    }


@given(name=st.sampled_from([*cloudevents.REQUIRED, "data"]), replacement=json_values)
def test_a_valid_envelope_with_any_attribute_replaced_never_raises_another_error(
    name: str, replacement: object
) -> None:
    assert outcome(lambda: decode_typed(structured({name: replacement}), [], ALL_TYPES)) in {
        *cloudevents.ERROR_CLASSES,
        "read",
    }
