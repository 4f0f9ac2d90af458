"""CloudEvents 1.0 over Kafka: read both binding modes, write structured mode.

Structured mode: the record value is the JSON envelope (content type
``application/cloudevents+json``). Binary mode: the value is ``data`` as JSON and the
attributes travel in ``ce_*`` headers. Anything else raises ``InvalidEvent`` with a short
``error_class`` (``not_json``, ``not_cloudevent``, ``wrong_type``, ``invalid_data``) and a
message that names what is wrong: that is what a dead letter carries.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from handoff_shared.events import EVENT_TYPES, EventData

STRUCTURED = "application/cloudevents+json"
JSON = "application/json"
REQUIRED = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype")
_KNOWN = frozenset((*REQUIRED, "data", "data_base64", "dataschema"))


class InvalidEvent(Exception):
    """A record that is not a valid event of the expected kind."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(f"{error_class}: {message}")
        self.error_class = error_class
        self.message = message


@dataclass(frozen=True)
class CloudEvent:
    """A CloudEvents 1.0 event whose data is JSON."""

    id: str
    source: str
    type: str
    subject: str | None
    time: datetime | None
    data: Any
    datacontenttype: str = JSON
    specversion: str = "1.0"
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
    """A new event; a model's data is dumped as JSON without its unset optional fields."""
    payload = data.model_dump(mode="json", exclude_none=True) if isinstance(data, BaseModel) else dict(data)
    return CloudEvent(
        id=id or str(uuid.uuid4()), source=source, type=type, subject=subject, time=time.astimezone(UTC), data=payload
    )


def encode(event: CloudEvent) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Structured mode: the JSON envelope, and its content-type header."""
    envelope: dict[str, Any] = {
        "specversion": event.specversion,
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": _rfc3339(event.time) if event.time else None,
        "datacontenttype": event.datacontenttype,
        **event.extensions,
        "data": event.data,
    }
    body = json.dumps({k: v for k, v in envelope.items() if v is not None}, separators=(",", ":"), default=str)
    return body.encode(), [("content-type", STRUCTURED.encode())]


def decode(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> CloudEvent:
    """Read a record in either binding mode; raise InvalidEvent saying what is wrong."""
    names = {name.lower(): raw for name, raw in headers}
    if any(name.startswith("ce_") for name in names):
        attributes = _binary_attributes(names)
        attributes["data"] = _json(value)
    else:
        envelope = _json(value)
        if not isinstance(envelope, dict) or "specversion" not in envelope:
            raise InvalidEvent("not_cloudevent", "the value is JSON but not a CloudEvents envelope (no specversion)")
        attributes = envelope
    return _event(attributes)


def decode_typed(
    value: bytes | None, headers: Sequence[tuple[str, bytes]], expected_types: Collection[str]
) -> tuple[CloudEvent, Any]:
    """Read an event of one of ``expected_types`` and validate its data with the contract's model."""
    event = decode(value, headers)
    if event.type not in expected_types:
        expected = ", ".join(sorted(expected_types))
        raise InvalidEvent("wrong_type", f"type {event.type!r} is not expected here (expected: {expected})")
    model = EVENT_TYPES.get(event.type)
    if model is None:
        raise InvalidEvent("wrong_type", f"type {event.type!r} has no model")
    try:
        data: EventData = model.model_validate(event.data)
    except ValidationError as error:
        raise InvalidEvent("invalid_data", _describe(error)) from None
    lead_id = getattr(data, "lead_id", None)
    if lead_id is not None and event.subject != lead_id:
        raise InvalidEvent("invalid_data", f"subject {event.subject!r} differs from data.lead_id {lead_id!r}")
    return event, data


def _json(value: bytes | None) -> Any:
    if not value:
        raise InvalidEvent("not_json", "the record has no value")
    try:
        return json.loads(value)
    except UnicodeDecodeError:
        raise InvalidEvent("not_json", "the value is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InvalidEvent("not_json", f"the value is not JSON: {error.msg} at position {error.pos}") from None


def _binary_attributes(headers: Mapping[str, bytes]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, raw in headers.items():
        if not name.startswith("ce_") and name != "content-type":
            continue
        try:
            text = raw.decode() if raw is not None else ""
        except UnicodeDecodeError:
            raise InvalidEvent("not_cloudevent", f"header {name} is not UTF-8") from None
        attributes["datacontenttype" if name == "content-type" else name[3:]] = text
    return attributes


def _event(attributes: Mapping[str, Any]) -> CloudEvent:
    problems = [f"missing attribute {name}" for name in REQUIRED if attributes.get(name) in (None, "")]
    problems += [
        f"attribute {name} must be a string"
        for name in REQUIRED
        if attributes.get(name) not in (None, "") and not isinstance(attributes[name], str)
    ]
    if problems:
        raise InvalidEvent("not_cloudevent", "; ".join(problems))
    if attributes["specversion"] != "1.0":
        raise InvalidEvent("not_cloudevent", f"specversion {attributes['specversion']!r} is not 1.0")
    content_type = attributes["datacontenttype"].split(";")[0].strip().lower()
    if content_type != JSON:
        raise InvalidEvent("not_cloudevent", f"datacontenttype {content_type!r} is not {JSON}")
    if "data" not in attributes:
        raise InvalidEvent("not_cloudevent", "missing data")
    extensions = {k: str(v) for k, v in attributes.items() if k not in _KNOWN}
    return CloudEvent(
        id=attributes["id"],
        source=attributes["source"],
        type=attributes["type"],
        subject=attributes["subject"],
        time=_parse_time(attributes["time"]),
        data=attributes["data"],
        datacontenttype=attributes["datacontenttype"],
        specversion="1.0",
        extensions=extensions,
    )


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEvent("not_cloudevent", f"time {text!r} is not RFC 3339") from None
    if parsed.tzinfo is None:
        raise InvalidEvent("not_cloudevent", f"time {text!r} has no UTC offset (RFC 3339 needs one)")
    return parsed.astimezone(UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _describe(error: ValidationError) -> str:
    """Every problem of the data, one per field path: ``data.company.employees: ...``."""
    return "; ".join(
        f"data.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" if item["loc"] else f"data: {item['msg']}"
        for item in error.errors()
    )
