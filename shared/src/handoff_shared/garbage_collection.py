"""How the services' processes use Python's garbage collector.

A service's heap after start-up (modules, the app, settings, compiled regexes, the database
and Kafka clients) lives as long as the process: ``freeze_start_up_heap`` moves it out of the
collector's sight, so a full collection no longer walks it. The batch paths allocate many
short-lived containers (a decoded batch, rows, events); with the default threshold of 700
allocations the youngest generation is collected several times per batch and survivors are
promoted into full collections. ``THRESHOLDS`` collects the youngest generation every 50,000
net allocations and the older ones rarely; reference counting still frees everything that is
not in a cycle at once, so memory stays where it was (docs/performance.md has the figures).
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def tune_thresholds() -> None:
    """Collect less often than CPython's default (700, 10, 10)."""
    gc.set_threshold(*THRESHOLDS)


def freeze_start_up_heap() -> None:
    """Collect once, then keep every object alive now out of all later collections."""
    gc.collect()
    gc.freeze()
