"""Read the services' Dockerfiles: stages, instructions, and the ``uv sync`` each image runs."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"router": "handoff_router", "sla-monitor": "handoff_sla_monitor", "feedback": "handoff_feedback"}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [arguments for name, arguments in self.instructions if name == keyword]


def dockerfile(service: str) -> Path:
    return ROOT / "services" / service / "Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        found.append((keyword.upper(), " ".join(arguments.split())))
    return found


def stages(path: Path) -> list[Stage]:
    args: dict[str, str] = {}
    result: list[Stage] = []
    for keyword, arguments in instructions(path):
        if keyword == "ARG" and not result:
            name, _, default = arguments.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = arguments.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            result.append(Stage(base, parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None))
        elif result:
            result[-1].instructions.append((keyword, arguments))
    return result


def uv_sync_argv(path: Path) -> list[str]:
    """The last ``uv sync`` the build stage runs: the one that installs the service itself."""
    runs = [arguments for stage in stages(path) for arguments in stage.all("RUN") if "uv sync" in arguments]
    return shlex.split(runs[-1])
