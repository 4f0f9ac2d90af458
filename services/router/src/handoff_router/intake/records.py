"""From a delivery's bytes to ``mql.created`` data, record by record: read the JSON, split it
as the preset says, filter by the source's ``when``, map the contract's fields, normalise,
validate. Each record ends accepted (with a deterministic event id), filtered, or refused with
the reason its dead letter carries. Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from handoff_shared.cloudevents import describe
from handoff_shared.events import MqlCreated
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import ValidationError

from handoff_router.intake.presets import NotRecords, Preset
from handoff_router.routing.normalisation import MAX_AMOUNT, MAX_EMPLOYEES, normalise_mql

NAMESPACE = uuid.UUID("6f1c2d5e-8a43-4b7e-9d0a-3c5e1f2a9b84")
"""The namespace of intake's event ids: uuid5 of the source and the record's identity."""
MAX_DEPTH = 32
MAX_RECORDS = 10_000
TEXT_FIELDS = ("first_name", "last_name", "title", "phone", "region", "postal_code", "source", "campaign")


class Unreadable(ValueError):
    """A delivery that is not JSON this system reads; ``error_class`` as dead letters name it."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


@dataclass(frozen=True)
class Accepted:
    index: int
    event_id: str
    mql: MqlCreated


@dataclass(frozen=True)
class Filtered:
    index: int


@dataclass(frozen=True)
class Refused:
    index: int
    error_class: str
    message: str


Outcome = Accepted | Filtered | Refused


def read_json(body: bytes) -> Any:
    """The delivery as JSON: UTF-8, no NaN, nested at most ``MAX_DEPTH`` deep; else Unreadable."""
    if not body.strip():
        raise Unreadable("not_json", "the body is empty")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:  # orjson refuses integers over 64 bits; the standard parser names other problems
            payload = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
        except UnicodeDecodeError as error:
            raise Unreadable("not_json", f"the body is not UTF-8 text (byte {error.start})") from None
        except json.JSONDecodeError as error:
            raise Unreadable(
                "not_json", f"the body is not JSON: {error.msg} at position {error.pos}"
            ) from None
        except (ValueError, RecursionError) as error:
            raise Unreadable(
                "not_json", f"the body is not JSON this system reads: {str(error)[:200]}"
            ) from None
    if _deeper_than(payload, MAX_DEPTH):
        raise Unreadable("too_deep", f"the body is nested more than {MAX_DEPTH} levels deep")
    return payload


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _deeper_than(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def split(preset: Preset, payload: Any) -> list[Any]:
    """The delivery's records, as the tool posts them; Unreadable when its shape is not the tool's."""
    try:
        records = preset.records(payload)
    except NotRecords as error:
        raise Unreadable("not_records", str(error)) from None
    if len(records) > MAX_RECORDS:
        raise Unreadable("too_many_records", f"{len(records)} records; at most {MAX_RECORDS} a delivery")
    return records


def event_id(source_id: str, identity: str) -> str:
    """The ``mql.created`` id of a record: the same record from the same source, the same id."""
    return str(uuid.uuid5(NAMESPACE, f"{source_id}\n{identity}"))


def map_record(
    index: int,
    record: Any,
    *,
    source_id: str,
    preset: Preset,
    when: ParsedResult | None,
    overrides: Mapping[str, ParsedResult],
) -> Outcome:
    """One record's outcome: filtered by ``when``, accepted as valid MQL data, or refused."""
    if not isinstance(record, dict):
        return Refused(index, "not_records", f"record {index}: a JSON object was expected")
    try:
        if when is not None and not when.search(record):
            return Filtered(index)
        data = _mapped(record, preset, overrides)
        identity = preset.compiled_identity.search(record) if preset.compiled_identity else None
    except JMESPathError as error:
        return Refused(index, "mapping_failed", f"record {index}: {str(error)[:300]}")
    lead_id = data.get("lead_id")
    if isinstance(lead_id, int | float) and not isinstance(lead_id, bool):
        lead_id = data["lead_id"] = f"{lead_id:.0f}" if isinstance(lead_id, float) else str(lead_id)
    if lead_id is None and isinstance(data.get("email"), str):
        data["lead_id"] = str(uuid.uuid5(NAMESPACE, data["email"].strip().lower()))
    if isinstance(data.get("lead_id"), str) and "lead_id" not in overrides:
        data["lead_id"] = preset.lead_prefix + data["lead_id"]
    key = identity if isinstance(identity, str) and identity else _canonical(record)
    return accept_data(index, data, event_id(source_id, key))


def accept_data(index: int, data: Mapping[str, Any], event_id: str) -> Accepted | Refused:
    """MQL data normalised and validated as ``mql.created``, or refused saying why."""
    try:
        mql = MqlCreated.model_validate(normalise_mql(data))
    except ValidationError as error:
        return Refused(index, "invalid_data", f"record {index}: {describe(error)}"[:4000])
    problem = _out_of_range(mql)
    if problem is not None:
        return Refused(index, "invalid_data", f"record {index}: {problem}")
    return Accepted(index, event_id, mql)


def content_id(source_id: str, record: Any) -> str:
    """The event id of a record identified by nothing but its content."""
    return event_id(source_id, _canonical(record))


def _mapped(
    record: Mapping[str, Any], preset: Preset, overrides: Mapping[str, ParsedResult]
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for path, expression in {**preset.compiled, **overrides}.items():
        value = expression.search(record)
        if value is None or value == "" or value == [] or value == {}:
            continue
        if path in TEXT_FIELDS and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        _put(data, path.split("."), value)
    return data


def _put(target: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = value


def _out_of_range(mql: MqlCreated) -> str | None:
    company = mql.company
    if company is not None and company.employees is not None and company.employees > MAX_EMPLOYEES:
        return f"data.company.employees: {company.employees} is more than {MAX_EMPLOYEES}"
    amounts = {
        "data.score": mql.score,
        "data.company.annual_revenue": company.annual_revenue if company else None,
    }
    for where, amount in amounts.items():
        if amount is not None and (not math.isfinite(amount) or abs(amount) > MAX_AMOUNT):
            return f"{where}: {amount} is out of range (at most {MAX_AMOUNT:.0e})"
    return None


def _canonical(record: Any) -> str:
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # integers over 64 bits
        return json.dumps(record, sort_keys=True, separators=(",", ":"))
