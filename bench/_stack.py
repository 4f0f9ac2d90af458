"""What every benchmark shares: the stack's addresses and the report convention of bench/README.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def stack_env() -> dict[str, str]:
    """The addresses ``make up`` wrote to ``.run/stack.env``."""
    path = ROOT / ".run" / "stack.env"
    if not path.exists():
        raise SystemExit(f"{path} is missing: start the stack with `make up` first")
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A parser with the options every benchmark takes (``--report DIR``, ``--quick``)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--report", type=Path, help="write <name>.md (a markdown section) and <name>.json into this folder"
    )
    parser.add_argument("--quick", action="store_true", help="a shorter run (for trying it out)")
    return parser


def write_report(report: Path | None, name: str, markdown: str, figures: dict[str, Any]) -> None:
    """Print the section, and write it and the figures where ``make bench`` collects them."""
    print(markdown)
    if report is None:
        return
    report.mkdir(parents=True, exist_ok=True)
    (report / f"{name}.md").write_text(markdown.rstrip() + "\n")
    (report / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
