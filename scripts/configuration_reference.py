"""Write docs/configuration.md from the settings classes: every ``HANDOFF_*`` variable, its
type, its default and which services read it. ``--check`` fails when the file is stale (a
test runs it).

    uv run python scripts/configuration_reference.py [--check]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from datetime import timedelta
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Any, Literal, get_args, get_origin

from handoff_shared.settings import KafkaSettings, ServiceSettings
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "configuration.md"
SERVICES = {"router": "handoff_router", "sla-monitor": "handoff_sla_monitor", "feedback": "handoff_feedback"}
HEADER = """# Configuration reference

Generated from the settings classes by `uv run python scripts/configuration_reference.py`
(a test fails when this file is stale). Every setting is an environment variable with the
prefix `HANDOFF_`. Durations are written like `500ms`, `5s`, `15m`, `4h`, `2d`. Secrets
(marked *secret*) are never logged; on Kubernetes they come from Secrets
(deploy/k8s, docs/operations.md). `handoff dlq` reads the Kafka settings only.

| variable | type | default | read by |
|---|---|---|---|
"""


def settings_classes() -> dict[str, type[ServiceSettings]]:
    found = {}
    for service, package in SERVICES.items():
        module = importlib.import_module(f"{package}.settings")
        (cls,) = [
            c
            for c in vars(module).values()
            if inspect.isclass(c) and issubclass(c, ServiceSettings) and c.__module__ == module.__name__
        ]
        found[service] = cls
    return found


def describe_type(field: FieldInfo) -> str:
    annotation = field.annotation
    if annotation is SecretStr:
        return "string, *secret*"
    if annotation is timedelta:
        return "duration"
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in get_args(annotation))
    parts = get_args(annotation) if isinstance(annotation, UnionType) else (annotation,)
    names = [getattr(part, "__name__", str(part)) for part in parts if part is not type(None)]
    return " or ".join(names) + (", optional" if type(None) in parts else "")


def describe_default(field: FieldInfo) -> str:
    value: Any = field.default
    if value is PydanticUndefined:
        return "**required**"
    if isinstance(value, SecretStr):
        return "empty" if not value.get_secret_value() else "*set*"
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if seconds >= size and seconds % size == 0:
                return f"`{int(seconds // size)}{unit}`"
        return f"`{int(seconds * 1000)}ms`"
    if isinstance(value, Enum):
        value = value.value
    if value is None or value == "":
        return "empty"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def render() -> str:
    classes = settings_classes()
    rows: dict[str, dict[str, Any]] = {}
    for service, cls in classes.items():
        for name, field in cls.model_fields.items():
            row = rows.setdefault(name, {"field": field, "defaults": {}, "services": []})
            row["services"].append(service)
            row["defaults"][service] = describe_default(field)
    lines = [HEADER]
    for name in sorted(rows, key=lambda n: (n not in KafkaSettings.model_fields, n)):
        row = rows[name]
        defaults = set(row["defaults"].values())
        default = (
            defaults.pop()
            if len(defaults) == 1
            else "; ".join(f"{service}: {value}" for service, value in row["defaults"].items())
        )
        services = "all" if len(row["services"]) == len(classes) else ", ".join(row["services"])
        lines.append(
            f"| `HANDOFF_{name.upper()}` | {describe_type(row['field'])} | {default} | {services} |\n"
        )
    return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="fail when docs/configuration.md is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(
                f"{TARGET.relative_to(ROOT)} is stale: run uv run python scripts/configuration_reference.py"
            )
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
