"""``POST /v1/mqls``: the contract's ``mql.created`` data as a JSON object, a JSON array or
NDJSON, or one CloudEvent in the HTTP binding (structured: ``application/cloudevents+json``;
binary: ``ce-*`` headers and the data as the body). A CloudEvent keeps its own id; plain data
gets an id derived from its content, so posting the same data again emits nothing new.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff_shared import cloudevents, events
from handoff_shared.cloudevents import InvalidEvent

from handoff_router.intake.records import Outcome, Refused, Unreadable, accept_data, content_id, read_json

ADMIN_SOURCE = "api"
NDJSON = ("application/x-ndjson", "application/jsonl", "application/ndjson", "application/json-seq")


def read_mqls(body: bytes, headers: Mapping[str, str]) -> list[Outcome]:
    """Each MQL of the body, accepted or refused."""
    media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type.startswith("application/cloudevents") or "ce-specversion" in headers:
        return [_cloudevent(body, headers, media_type)]
    try:
        if media_type in NDJSON:
            items = [read_json(line) for line in body.splitlines() if line.strip()]
        else:
            payload = read_json(body)
            items = payload if isinstance(payload, list) else [payload]
    except Unreadable as error:
        return [Refused(-1, error.error_class, error.message)]
    return [_data(index, item) for index, item in enumerate(items)]


def _data(index: int, item: Any) -> Outcome:
    if not isinstance(item, dict):
        return Refused(index, "invalid_data", f"record {index}: mql.created data is a JSON object")
    return accept_data(index, item, content_id(ADMIN_SOURCE, item))


def _cloudevent(body: bytes, headers: Mapping[str, str], media_type: str) -> Outcome:
    binding = [
        ("ce_" + name[3:], value.encode()) for name, value in headers.items() if name.startswith("ce-")
    ]
    binding.append(("content-type", (headers.get("content-type") or media_type).encode()))
    try:
        event = cloudevents.decode(body, binding)
    except InvalidEvent as error:
        return Refused(0, error.error_class, error.message)
    if event.type != events.MQL_CREATED:
        return Refused(0, cloudevents.WRONG_TYPE, f"type {event.type[:100]!r} is not mql.created")
    if not isinstance(event.data, dict):
        return Refused(0, cloudevents.INVALID_DATA, "data is not a JSON object")
    outcome = accept_data(0, event.data, event.id)
    if not isinstance(outcome, Refused) and event.subject != outcome.mql.lead_id:
        return Refused(0, cloudevents.SUBJECT_MISMATCH, "subject is not data.lead_id")
    return outcome
