"""Export the event contract: JSON Schema per event type and an AsyncAPI 3.0 document.

``python -m handoff_shared.schemas [--docs DIR]`` writes ``DIR/schemas/<event-type>.json`` and
``DIR/asyncapi.yaml`` (DIR defaults to ``docs``); ``--check`` writes nothing and exits 1 listing
the files that are stale, missing, or no longer generated.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from handoff_shared import cloudevents, topics
from handoff_shared.events import EVENT_TYPES
from handoff_shared.topics import DLQ_HEADERS, TOPICS, Topic

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "https://handoff.dev/schemas/"
KAFKA_BINDING_VERSION = "0.5.0"
ASYNCAPI_FILE = "asyncapi.yaml"
SCHEMAS_DIR = "schemas"

# Topics this system reads, whose unreadable records go to ``<topic>.dlq`` (MQLs: the contract's DLQ)
# when the topic's first consumer refuses them, and to ``<topic>.<service>.dlq`` when another does.
_DEAD_LETTERED = (
    topics.LEAD_ASSIGNED,
    topics.LEAD_ACCEPTED,
    topics.LEAD_REJECTED,
    topics.LEAD_ESCALATED,
    topics.LEAD_QUALIFIED,
    topics.ROUTING_CONFIG,
)


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one event type's ``data``."""
    schema = EVENT_TYPES[event_type].model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": f"{SCHEMA_ID_BASE}{event_type}.json", **schema}


def render() -> dict[str, str]:
    """Every generated file, by its path under the docs folder, as the exact text to write."""
    files = {
        f"{SCHEMAS_DIR}/{event_type}.json": json.dumps(event_schema(event_type), indent=2, sort_keys=True)
        + "\n"
        for event_type in sorted(EVENT_TYPES)
    }
    files[ASYNCAPI_FILE] = yaml.dump(
        asyncapi(), Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=100
    )
    return files


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated objects out in full: YAML anchors would only puzzle AsyncAPI readers."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document: one channel per topic, its messages, and who sends and receives."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS:
        channel_id = _camel(topic.name)
        if topic.is_dead_letter:
            channel_messages = {"deadLetter": {"$ref": "#/components/messages/deadLetter"}}
        else:
            channel_messages = {
                _camel(t): {"$ref": f"#/components/messages/{_camel(t)}"} for t in topic.event_types
            }
            messages.update({_camel(t): _event_message(t, topic) for t in topic.event_types})
        channels[channel_id] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.description} {_producers(topic)}. Key: {topic.key}.",
            "messages": channel_messages,
            "bindings": {"kafka": {"topic": topic.name, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        operations.update(_operations(channel_id, topic, list(channel_messages)))
    channels["deadLetters"] = _dead_letters_channel()
    channels["serviceDeadLetters"] = _service_dead_letters_channel()
    operations["servicesSendDeadLetters"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/deadLetters"},
        "summary": "router, sla-monitor, feedback: records of their other topics that could not be read.",
        "messages": [{"$ref": "#/channels/deadLetters/messages/deadLetter"}],
    }
    operations["feedbackSendsDeadLetters"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/serviceDeadLetters"},
        "summary": "feedback: records of the topics it shares with another consumer that it could not read.",
        "messages": [{"$ref": "#/channels/serviceDeadLetters/messages/deadLetter"}],
    }
    messages["deadLetter"] = _dead_letter_message()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Handoff events",
            "version": "1.0.0",
            "description": (
                "The topics of Handoff's lead routing (CONTRACT §1-3). Every event is a CloudEvents 1.0"
                " event. Producers write structured mode (value: the JSON envelope, header content-type:"
                f" {cloudevents.STRUCTURED}); consumers also accept binary mode (value: data as JSON,"
                " attributes in ce_* headers, content-type: application/json). Operations name who sends"
                " and who receives each topic, inside Handoff and around it."
            ),
        },
        "defaultContentType": cloudevents.STRUCTURED,
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {"CloudEventEnvelope": _envelope_schema()},
            "messages": messages,
        },
    }


def _camel(name: str) -> str:
    first, *rest = re.split(r"[^A-Za-z0-9]+", name)
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _producers(topic: Topic) -> str:
    if not topic.other_producers:
        return f"Producer: {topic.producer}"
    return f"Producers: {', '.join((topic.producer, *topic.other_producers))}"


def _operations(channel_id: str, topic: Topic, message_ids: list[str]) -> dict[str, Any]:
    refs = [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"} for message_id in message_ids]
    channel = {"$ref": f"#/channels/{channel_id}"}
    suffix = channel_id[:1].upper() + channel_id[1:]
    found = {
        f"{_camel(producer)}Send{suffix}": {
            "action": "send",
            "channel": channel,
            "summary": f"{producer} publishes to {topic.name}.",
            "messages": refs,
        }
        for producer in (topic.producer, *topic.other_producers)
    }
    for consumer in topic.consumers:
        found[f"{_camel(consumer)}Receive{suffix}"] = {
            "action": "receive",
            "channel": channel,
            "summary": f"{consumer} consumes {topic.name}.",
            "messages": refs,
        }
    return found


def _envelope_schema() -> dict[str, Any]:
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 envelope (structured mode); other attributes are extensions.",
        "required": [*cloudevents.REQUIRED, "data"],
        "properties": {
            "specversion": {"type": "string", "const": cloudevents.SPECVERSION},
            "id": {**text, "description": "Unique per event: the idempotency key."},
            "source": {**text, "description": "URI-reference of the producing service."},
            "type": {**text, "description": "The event type."},
            "time": {"type": "string", "format": "date-time", "description": "RFC 3339 with offset."},
            "subject": {**text, "description": "The lead_id."},
            "datacontenttype": {"type": "string", "const": cloudevents.JSON},
            "data": {"type": "object"},
        },
        "additionalProperties": {"type": ["string", "integer", "boolean"]},
    }


def _event_message(event_type: str, topic: Topic) -> dict[str, Any]:
    model = EVENT_TYPES[event_type]
    return {
        "name": event_type,
        "title": model.__name__,
        "summary": (model.__doc__ or "").strip().splitlines()[0],
        "contentType": cloudevents.STRUCTURED,
        "headers": {
            "type": "object",
            "properties": {"content-type": {"type": "string", "const": cloudevents.STRUCTURED}},
        },
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEventEnvelope"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type},
                        "data": {"$ref": f"{SCHEMAS_DIR}/{event_type}.json"},
                    },
                },
            ]
        },
        "bindings": _key_binding("lead_id" if "lead_id" in model.model_fields else topic.key)["bindings"],
    }


def _key_binding(key: str) -> dict[str, Any]:
    return {
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": key},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    }


INTAKE_ERROR_CLASSES = ("not_records", "too_deep", "too_many_records", "mapping_failed", "invalid_data")
"""Why intake dead-letters a delivery's record (``error.stage`` = ``intake``), beside the decoding
classes of ``cloudevents`` (``not_json``, ``invalid_data``...)."""


def _dead_letter_message() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "A record that could not be read: its original bytes, unchanged, and why in headers.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "description": "The original record's headers are kept beside these.",
            "required": list(topics.DLQ_HEADER_NAMES),
            "properties": {
                DLQ_HEADERS.error_class: {
                    **text,
                    "enum": list(dict.fromkeys((*cloudevents.ERROR_CLASSES, *INTAKE_ERROR_CLASSES))),
                },
                DLQ_HEADERS.error_message: {**text, "description": "What is wrong, naming fields."},
                DLQ_HEADERS.error_stage: {
                    **text,
                    "description": (
                        "Where it failed: decode (a consumer could not read it), handle (it failed alone"
                        " after its batch failed), or intake (it came over HTTP, POST /v1/intake/{source_id}"
                        " or POST /v1/mqls, and the payload is the delivery's body)."
                    ),
                },
                DLQ_HEADERS.original_topic: text,
                DLQ_HEADERS.original_partition: {
                    **text,
                    "pattern": "^-?[0-9]+$",
                    "description": "-1 at the intake stage: the record came over HTTP, not from a topic.",
                },
                DLQ_HEADERS.original_offset: {**text, "pattern": "^-?[0-9]+$"},
                DLQ_HEADERS.error_service: {**text, "description": "The service whose consumer refused it."},
            },
        },
        "payload": {"description": "The original value, byte for byte (possibly not JSON, possibly empty)."},
        "bindings": _key_binding("the original record's key")["bindings"],
    }


def _dead_letters_channel() -> dict[str, Any]:
    return {
        "address": "{topic}" + topics.DLQ_SUFFIX,
        "title": "<topic>.dlq",
        "description": (
            "Dead letters of the other topics Handoff's services consume (the MQL topic has its own,"
            f" {topics.MQL_CREATED_DLQ})."
        ),
        "parameters": {"topic": {"enum": list(_DEAD_LETTERED), "description": "The consumed topic."}},
        "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
    }


def _service_dead_letters_channel() -> dict[str, Any]:
    shared = [t.name for t in TOPICS if not t.is_dead_letter and len(set(t.consumers) & _SERVICES) > 1]
    return {
        "address": "{topic}.{service}" + topics.DLQ_SUFFIX,
        "title": "<topic>.<service>.dlq",
        "description": (
            "Dead letters of a topic two services read, written by the one that is not its first"
            " consumer: each dead-letter topic has one writer and holds each bad record once"
            f" ({topics.MQL_CREATED_DLQ} is the router's alone)."
        ),
        "parameters": {
            "topic": {"enum": shared, "description": "The consumed topic."},
            "service": {"enum": ["feedback"], "description": "The service that refused the record."},
        },
        "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
    }


_SERVICES = {"router", "sla-monitor", "feedback"}


def stale(docs: Path) -> list[str]:
    """Files under ``docs`` that differ from what would be generated, are missing, or are left over."""
    expected = render()
    found = [path for path, text in expected.items() if _read(docs / path) != text]
    schemas = docs / SCHEMAS_DIR
    leftovers = sorted(schemas.glob("*.json")) if schemas.is_dir() else []
    found += [f"{SCHEMAS_DIR}/{p.name}" for p in leftovers if f"{SCHEMAS_DIR}/{p.name}" not in expected]
    return sorted(found)


def write(docs: Path) -> list[str]:
    """Write every generated file under ``docs`` and remove leftover schemas; return what changed."""
    changed = stale(docs)
    expected = render()
    for path in changed:
        target = docs / path
        if path in expected:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(expected[path], encoding="utf-8")
        else:
            target.unlink()
    return changed


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handoff_shared.schemas", description=__doc__)
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="docs folder (default: docs)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale(args.docs)
        for path in outdated:
            sys.stderr.write(f"stale: {args.docs / path}\n")
        if outdated:
            sys.stderr.write("run: python -m handoff_shared.schemas\n")
        return 1 if outdated else 0
    for path in write(args.docs):
        sys.stdout.write(f"wrote {args.docs / path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
