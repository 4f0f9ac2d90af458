"""The consumers' slim views of our own events agree with the contract's models.

For every view of every consumer (sla-monitor, feedback, the router's escalations): a valid
event as our producers write it takes the fast path and reads the same values as the full
model; and with any value put into (or taken out of) a field the view reads, reading it with
the views either refuses it exactly as the full model does (same error class and message,
so the same dead letter) or accepts it with the same values.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from handoff_feedback.ingest import event_views as feedback_views
from handoff_router import event_views as router_views
from handoff_shared import cloudevents, events
from handoff_shared.cloudevents import STRUCTURED, InvalidEvent
from handoff_shared.event_views import read, read_fast
from handoff_sla_monitor.timers import event_views as sla_views
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.unit.shared.samples import EARLIEST, LATEST, data_of

CONSUMERS = {
    "sla-monitor": sla_views.VIEWS,
    "feedback": feedback_views.VIEWS,
    "router": router_views.VIEWS,
}
CASES = [(consumer, type_) for consumer, views in CONSUMERS.items() for type_ in sorted(views)]
HIDDEN = {"read_of_lead"}  # filled after decoding, not read from the event
BIG = "__1e999__"  # replaced by a JSON number no float holds


def sample(type_: str) -> dict[str, Any]:
    """A valid event's data as our producers write it (the model's JSON, without None fields)."""
    data = data_of(type_)
    if type_ == events.LEAD_ASSIGNED:
        data |= {
            "manager_id": "mgr-bob",
            "sla": {
                "accept_within_seconds": 14400,
                "timezone": "America/New_York",
                "business_hours": {"start": "09:00", "end": "17:00", "days": ["mon", "fri"]},
                "holidays": ["US"],
                "ladder": [{"percent": 50, "action": "remind"}, {"percent": 150, "action": "reassign"}],
                "max_reassignments": 2,
                "pause_after_expired": 0,
            },
        }
    if type_ == events.LEAD_ESCALATED:
        data |= {"team_id": "na", "attempt": 2, "step": 0, "max_reassignments": 2}
    model = events.EVENT_TYPES[type_].model_validate(data)
    return model.model_dump(mode="json", exclude_none=True)


def record(type_: str, data: Any) -> tuple[bytes, list[tuple[str, bytes]]]:
    subject = data.get("lead_id") if isinstance(data, dict) else None
    envelope = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "tests/views",
        "type": type_,
        "subject": subject if isinstance(subject, str) and subject else "lead-1",
        "time": "2026-03-02T09:15:01Z",
        "datacontenttype": "application/json",
        "data": data,
    }
    body = json.dumps(envelope, ensure_ascii=False).replace(f'"{BIG}"', "1e999")
    return body.encode(), [("content-type", STRUCTURED.encode())]


def paths(view: type[msgspec.Struct], prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every field path the view reads (into nested views and the first item of their lists)."""
    found: list[tuple[str | int, ...]] = []
    hints = msgspec.structs.fields(view)
    for field in hints:
        if field.name in HIDDEN:
            continue
        path = (*prefix, field.encode_name)
        found.append(path)
        for kind in _struct_types(field.type):
            found += paths(kind, path)
        for kind in _list_struct_types(field.type):
            found += paths(kind, (*path, 0))
    if view is feedback_views.Assigned:
        found += [("lead", name) for name in ("lead_id", "source", "campaign", "score", "mql_at")]
    return found


def _struct_types(kind: Any) -> list[type[msgspec.Struct]]:
    args = getattr(kind, "__args__", ())
    candidates = [kind, *args]
    return [c for c in candidates if isinstance(c, type) and issubclass(c, msgspec.Struct)]


def _list_struct_types(kind: Any) -> list[type[msgspec.Struct]]:
    if getattr(kind, "__origin__", None) is list:
        return _struct_types(kind.__args__[0])
    return []


def _time_text(moment: datetime, sep: str, fraction: str, offset: str) -> str:
    base = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{sep}{moment.hour:02d}:{moment.minute:02d}"
    return f"{base}:{moment.second:02d}" + (f".{fraction}" if fraction else "") + offset


times = st.builds(
    _time_text,
    st.datetimes(EARLIEST, LATEST),
    st.sampled_from(["T", "t", " "]),
    st.text("0123456789", max_size=9),
    st.sampled_from(["Z", "z", "+00:00", "-05:30", "+23:59", "+24:00", "+0100", "", "+01"]),
)
words = st.sampled_from(
    ["remind", "escalate", "reassign", "other", "sql", "disqualified", "mon", "Mon", "09:00", "24:00",
     "9:00", "09:00\n", "US", "x", "UTC", "lead-1", "Europe/Berlin", "a\n", " a", "a b", "\n"]
)  # fmt: skip
ids = st.text(st.sampled_from("ab-_é \n\t"), min_size=0, max_size=6)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 0.5, 1, 2, 1e308, "", "x" * 200, "x" * 201, "x" * 10_001, BIG]),
    times,
    words,
    ids,
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
DELETE = object()


def mutated(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(data))
    target: Any = copy
    for step in path[:-1]:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError):
            return copy  # the path is not there in this sample: nothing to change
    if not isinstance(target, dict | list):
        return copy
    last = path[-1]
    if value is DELETE:
        if isinstance(target, dict):
            target.pop(last, None)
    elif isinstance(target, dict):
        target[last] = value
    elif isinstance(last, int) and last < len(target):
        target.__setitem__(last, value)
    return copy


def outcome(read_it: Any) -> tuple[Any, ...]:
    try:
        return ("read", read_it())
    except InvalidEvent as error:
        return ("refused", error.error_class, error.message)


def assert_same(view: msgspec.Struct, model: BaseModel) -> None:
    for name in view.__struct_fields__:
        if name in HIDDEN:
            continue
        assert_same_value(getattr(view, name), getattr(model, name, None), name)
    if isinstance(view, feedback_views.Assigned):
        assert_same(view.known_lead, model.lead)  # type: ignore[attr-defined]


def assert_same_value(mine: Any, theirs: Any, name: str) -> None:
    if isinstance(mine, msgspec.Struct):
        assert isinstance(theirs, BaseModel), name
        assert_same(mine, theirs)
    elif isinstance(mine, list):
        assert isinstance(theirs, list), name
        assert len(mine) == len(theirs), name
        for one, other in zip(mine, theirs, strict=True):
            assert_same_value(one, other, name)
    elif isinstance(theirs, BaseModel):  # feedback keeps lead.assigned's lead as it came
        assert isinstance(mine, dict), name
    else:
        assert mine == theirs, name
        assert isinstance(mine, datetime) == isinstance(theirs, datetime), name


@pytest.mark.parametrize(("consumer", "type_"), CASES)
def test_a_valid_event_takes_the_fast_path_and_reads_what_the_model_reads(consumer: str, type_: str) -> None:
    views = CONSUMERS[consumer]
    data = sample(type_)
    value, headers = record(type_, data)
    fast = read_fast(value, headers, set(views), views)
    assert fast is not None
    event, view = fast
    full_event, model = cloudevents.decode_typed(value, headers, set(views))
    assert (event.id, event.type, event.subject, event.time) == (
        full_event.id,
        full_event.type,
        full_event.subject,
        full_event.time,
    )
    assert_same(view, model)
    assert json.loads(cloudevents.encode(event)[0])["data"] == data  # re-encoded as it came
    if isinstance(view, feedback_views.Assigned):
        assert view.lead == model.lead.model_dump(mode="json", exclude_none=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("consumer", "type_"), CASES)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_views_refuse_what_the_model_refuses_and_read_what_it_reads(
    consumer: str, type_: str, data: st.DataObject
) -> None:
    views = CONSUMERS[consumer]
    view = views[type_]
    event_data = sample(type_)
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        path = data.draw(st.sampled_from(paths(view)), label="path")
        value = data.draw(st.one_of(st.just(DELETE), words, times, values), label="value")
        event_data = mutated(event_data, path, value)
    body, headers = record(type_, event_data)
    full = outcome(lambda: cloudevents.decode_typed(body, headers, set(views)))
    slim = outcome(lambda: read(body, headers, set(views), views))
    if full[0] == "refused":
        assert slim == full
        return
    assert slim[0] == "read", slim
    (_, model), (_, mine) = full[1], slim[1]
    assert isinstance(mine, view)
    assert_same(mine, model)


def test_a_record_outside_the_fast_path_is_read_the_full_way() -> None:
    data = sample(events.LEAD_ACCEPTED)
    value, _ = record(events.LEAD_ACCEPTED, data)
    envelope = json.loads(value) | {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    with_extension = json.dumps(envelope).encode()
    views = sla_views.VIEWS
    assert read_fast(with_extension, [], set(views), views) is None
    event, view = read(with_extension, [], set(views), views)
    assert isinstance(view, sla_views.Accepted)
    assert event.extensions["traceparent"].startswith("00-")
    offset = timezone(timedelta(hours=2))
    assert event.time == datetime(2026, 3, 2, 11, 15, 1, tzinfo=offset)


def test_a_record_nested_too_deep_is_an_invalid_event_not_a_crash() -> None:
    """msgspec raises RecursionError past its depth; the full way then dead-letters it."""
    nested = b"[" * 5000 + b"]" * 5000
    value = b'{"specversion":"1.0","id":"x","source":"s","type":"lead.accepted","subject":"l","data":%s}'
    headers = [("content-type", STRUCTURED.encode())]
    assert read_fast(value % nested, headers, set(feedback_views.VIEWS), feedback_views.VIEWS) is None
    with pytest.raises(InvalidEvent):
        read(value % nested, headers, set(feedback_views.VIEWS), feedback_views.VIEWS)
