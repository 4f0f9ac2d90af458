"""The Prometheus alert rules and the Grafana dashboard of deploy/observability: every
expression parses as PromQL, every metric it names is one the services export (or one of the
few that come from elsewhere), and every alert says what it means and where the runbook is."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from functools import cache
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

from tests.deploy.dockerfiles import ROOT

OBSERVABILITY = ROOT / "deploy" / "observability"
RULES = OBSERVABILITY / "prometheus" / "handoff-alerts.yaml"
DASHBOARD = OBSERVABILITY / "grafana" / "handoff.json"
RUNBOOK = ROOT / "docs" / "operations.md"
# Not the services': Prometheus' own `up`, and Strimzi's Kafka Exporter.
EXTERNAL = {"up", "kafka_consumergroup_lag"}
# The feedback service's acceptance-alert metrics (gauge ..._open{direction}, counter
# ..._total{direction}), being added beside this rule in the feedback service's own change:
# accepted here only while no service exports them yet, so a misspelling is still caught once
# they are.
ANNOUNCED = {"handoff_feedback_acceptance_alerts_open", "handoff_feedback_acceptance_alerts_total"}
PACKAGES = ("handoff_shared", "handoff_router", "handoff_sla_monitor", "handoff_feedback")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


@cache
def exported_metrics() -> frozenset[str]:
    """Every series name the services' modules register with prometheus_client."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
    return frozenset(names)


def known_metrics() -> frozenset[str]:
    """What a rule or panel may name: exported, external, or announced and not yet exported."""
    exported = exported_metrics()
    return exported | EXTERNAL | (ANNOUNCED if not exported & ANNOUNCED else frozenset())


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (label matchers and strings left out)."""
    bare = re.sub(r'"[^"]*"', '""', expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
    functions = {
        "sum",
        "max",
        "min",
        "avg",
        "count",
        "rate",
        "increase",
        "deriv",
        "histogram_quantile",
        "and",
        "or",
        "unless",
        "label_values",
        "irate",
        "delta",
        "abs",
        "clamp_min",
    }
    return {
        name
        for name in re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", bare)
        if name not in functions and not re.fullmatch(r"\d+[smhdw]?|le|e", name)
    }


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def as_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables given values."""
    return expr.replace("$__rate_interval", "5m").replace("$service", ".*")


def test_every_alert_expression_parses_and_names_exported_metrics() -> None:
    assert rules()
    for rule in rules():
        promql_parser.parse(rule["expr"])
        unknown = metric_names(rule["expr"]) - known_metrics()
        assert not unknown, f"{rule['alert']}: {sorted(unknown)} are not exported by any service"


def test_every_alert_has_severity_summary_and_a_runbook_section() -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in runbook.splitlines()
        if line.startswith("#")
    }
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor in anchors, f"{rule['alert']}: docs/operations.md has no section #{anchor}"
        for text in rule["annotations"].values():
            assert text.count("{{") == text.count("}}"), rule["alert"]


def test_rules_cover_what_an_sre_watches() -> None:
    watched = " ".join(rule["expr"] for rule in rules())
    for metric in (
        "kafka_consumergroup_lag",
        "handoff_outbox_oldest_age_seconds",
        "handoff_dead_letters_total",
        "handoff_sla_scan_lag_seconds_bucket",
        "handoff_http_requests_total",
        "handoff_callback_oldest_pending_seconds",
        "handoff_callback_open_circuits",
        "handoff_callback_attempts_total",
        "handoff_feedback_acceptance_alerts_open",
    ):
        assert metric in watched, metric


def test_dashboard_queries_parse_and_name_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        promql_parser.parse(as_promql(expr))
        unknown = metric_names(as_promql(expr)) - known_metrics()
        assert not unknown, f"{expr}: {sorted(unknown)}"


@pytest.mark.parametrize("broken", ["sum(rate(handoff_dead_letters_total[5m])", "rate(x[5q])", "x >"])
def test_the_parser_refuses_broken_promql(broken: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the parser says only ValueError
        promql_parser.parse(broken)


def test_a_misspelled_metric_would_be_caught() -> None:
    assert metric_names("sum by (service) (rate(handoff_dead_leters_total[5m]))") - exported_metrics() == {
        "handoff_dead_leters_total"
    }


def test_dashboard_has_a_callbacks_row_with_backlog_age_failures_and_circuits() -> None:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    rows = [i for i, panel in enumerate(panels) if panel["type"] == "row"]
    start = next(i for i in rows if panels[i]["title"] == "Callbacks")
    end = next((i for i in rows if i > start), len(panels))
    named = {
        name
        for panel in panels[start + 1 : end]
        for target in panel["targets"]
        for name in metric_names(as_promql(target["expr"]))
    }
    assert named >= {
        "handoff_callback_pending",
        "handoff_callback_oldest_pending_seconds",
        "handoff_callback_attempts_total",
        "handoff_callback_open_circuits",
    }
    assert named <= exported_metrics()
