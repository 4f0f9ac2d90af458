"""The Strimzi KafkaUsers grant each service what it produces and consumes, and no more; the
operator's user reaches every dead-letter topic and the topics they replay to.

What a service produces and consumes is the table below, checked against its code: every
``settings.topic_*`` its package names is in the table, and the topics it hands to
``runtime.consume`` are its consumed ones. Every consumed topic has a dead-letter topic the
service writes (``topics.dead_letter_topic``): its owner's ``<topic>.dlq``, or
``<topic>.<service>.dlq`` for the other services reading it, so each has one writer."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest
from handoff_shared import topics
from handoff_shared.settings import ServiceSettings

from tests.deploy.dockerfiles import ROOT, SERVICES
from tests.deploy.manifests import Object, by_kind, render

STRIMZI_OVERLAYS = ("dev", "prod", "prod-cnpg")

# Settings fields (topic_*) by service: what it reads, what it writes.
CONSUMES = {
    "router": {"topic_mql_created", "topic_lead_escalated"},
    "sla-monitor": {"topic_lead_assigned", "topic_lead_accepted", "topic_lead_rejected"},
    "feedback": {
        "topic_mql_created",
        "topic_lead_assigned",
        "topic_lead_accepted",
        "topic_lead_rejected",
        "topic_lead_escalated",
        "topic_lead_qualified",
        "topic_routing_config",
    },
}
PRODUCES = {
    # lead.escalated: the router's manager notices (parks, auto-pauses) go out by its outbox.
    "router": {
        "topic_lead_assigned",
        "topic_lead_accepted",
        "topic_lead_rejected",
        "topic_lead_qualified",
        "topic_routing_config",
        "topic_lead_escalated",
    },
    "sla-monitor": {"topic_lead_escalated"},
    "feedback": {"topic_scoring_feedback"},
}


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{SERVICES[service]}.settings")
    (found,) = [
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, ServiceSettings) and cls.__module__ == module.__name__
    ]
    return found


def topic_name(service: str, field: str) -> str:
    return str(settings_class(service).model_fields[field].default)


def sources(service: str) -> list[ast.Module]:
    package = ROOT / "services" / service / "src" / SERVICES[service]
    return [
        ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(package.rglob("*.py"))
        if "migrations" not in path.parts
    ]


def topic_fields(node: ast.AST) -> set[str]:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr.startswith("topic_")}


def consumed_in_code(tree: ast.Module) -> set[str]:
    """topic_* fields inside ``*.consume(...)`` calls, and inside the module's functions that
    such a call uses to list its topics (feedback's ``lifecycle_topics``)."""
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    found: set[str] = set()
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        if call.func.attr != "consume" or len(call.args) < 2:
            continue
        listed = call.args[1]
        found |= topic_fields(listed)
        for name in ast.walk(listed):
            if isinstance(name, ast.Name) and name.id in functions:
                found |= topic_fields(functions[name.id])
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_the_table_is_what_the_service_code_uses(service: str) -> None:
    trees = sources(service)
    assert trees
    named = set().union(*(topic_fields(tree) for tree in trees))
    consumed = set().union(*(consumed_in_code(tree) for tree in trees))
    # The router's intake writes the records it cannot turn into MQLs to the MQL dead-letter
    # topic (CONTRACT §10), a dead-letter topic of its own like those of ``dead_letter_topics``.
    named -= {"topic_mql_created_dlq"} if service == "router" else set()
    assert named == CONSUMES[service] | PRODUCES[service], f"{service} names {sorted(named)}"
    assert consumed == CONSUMES[service]


def test_the_table_covers_every_topic_of_the_contract() -> None:
    written = {topic_name(s, f) for s, fields in PRODUCES.items() for f in fields}
    read = {topic_name(s, f) for s, fields in CONSUMES.items() for f in fields}
    ours = {topic.name for topic in topics.TOPICS if not topic.is_dead_letter}
    assert written | read == ours
    for topic in topics.TOPICS:
        producers = {topic.producer, *topic.other_producers} & set(SERVICES)
        if topic.is_dead_letter:
            assert producers <= {s for s in SERVICES if topic.name in dead_letter_topics(s)}, topic.name
            continue
        assert producers == {s for s, fields in PRODUCES.items() if topic.name in _names(s, fields)}, (
            topic.name
        )


def _names(service: str, fields: set[str]) -> set[str]:
    return {topic_name(service, field) for field in fields}


def dead_letter_topics(service: str) -> set[str]:
    return {topics.dead_letter_topic(topic, service) for topic in _names(service, CONSUMES[service])}


def granted(user: Object, resource_type: str, name: str, operation: str) -> bool:
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        if resource["type"] != resource_type or operation not in acl["operations"]:
            continue
        pattern = resource.get("patternType", "literal")
        if (pattern == "literal" and resource["name"] in {name, "*"}) or (
            pattern == "prefix" and name.startswith(resource["name"])
        ):
            return True
    return False


def users(overlay: str) -> dict[str, Object]:
    return {user["metadata"]["name"]: user for user in by_kind(render(overlay), "KafkaUser")}


def topic_acl_names(user: Object, operation: str) -> set[str]:
    return {
        acl["resource"]["name"]
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["type"] == "topic" and operation in acl["operations"]
    }


@pytest.mark.parametrize("overlay", STRIMZI_OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_user_may_read_what_it_consumes_and_write_what_it_produces(
    overlay: str, service: str
) -> None:
    user = users(overlay)[f"handoff-{service}"]
    reads = _names(service, CONSUMES[service])
    writes = _names(service, PRODUCES[service]) | dead_letter_topics(service)
    for topic in reads:
        assert granted(user, "topic", topic, "Read"), f"{service} cannot read {topic}"
    for topic in reads | writes:
        assert granted(user, "topic", topic, "Describe"), f"{service} cannot describe {topic}"
    for topic in writes:
        assert granted(user, "topic", topic, "Write"), f"{service} cannot write {topic}"
    # Least privilege: literal grants only, and no more than the table.
    assert topic_acl_names(user, "Read") == reads
    assert topic_acl_names(user, "Write") == writes
    groups = {
        str(field.default)
        for name, field in settings_class(service).model_fields.items()
        if name.endswith("group")
    }
    assert groups
    for group in groups:
        assert granted(user, "group", group, "Read"), f"{service} cannot join {group}"


@pytest.mark.parametrize("overlay", STRIMZI_OVERLAYS)
def test_the_operator_user_reads_every_dead_letter_topic_and_writes_where_replay_sends(overlay: str) -> None:
    user = users(overlay)["handoff-operator"]
    for service in SERVICES:
        for dead_letters in dead_letter_topics(service):
            original = next(
                t
                for t in _names(service, CONSUMES[service])
                if topics.dead_letter_topic(t, service) == dead_letters
            )
            assert granted(user, "topic", dead_letters, "Read"), dead_letters
            assert granted(user, "topic", dead_letters, "Describe"), dead_letters
            assert granted(user, "topic", original, "Write"), original
        for name, field in settings_class(service).model_fields.items():
            if name.endswith("group"):
                assert granted(user, "group", str(field.default), "Read"), "consumer-group resets"


def test_each_dead_letter_topic_has_one_writer() -> None:
    writers: dict[str, set[str]] = {}
    for service in SERVICES:
        for topic in dead_letter_topics(service):
            writers.setdefault(topic, set()).add(service)
    assert {topic: sorted(services) for topic, services in writers.items() if len(services) > 1} == {}
    assert writers[topics.MQL_CREATED_DLQ] == {"router"}
    assert writers["lead.mql-created.feedback.dlq"] == {"feedback"}


def test_the_acl_check_refuses_a_missing_write() -> None:
    user = users("prod")["handoff-router"]
    assert granted(user, "topic", topics.LEAD_ESCALATED, "Write")
    assert not granted(user, "topic", topics.SCORING_FEEDBACK, "Write")
    assert not granted(user, "topic", "lead.escalated.x", "Write"), "a literal grant is not a prefix"
    assert not granted(users("prod")["handoff-operator"], "topic", topics.SCORING_FEEDBACK, "Write")
