"""``make bench``: run every benchmark of bench/ on the local stack and write docs/benchmarks.md.

    make bench                     # every benchmark, full length
    uv run python bench/run.py --quick --only routing_latency

Each benchmark is a script ``bench/<name>.py`` (files starting with ``_`` and this one are
not) that follows the convention of bench/README.md: it takes ``--report DIR`` (and
``--quick``) and writes ``DIR/<name>.md``, one markdown section, and ``DIR/<name>.json``, its
figures. This runner starts the stack (``make up``), runs them one after the other while
sampling the resident memory of each service, and writes the machine, the date, every
section and the peak RSS table to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _stack import consumer_lag

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SERVICES = ("router", "sla-monitor", "feedback")
# Run first: the ceilings and the routing figures the others are compared with.
ORDER = ("postgres_ceiling", "routing_throughput", "routing_latency")
RSS_GOAL_MB = 200
SETTLE_SECONDS = 300  # the longest wait for the services to catch up between benchmarks


def benchmarks() -> list[str]:
    names = [p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_") and p.stem != "run"]
    return sorted(names, key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name))


def group_rss_kb(pgid: int) -> int:
    """The largest resident set of the processes in a process group (the service's python)."""
    largest = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                largest = max(largest, int(line.split()[1]))
    return largest


class RssSampler:
    """Samples each service's RSS twice a second; keeps the peak per benchmark."""

    def __init__(self) -> None:
        self.peaks: dict[str, dict[str, int]] = {}
        self.current = "idle"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _pgids(self) -> dict[str, int]:
        pgids = {}
        for name in SERVICES:
            try:
                pgids[name] = int((ROOT / ".run" / "pids" / f"{name}.pid").read_text())
            except (OSError, ValueError):
                continue
        return pgids

    def _run(self) -> None:
        while not self._stop.is_set():
            peaks = self.peaks.setdefault(self.current, {})
            for name, pgid in self._pgids().items():
                peaks[name] = max(peaks.get(name, 0), group_rss_kb(pgid))
            self._stop.wait(0.5)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def machine() -> list[str]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line
    )
    load = os.getloadavg()
    return [
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {cpu}, {os.cpu_count()} cores, {memory_kb / 1024 / 1024:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}; load average before the run {load[0]:.2f}",
        f"- Python {platform.python_version()}; Kafka, PostgreSQL and the three services of `make up` "
        "on the same cores as the benchmarks",
    ]


def settle(limit: float = SETTLE_SECONDS) -> tuple[float, int, int]:
    """Wait until the services have consumed what the benchmark before left them (their consumer
    groups' lag is 0, or has not moved for 30 s: a group nobody reads any more), so a benchmark is
    not measured while the others' backlog still holds the cores. Answers the seconds waited and
    the lag at the start and at the end."""
    env = {}
    for line in (ROOT / ".run" / "stack.env").read_text().splitlines():
        name, _, value = line.partition("=")
        env[name.strip()] = value.strip()
    bootstrap = env.get("HANDOFF_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    started = time.monotonic()
    first = last = asyncio.run(consumer_lag(bootstrap))
    still_since = time.monotonic()
    while last and time.monotonic() - started < limit and time.monotonic() - still_since < 30:
        time.sleep(2)
        lag = asyncio.run(consumer_lag(bootstrap))
        if lag < last:
            still_since = time.monotonic()
        last = lag
    return time.monotonic() - started, first, last


def _figures(report: Path, name: str) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads((report / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    return loaded


def goals(report: Path) -> str:
    """The goals of docs/performance.md, each with the figure this run measured."""
    throughput = _figures(report, "routing_throughput")
    latency = _figures(report, "routing_latency")
    callbacks = _figures(report, "callback_delivery")
    soak = _figures(report, "soak")
    feedback = _figures(report, "feedback_aggregation")
    at_300 = next((r for r in latency.get("results", []) if r.get("offered") == 300), {})
    cpu = throughput.get("cpu_us_per_lead_median", {}).get("total")
    ratio = throughput.get("ratio")
    p99 = at_300.get("p99_ms")
    callback_p99 = (
        callbacks.get("mql_to_callback_p99_ms") if callbacks.get("rate_leads_per_s") == 300 else None
    )
    events = feedback.get("service", {}).get("events_per_second")
    rows = [
        ("machine CPU per lead, every service doing its full work", "≤ 500 µs", cpu, lambda v: v <= 500,
         lambda v: f"{v:,.0f} µs"),
        ("routing throughput / bare relay, same run", "≥ 0.5", ratio, lambda v: v >= 0.5,
         lambda v: f"{v:.2f}"),
        ("`mql.created` → `lead.assigned` p99 at 300 leads/s routed", "< 50 ms", p99,
         lambda v: v < 50 and at_300.get("routed", 0) >= 0.97 * 300,
         lambda v: f"{v:,.1f} ms ({at_300.get('routed', 0):,.0f} leads/s routed)"),
        ("`mql.created` → signed callback p99 at 300 leads/s", "< 250 ms", callback_p99, lambda v: v < 250,
         lambda v: f"{v:,.0f} ms"),
        (f"soak at 500 leads/s ({soak.get('seconds', 0)} s here)",
         "rate held, lag bounded, RSS flat, no error",
         soak.get("offered_per_s") if soak.get("rate") == 500 else None,
         lambda v: bool(soak.get("rate_held") and soak.get("lag_bounded") and soak.get("rss_flat")
                        and not soak.get("errors")),
         lambda v: f"{v:,.0f} leads/s offered; lag bounded {'yes' if soak.get('lag_bounded') else 'no'}, "
         f"RSS flat {'yes' if soak.get('rss_flat') else 'no'}, {soak.get('errors', 0)} error lines"),
        ("feedback events aggregated per second, service running", "≥ 8,000", events, lambda v: v >= 8000,
         lambda v: f"{v:,.0f} events/s"),
    ]  # fmt: skip
    lines = [
        "## Goals",
        "",
        "| goal | target | measured in this run | |",
        "|---|---|---|---|",
    ]
    for what, target, value, reached, shown in rows:
        if value is None:
            lines.append(f"| {what} | {target} | not measured | |")
        else:
            lines.append(
                f"| {what} | {target} | {shown(value)} | {'reached' if reached(value) else 'not reached'} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", action="append", help="run only this benchmark (repeatable)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed to each benchmark")
    args = parser.parse_args()
    names = [name for name in benchmarks() if not args.only or name in args.only]
    report = ROOT / ".run" / "bench"
    report.mkdir(parents=True, exist_ok=True)
    header = machine()
    sections: list[str] = []
    failed: list[str] = []
    settled: dict[str, tuple[float, int, int]] = {}
    with RssSampler() as sampler:
        for name in names:
            sampler.current = name
            print(f"== bench/{name}.py", flush=True)
            for stale in (report / f"{name}.md", report / f"{name}.json"):
                stale.unlink(missing_ok=True)
            waited, before, after = settle(SETTLE_SECONDS // 3 if args.quick else SETTLE_SECONDS)
            settled[name] = (waited, before, after)
            print(f"   settled in {waited:.0f} s (consumer lag {before:,} -> {after:,})", flush=True)
            argv = [sys.executable, str(BENCH / f"{name}.py"), "--report", str(report)]
            started = time.monotonic()
            try:
                result = subprocess.run(
                    argv + (["--quick"] if args.quick else []), cwd=ROOT, timeout=args.timeout, check=False
                )
                ok = result.returncode == 0 and (report / f"{name}.md").exists()
                why = f"exit status {result.returncode}"
            except subprocess.TimeoutExpired:
                ok, why = False, f"no result after {args.timeout:.0f} s"
            print(f"== bench/{name}.py: {'done' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
            if ok:
                sections.append((report / f"{name}.md").read_text())
            else:
                failed.append(name)
                sections.append(
                    f"## {name}\n\n**Failed** ({why}): run `uv run python bench/{name}.py` to see why."
                )
    rss_rows = [
        f"| {name} | "
        + " | ".join(f"{sampler.peaks.get(name, {}).get(s, 0) / 1024:.0f}" for s in SERVICES)
        + " |"
        for name in names
    ]
    peak = {s: max((p.get(s, 0) for p in sampler.peaks.values()), default=0) / 1024 for s in SERVICES}
    rss = "\n".join(
        [
            "## Peak resident memory of each service",
            "",
            "Sampled twice a second from /proc while each benchmark ran (MB; goal: under "
            f"{RSS_GOAL_MB} MB each).",
            "",
            "| during | " + " | ".join(SERVICES) + " |",
            "|---|" + "---|" * len(SERVICES),
            *rss_rows,
            "| **peak** | " + " | ".join(f"**{peak[s]:.0f}**" for s in SERVICES) + " |",
            "",
            "Goal under 200 MB each: "
            + ("reached." if all(v < RSS_GOAL_MB for v in peak.values()) else "not reached."),
        ]
    )
    header.append(
        f"- load average after the run {os.getloadavg()[0]:.2f} (anything above the 2 cores means "
        "other work shared the machine: compare ratios, not absolute figures)"
    )
    intro = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); every figure below comes from that one run. "
        "Rerun it to refresh this page; bench/README.md says what each benchmark measures.",
        "",
        *header,
        "- before each benchmark the runner waited for the services to consume what the one before"
        " left them (their consumer groups' lag back to 0), so none is measured under another's"
        " backlog: "
        + "; ".join(
            f"`{name}` {waited:.0f} s (lag {before:,} → {after:,})"
            for name, (waited, before, after) in settled.items()
        ),
    ]
    summary = goals(report)
    print(summary)
    parts = ["\n".join(intro), summary, *(section.strip("\n") for section in sections), rss]
    args.output.write_text("\n\n".join(parts) + "\n")
    print(f"wrote {args.output}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
