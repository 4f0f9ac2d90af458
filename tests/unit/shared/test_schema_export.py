"""The committed JSON Schemas and AsyncAPI document are what the models generate, and they hang together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from handoff_shared import cloudevents, schemas, topics
from handoff_shared.events import EVENT_TYPES

from tests.unit.shared.samples import data_of

DOCS = Path(__file__).resolve().parents[3] / "docs"


def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DOCS / schemas.ASYNCAPI_FILE).read_text(encoding="utf-8"))
    return document


def test_committed_schemas_and_asyncapi_are_what_the_models_generate(tmp_path: Path) -> None:
    written = schemas.write(tmp_path)

    generated = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert sorted(written) == generated
    stale = [name for name in generated if _text(DOCS / name) != _text(tmp_path / name)]
    assert not stale, f"stale: {stale}; run `uv run python -m handoff_shared.schemas`"
    assert schemas.stale(DOCS) == []


def _text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def test_generation_is_deterministic() -> None:
    assert schemas.render() == schemas.render()


def test_check_lists_changed_missing_and_leftover_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schemas.main(["--docs", str(tmp_path)]) == 0
    assert schemas.main(["--docs", str(tmp_path), "--check"]) == 0
    (tmp_path / "schemas" / "lead.accepted.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "schemas" / "mql.created.json").unlink()
    (tmp_path / "schemas" / "lead.deleted.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()

    assert schemas.main(["--docs", str(tmp_path), "--check"]) == 1

    err = capsys.readouterr().err
    for name in ("lead.accepted.json", "mql.created.json", "lead.deleted.json"):
        assert f"stale: {tmp_path / 'schemas' / name}" in err
    assert schemas.main(["--docs", str(tmp_path)]) == 0
    assert schemas.stale(tmp_path) == []
    assert not (tmp_path / "schemas" / "lead.deleted.json").exists()


def test_schema_files_have_sorted_keys_and_a_trailing_newline() -> None:
    for event_type in EVENT_TYPES:
        text = (DOCS / "schemas" / f"{event_type}.json").read_text(encoding="utf-8")
        assert text.endswith("}\n")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_exported_schema_accepts_the_sample_and_refuses_a_missing_required_field(event_type: str) -> None:
    schema = json.loads((DOCS / "schemas" / f"{event_type}.json").read_text(encoding="utf-8"))
    validator = jsonschema_rs.validator_for(schema)
    data = data_of(event_type)

    assert validator.is_valid(data)
    assert validator.is_valid(data | {"something_new": {"nested": True}})
    first_required = schema["required"][0]
    assert not validator.is_valid({k: v for k, v in data.items() if k != first_required})


def test_every_contract_topic_is_a_channel_at_its_address_with_a_kafka_binding() -> None:
    channels = asyncapi()["channels"]
    by_address = {channel["address"]: channel for channel in channels.values()}

    assert {topic.name for topic in topics.TOPICS} <= set(by_address)
    assert set(by_address) >= {
        "lead.mql-created",
        "lead.mql-created.dlq",
        "lead.assigned",
        "lead.accepted",
        "lead.rejected",
        "lead.escalated",
        "scoring.feedback",
    }
    for topic in topics.TOPICS:
        assert by_address[topic.name]["bindings"]["kafka"]["topic"] == topic.name


def test_every_event_type_has_a_message_whose_data_is_its_schema_file() -> None:
    messages = asyncapi()["components"]["messages"]
    by_name = {message["name"]: message for message in messages.values()}

    for event_type in EVENT_TYPES:
        message = by_name[event_type]
        envelope, typed = message["payload"]["allOf"]
        assert envelope == {"$ref": "#/components/schemas/CloudEventEnvelope"}
        assert typed["properties"]["type"] == {"const": event_type}
        assert (DOCS / typed["properties"]["data"]["$ref"]).is_file()
        assert message["contentType"] == cloudevents.STRUCTURED
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_dead_letter_message_carries_the_contract_headers() -> None:
    headers = asyncapi()["components"]["messages"]["deadLetter"]["headers"]

    assert headers["required"] == [
        "error.class",
        "error.message",
        "error.stage",
        "original.topic",
        "original.partition",
        "original.offset",
    ]
    assert headers["properties"]["error.class"]["enum"] == list(
        dict.fromkeys((*cloudevents.ERROR_CLASSES, *schemas.INTAKE_ERROR_CLASSES))
    )


def test_every_topic_has_a_send_operation_by_its_producer() -> None:
    document = asyncapi()
    sent = {
        document["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]
        for op in document["operations"].values()
        if op["action"] == "send"
    }
    assert {topic.name for topic in topics.TOPICS} <= sent


def test_every_internal_reference_resolves() -> None:
    document = asyncapi()
    for ref in _refs(document):
        if not ref.startswith("#/"):
            assert (DOCS / ref).is_file(), ref
            continue
        node: Any = document
        for part in ref[2:].split("/"):
            assert part in node, ref
            node = node[part]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_the_router_is_a_sender_of_lead_escalated_beside_the_sla_monitor() -> None:
    document = asyncapi()
    senders = {
        op["summary"].split(" ", 1)[0]
        for op in document["operations"].values()
        if op["action"] == "send" and op["channel"] == {"$ref": "#/channels/leadEscalated"}
    }
    assert senders == {"sla-monitor", "router"}
    assert "Producers: sla-monitor, router." in document["channels"]["leadEscalated"]["description"]
