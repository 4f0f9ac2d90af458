"""The CPU the stack of ``make up`` uses, from /proc: each service, PostgreSQL and Kafka.

A part's CPU is the user and system time of its processes (a service's process group, the
postmaster and every backend under it, the broker's JVM) plus what their exited children left
in ``cutime``/``cstime``, so a PostgreSQL backend that ends during a run is still counted. The
benchmark's own processes (the load generator, the callback receivers) are not in it.

    with StackCpu() as cpu:
        ...                     # the work
    cpu.seconds()               # {"router": 1.2, ..., "total": 4.5}
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("router", "sla-monitor", "feedback")
PARTS = (*SERVICES, "postgres", "kafka")
TICKS = os.sysconf("SC_CLK_TCK")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _roots() -> dict[str, tuple[str, int]]:
    """Each part: ("group", pgid) for a service, ("tree", pid) for PostgreSQL and Kafka."""
    pids = ROOT / ".run" / "pids"
    roots: dict[str, tuple[str, int]] = {}
    for name in SERVICES:
        pgid = _read_int(pids / f"{name}.pid")
        if pgid is not None:
            roots[name] = ("group", pgid)
    postmaster = _read_int(ROOT / ".run" / "pg" / "data" / "postmaster.pid")
    if postmaster is not None:
        roots["postgres"] = ("tree", postmaster)
    kafka = _read_int(pids / "kafka.pid")
    if kafka is not None:
        roots["kafka"] = ("tree", kafka)
    return roots


def _processes() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent, process group, clock ticks used by it and its reaped children)."""
    found: dict[int, tuple[int, int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        # utime stime cutime cstime
        ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        found[int(entry.name)] = (int(fields[1]), int(fields[2]), ticks)
    return found


def sample() -> dict[str, float]:
    """CPU seconds used so far by each part of the stack (since its processes started)."""
    processes = _processes()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _, _) in processes.items():
        children[parent].append(pid)
    used: dict[str, float] = {}
    for part, (kind, root) in _roots().items():
        members = (
            {pid for pid, (_, group, _) in processes.items() if group == root} if kind == "group" else set()
        )
        stack = [root] if root in processes else []
        stack += list(members)
        while stack:
            pid = stack.pop()
            members.add(pid)
            stack += [child for child in children.get(pid, ()) if child not in members]
        used[part] = sum(processes[pid][2] for pid in members) / TICKS
    return used


class StackCpu:
    """CPU seconds each part of the stack used between ``__enter__`` (or ``restart``) and now."""

    def __init__(self) -> None:
        self.start: dict[str, float] = {}

    def __enter__(self) -> StackCpu:
        self.restart()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def restart(self) -> None:
        self.start = sample()

    def seconds(self) -> dict[str, float]:
        """Per part, and ``total``."""
        now = sample()
        used = {part: max(now.get(part, 0.0) - self.start.get(part, 0.0), 0.0) for part in PARTS}
        used["total"] = sum(used.values())
        return used


def per_lead_us(used: dict[str, float], leads: int) -> dict[str, float]:
    """Microseconds of CPU per lead, per part and in all."""
    return {part: seconds * 1e6 / max(leads, 1) for part, seconds in used.items()}


def budget_row(per_lead: dict[str, float]) -> str:
    """``router 210 · sla-monitor 60 · ... · total 900`` (µs per lead)."""
    return " · ".join(f"{part} {per_lead.get(part, 0):,.0f}" for part in (*PARTS, "total"))
