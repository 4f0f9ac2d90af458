"""Split a py-spy profile (``--format raw``: collapsed stacks) of a service into the stages of
a lead's path, and print each stage's share of the samples and its CPU µs per lead.

    uv run python scripts/profile_stages.py docs/profiles/router-under-load.txt --cpu-us-per-lead 480
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# The first stage whose marker appears in a stack takes its samples (most specific first).
STAGES: list[tuple[str, tuple[str, ...]]] = [
    (
        "relay: claim, send, mark sent (outbox)",
        ("publish_once (handoff_shared/outbox.py", "_send_in_batches"),
    ),
    ("decode: full models (mql.created) or views", ("decode_batch (handoff_shared/kafka.py",)),
    ("garbage collection", ("<gc>", "gc_collect")),
    ("callbacks: claim, sign, send, record", ("handoff_router/callbacks/",)),
    ("sla-monitor: plan timers, write rows", ("apply (handoff_sla_monitor/timers/service.py",)),
    ("sla-monitor: fire due steps", ("scan_once (handoff_sla_monitor",)),
    ("feedback: facts, merge, count", ("fact_of (", "merge_batch (")),
    ("feedback: lock, save, aggregates, outbox", ("on_records (handoff_feedback",)),
    ("idempotency (processed_events)", ("first_seen (",)),
    ("routing decision (pure core)", ("route (handoff_router/routing/engine.py",)),
    ("build + encode lead.assigned", ("assigned_data", "new_event (", "of_event (", "assignment_row (")),
    ("COPY rows (assignments, outbox)", ("copy_rows (",)),
    ("rest of the routing transaction", ("route_mqls (",)),
    ("Kafka fetch (aiokafka)", ("aiokafka/consumer", "aiokafka/record")),
    ("Kafka produce (aiokafka)", ("aiokafka/producer",)),
    ("HTTP, metrics, event loop, other", ("",)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--cpu-us-per-lead", type=float, default=0.0)
    args = parser.parse_args()
    samples: Counter[str] = Counter()
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        stage = next(name for name, markers in STAGES if any(m in stack for m in markers))
        samples[stage] += int(count)
    total = sum(samples.values())
    print("| stage | share of CPU samples | µs per lead |\n|---|---|---|")
    for name, _ in STAGES:
        share = samples[name] / total if total else 0.0
        if not samples[name]:
            continue
        print(f"| {name} | {share:.0%} | {share * args.cpu_us_per_lead:.0f} |")
    print(f"| **all** | {total} samples | **{args.cpu_us_per_lead:.0f}** |")


if __name__ == "__main__":
    main()
