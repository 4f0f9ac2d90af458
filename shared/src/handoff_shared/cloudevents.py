"""CloudEvents 1.0 over Kafka: read both binding modes, write structured mode.

Structured mode: the record value is the JSON envelope (header ``content-type:
application/cloudevents+json``; a JSON object with ``specversion`` and no ``ce_*`` headers is
read the same way). Binary mode: the value is ``data`` as JSON, the attributes travel in
``ce_*`` headers and ``content-type`` is the ``datacontenttype``.

Whatever a record holds, reading it either succeeds or raises ``InvalidEvent`` with a short
``error_class`` and a message naming what is wrong, which is what a dead letter carries:

- ``not_json``: no value, not UTF-8, or not JSON (NaN and Infinity included);
- ``not_cloudevent``: JSON, but no CloudEvent (not an object, no specversion, unreadable headers,
  an unsupported content mode such as batches);
- ``missing_attribute``: a required attribute of CONTRACT §2 (or ``data``) is absent or empty;
- ``invalid_attribute``: an attribute is there but wrong (specversion not 1.0, time not RFC 3339
  with offset, datacontenttype not application/json, not a string, base64 data);
- ``wrong_type``: a ``type`` the consumer does not expect;
- ``invalid_data``: ``data`` does not fit the event's model (each field path and problem);
- ``subject_mismatch``: ``subject`` is not the ``lead_id`` of the data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from handoff_shared import tracing
from handoff_shared.events import EVENT_TYPES, EventData, InvalidTime, as_utc, format_rfc3339, parse_rfc3339

STRUCTURED = "application/cloudevents+json"
JSON = "application/json"
SPECVERSION = "1.0"
REQUIRED = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype")
_CORE = frozenset((*REQUIRED, "data", "data_base64"))

NOT_JSON = "not_json"
NOT_CLOUDEVENT = "not_cloudevent"
MISSING_ATTRIBUTE = "missing_attribute"
INVALID_ATTRIBUTE = "invalid_attribute"
WRONG_TYPE = "wrong_type"
INVALID_DATA = "invalid_data"
SUBJECT_MISMATCH = "subject_mismatch"
ERROR_CLASSES = (
    NOT_JSON,
    NOT_CLOUDEVENT,
    MISSING_ATTRIBUTE,
    INVALID_ATTRIBUTE,
    WRONG_TYPE,
    INVALID_DATA,
    SUBJECT_MISMATCH,
)


class InvalidEvent(Exception):
    """A record that is not a valid event of the expected kind."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(f"{error_class}: {message}")
        self.error_class = error_class
        self.message = message


@dataclass(frozen=True)
class CloudEvent:
    """A CloudEvents 1.0 event whose data is JSON; ``extensions`` holds every other attribute."""

    id: str
    source: str
    type: str
    subject: str | None
    time: datetime | None
    data: Any
    datacontenttype: str = JSON
    specversion: str = SPECVERSION
    extensions: Mapping[str, str] = field(default_factory=dict)


def new_event(
    type: str,
    source: str,
    subject: str,
    data: BaseModel | Mapping[str, Any],
    *,
    id: str | None = None,
    time: datetime,
) -> CloudEvent:
    """A new event (id a fresh uuid4 unless given); a model is dumped as JSON without None fields.

    With tracing on, it carries the trace context of the work that made it (``traceparent``)."""
    payload = data.model_dump(mode="json", exclude_none=True) if isinstance(data, BaseModel) else dict(data)
    return CloudEvent(
        id=id or str(uuid.uuid4()),
        source=source,
        type=type,
        subject=subject,
        time=as_utc(time),
        data=payload,
        extensions=tracing.event_extensions(subject) if tracing.ENABLED else {},
    )


def encode(event: CloudEvent) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Structured mode: the compact JSON envelope, and its content-type header."""
    if event.time is None or not event.subject:
        raise ValueError(f"event {event.id}: the contract requires time and subject")
    clashing = sorted(_CORE.intersection(event.extensions))
    if clashing:
        raise ValueError(f"event {event.id}: extensions may not redefine {', '.join(clashing)}")
    envelope: dict[str, Any] = {
        "specversion": event.specversion,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": format_rfc3339(event.time),
        "datacontenttype": event.datacontenttype,
        **event.extensions,
        "data": event.data,
    }
    # orjson: compact UTF-8 at C speed; times go through _json_default to be RFC 3339 with Z.
    try:
        body = orjson.dumps(envelope, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except orjson.JSONEncodeError:  # integers over 64 bits: the standard encoder takes them
        body = json.dumps(
            envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
        ).encode()
    return body, [("content-type", STRUCTURED.encode())]


def decode(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> CloudEvent:
    """Read a record in either binding mode, with every attribute CONTRACT §2 requires."""
    names = _headers(headers)
    content_type = names.get("content-type")
    media_type = _media_type(content_type) if content_type is not None else None
    if media_type is not None and media_type.startswith("application/cloudevents"):
        if media_type != STRUCTURED:
            raise InvalidEvent(
                NOT_CLOUDEVENT, f"content mode {media_type} is not supported (only {STRUCTURED})"
            )
        attributes = _structured(value)
    elif any(name.startswith("ce_") for name in names):
        attributes = _binary(value, names)
    else:
        attributes = _structured(value)
    return _event(attributes)


def decode_typed(
    value: bytes | None, headers: Sequence[tuple[str, bytes]], expected_types: Collection[str]
) -> tuple[CloudEvent, EventData]:
    """Read an event of one of ``expected_types`` and validate its data with the contract's model."""
    event = decode(value, headers)
    model = EVENT_TYPES.get(event.type)
    if event.type not in expected_types or model is None:
        expected = ", ".join(sorted(expected_types))
        raise InvalidEvent(
            WRONG_TYPE, f"type {event.type[:100]!r} is not expected here (expected: {expected})"
        )
    try:
        data = model.model_validate(event.data)
    except ValidationError as error:
        raise InvalidEvent(INVALID_DATA, describe(error)) from None
    lead_id = getattr(data, "lead_id", None)
    if lead_id is not None and event.subject != lead_id:
        raise InvalidEvent(
            SUBJECT_MISMATCH, f"subject {(event.subject or '')[:100]!r} is not data.lead_id {lead_id[:100]!r}"
        )
    return event, data


def describe(error: ValidationError) -> str:
    """Every problem, one per field path: ``data.company.employees: Input should be ...``."""
    return "; ".join(
        ".".join(("data", *(str(part) for part in item["loc"]))) + f": {item['msg']}"
        for item in error.errors()
    )


def _headers(headers: Sequence[tuple[str | bytes, bytes | None]]) -> dict[str, str]:
    """Header names lower-cased and values as text; CloudEvents only reads UTF-8 headers."""
    names: dict[str, str] = {}
    for name, raw in headers:
        try:
            text_name = name.decode() if isinstance(name, bytes) else str(name)
            key = text_name.lower()
            if key == "content-type" or key.startswith("ce_"):
                names[key] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError:
            raise InvalidEvent(NOT_CLOUDEVENT, f"header {name!r} is not UTF-8") from None
    return names


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _json(value: bytes | None) -> Any:
    if not value:
        raise InvalidEvent(NOT_JSON, "the record has no value")
    try:
        return orjson.loads(value)  # strict: UTF-8 only, no NaN, 64-bit integers, bounded depth
    except orjson.JSONDecodeError:
        pass  # orjson refuses some valid JSON (integers over 64 bits): the standard parser decides
    try:  # bad input is rare: the standard library's parser says precisely what is wrong
        return json.loads(value.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        raise InvalidEvent(NOT_JSON, f"the value is not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise InvalidEvent(NOT_JSON, f"the value is not JSON: {error.msg} at position {error.pos}") from None
    except (ValueError, RecursionError) as error:  # NaN, too many digits, too deep
        raise InvalidEvent(NOT_JSON, f"the value is not JSON this system reads: {str(error)[:200]}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _structured(value: bytes | None) -> dict[str, Any]:
    envelope = _json(value)
    if not isinstance(envelope, dict):
        raise InvalidEvent(
            NOT_CLOUDEVENT, f"the value is a JSON {type(envelope).__name__}, not an envelope object"
        )
    if "specversion" not in envelope:
        raise InvalidEvent(
            NOT_CLOUDEVENT, "the value is JSON but not a CloudEvents envelope (no specversion)"
        )
    if "data_base64" in envelope:
        raise InvalidEvent(INVALID_ATTRIBUTE, "data_base64 is not supported: data must be JSON")
    return envelope


def _binary(value: bytes | None, headers: Mapping[str, str]) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        name[3:]: text
        for name, text in headers.items()
        if name.startswith("ce_") and name not in ("ce_data", "ce_data_base64")
    }
    if "content-type" in headers:
        attributes["datacontenttype"] = headers["content-type"]
    if "specversion" not in attributes:
        raise InvalidEvent(NOT_CLOUDEVENT, "ce_* headers without ce_specversion")
    if value:
        attributes["data"] = _json(value)
    return attributes


def _event(attributes: Mapping[str, Any]) -> CloudEvent:
    missing = [name for name in (*REQUIRED, "data") if attributes.get(name) in (None, "")]
    if missing:
        raise InvalidEvent(MISSING_ATTRIBUTE, f"missing attribute {', '.join(missing)}")
    problems = [f"{name} must be a string" for name in REQUIRED if not isinstance(attributes[name], str)]
    if problems:
        raise InvalidEvent(INVALID_ATTRIBUTE, "; ".join(problems))
    if attributes["specversion"] != SPECVERSION:
        raise InvalidEvent(INVALID_ATTRIBUTE, f"specversion {attributes['specversion'][:20]!r} is not 1.0")
    media_type = _media_type(attributes["datacontenttype"])
    if media_type != JSON:
        raise InvalidEvent(INVALID_ATTRIBUTE, f"datacontenttype {media_type[:100]!r} is not {JSON}")
    try:
        time = parse_rfc3339(attributes["time"])
    except InvalidTime as error:
        raise InvalidEvent(INVALID_ATTRIBUTE, f"time: {error}") from None
    return CloudEvent(
        id=attributes["id"],
        source=attributes["source"],
        type=attributes["type"],
        subject=attributes["subject"],
        time=time,
        data=attributes["data"],
        datacontenttype=attributes["datacontenttype"],
        specversion=SPECVERSION,
        extensions=_extensions(attributes),
    )


def _extensions(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Other attributes (dataschema, traceparent, ...) as strings, per the CloudEvents type system."""
    extensions: dict[str, str] = {}
    if _CORE.issuperset(attributes):  # the common case: no extension at all
        return extensions
    for name, value in attributes.items():
        if name in _CORE or value is None:
            continue
        if isinstance(value, bool):
            extensions[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            extensions[name] = str(value)
        else:
            raise InvalidEvent(
                INVALID_ATTRIBUTE, f"attribute {name[:100]} must be a string, number or boolean"
            )
    return extensions


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
