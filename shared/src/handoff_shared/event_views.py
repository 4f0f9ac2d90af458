"""Slim views of this system's own events: a consumer decodes only the fields it reads.

The pydantic models of events.py stay the one schema source: they generate the JSON Schema
and AsyncAPI documents, the producers validate with them, and an event from outside
(``mql.created``) is always read with its full model. A view is a msgspec ``Struct`` that
holds some fields of one model with the same constraints; reading a structured-mode record
into it costs a few microseconds where the full model costs tens.

Only the common case takes the fast path: a structured-mode record whose envelope holds the
attributes of CONTRACT §2 and nothing else, and whose data fits the view. Everything else
(binary mode, extension attributes, any record the view refuses) is read the full way by
``cloudevents.decode_typed``, so a bad record is refused with the same error class and message
as without views, and a record the full model accepts is converted to the view from its data.
The unit tests of each consumer's views prove the view and the model agree.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import orjson

from handoff_shared import cloudevents
from handoff_shared.cloudevents import INVALID_DATA, STRUCTURED, CloudEvent, InvalidEvent
from handoff_shared.events import ID_PATTERN, parse_rfc3339

View = TypeVar("View", bound=msgspec.Struct)
Views = Mapping[str, type[msgspec.Struct]]


class UtcTime(datetime):
    """An aware UTC time, read by ``events.parse_rfc3339`` (msgspec's own parser takes forms
    the contract refuses: a blank for ``T``, offsets without a colon, rounded fractions)."""


FINITE = sys.float_info.max  # JSON's 1e999 is infinity to a parser; the models refuse it
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=rf"\A{ID_PATTERN}\Z")]
Text = Annotated[str, msgspec.Meta(max_length=10_000)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Number = Annotated[float, msgspec.Meta(ge=-FINITE, le=FINITE)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=FINITE)]
Level = Literal["remind", "escalate", "reassign"]
_Attribute = Annotated[str, msgspec.Meta(min_length=1)]


class _Envelope(msgspec.Struct, forbid_unknown_fields=True):
    """A structured-mode envelope with the contract's attributes and no extension."""

    specversion: Literal["1.0"]
    id: _Attribute
    source: _Attribute
    type: _Attribute
    time: UtcTime
    subject: _Attribute
    datacontenttype: Literal["application/json"]
    data: msgspec.Raw


def _time(kind: type, value: Any) -> Any:
    if kind is UtcTime:
        if not isinstance(value, str):
            raise TypeError("a time must be an RFC 3339 string, e.g. 2026-01-31T09:00:00Z")
        if value[-1:] == "Z" and len(value) in _UTC_LENGTHS and _UTC_SHAPE.fullmatch(value):
            return UtcTime.fromisoformat(value)  # what our producers write: UTC, at most microseconds
        moment = parse_rfc3339(value)
        return UtcTime(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
            UTC,
        )
    raise NotImplementedError(kind)


# ``2026-01-31T09:00:00Z`` or with 1-6 digits of fraction: read at C speed, already UTC.
_UTC_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z")
_UTC_LENGTHS = frozenset(range(20, 28))
_ENVELOPE = msgspec.json.Decoder(_Envelope, dec_hook=_time)


@cache
def _decoder(view: type[View]) -> msgspec.json.Decoder[View]:
    return msgspec.json.Decoder(view, dec_hook=_time)


def view_of(data: Any, view: type[View]) -> View:
    """``data`` (an event's data as JSON values) read into ``view``; raises
    ``msgspec.ValidationError`` where the view refuses it."""
    return msgspec.convert(data, view, dec_hook=_time)


def _is_structured(headers: Sequence[tuple[str, bytes]]) -> bool:
    """True when the headers say structured mode the way this system's producers write it."""
    return all(name == "content-type" and value == _STRUCTURED for name, value in headers)


_STRUCTURED = STRUCTURED.encode()


def read_fast(
    value: bytes | None, headers: Sequence[tuple[str, bytes]], expected_types: Collection[str], views: Views
) -> tuple[CloudEvent, msgspec.Struct] | None:
    """The event and its view, when the record is the common case; None: read it the full way."""
    if not value or not _is_structured(headers):
        return None
    try:
        envelope = _ENVELOPE.decode(value)
    except (msgspec.MsgspecError, RecursionError):  # nested too deep: the full way dead-letters it
        return None
    view = views.get(envelope.type)
    if view is None or envelope.type not in expected_types:
        return None
    try:
        data = _decoder(view).decode(envelope.data)
    except (msgspec.MsgspecError, RecursionError):
        return None
    if getattr(data, "lead_id", envelope.subject) != envelope.subject:
        return None
    event = CloudEvent(
        id=envelope.id,
        source=envelope.source,
        type=envelope.type,
        subject=envelope.subject,
        time=envelope.time,
        data=orjson.Fragment(bytes(envelope.data)),  # re-encoded as it came (a callback body)
    )
    return event, data


def read(
    value: bytes | None, headers: Sequence[tuple[str, bytes]], expected_types: Collection[str], views: Views
) -> tuple[CloudEvent, Any]:
    """An event of one of ``expected_types``: its view when it has one, else its full model.

    Raises ``InvalidEvent`` exactly as ``cloudevents.decode_typed`` does."""
    fast = read_fast(value, headers, expected_types, views)
    if fast is not None:
        return fast
    event, model = cloudevents.decode_typed(value, headers, expected_types)
    view = views.get(event.type)
    if view is None:
        return event, model
    try:
        return event, view_of(event.data, view)
    except msgspec.ValidationError as error:  # the model took it, the view not: a bug of the view
        raise InvalidEvent(INVALID_DATA, f"data: {error}") from None
