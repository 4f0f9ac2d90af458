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


# The consumer groups of `make up` that read the lead lifecycle (the stack's defaults).
LIFECYCLE_GROUPS = (
    "handoff-router",
    "handoff-router-reassign",
    "handoff-sla-monitor-timers",
    "handoff-feedback-outcomes",
)


async def consumer_lag(bootstrap: str, groups: tuple[str, ...] | None = None) -> int:
    """Records the services' consumer groups (``groups``, else every ``handoff-*`` one) have not
    committed yet, in all, dead-letter topics aside."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await probe.start()
    try:
        total = 0
        for group, _ in await admin.list_consumer_groups():
            if not group.startswith("handoff-") or (groups is not None and group not in groups):
                continue
            committed = await admin.list_consumer_group_offsets(group)
            partitions = [tp for tp in committed if not tp.topic.endswith(".dlq")]
            if partitions:
                ends = await probe.end_offsets(partitions)
                total += sum(max(ends[tp] - committed[tp].offset, 0) for tp in partitions)
        return total
    finally:
        await probe.stop()
        await admin.close()


async def wait_consumed(bootstrap: str, timeout: float = 600) -> None:
    """Wait until the lifecycle consumers (router, sla-monitor, feedback) have committed
    everything on their topics."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while await consumer_lag(bootstrap, LIFECYCLE_GROUPS):
        if time.monotonic() > deadline:
            raise SystemExit(f"the services did not consume everything in {timeout:.0f} s")
        await asyncio.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
