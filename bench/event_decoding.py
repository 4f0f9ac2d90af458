"""Decoding our own events: the full models beside each consumer's slim views, in process.

    uv run python bench/event_decoding.py [--records 20000] [--report DIR]

For each event a consumer reads (the sla-monitor's lead.assigned/accepted/rejected, feedback's
lifecycle events, the router's lead.escalated), a batch of structured-mode records as our
producers write them is decoded the full way (``cloudevents.decode_typed``: the pydantic
model of every field) and through the consumer's views (``event_views.read``), with Python's
garbage collector as the services run it (thresholds of handoff_shared.garbage_collection).
CPU time per record, best of 5, and the ratio. No stack needed.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _stack import arguments, write_report  # noqa: E402
from handoff_feedback.ingest import event_views as feedback_views  # noqa: E402
from handoff_router.escalations import event_views as router_views  # noqa: E402
from handoff_shared import cloudevents, events, garbage_collection  # noqa: E402
from handoff_shared.cloudevents import STRUCTURED  # noqa: E402
from handoff_shared.event_views import read  # noqa: E402
from handoff_sla_monitor.timers import event_views as sla_views  # noqa: E402

from tests.unit.shared.test_event_views import sample  # noqa: E402

CONSUMERS = {"sla-monitor": sla_views.VIEWS, "feedback": feedback_views.VIEWS, "router": router_views.VIEWS}
HEADERS = [("content-type", STRUCTURED.encode())]


def records(type_: str, count: int) -> list[bytes]:
    data = sample(type_)
    out = []
    for n in range(count):
        lead_id = f"lead-{n}"
        body = {**data, "lead_id": lead_id}
        if "lead" in body:
            body["lead"] = {**body["lead"], "lead_id": lead_id}
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "handoff/bench",
            "type": type_,
            "subject": lead_id,
            "time": "2026-03-02T09:15:01.123456Z",
            "datacontenttype": "application/json",
            "data": body,
        }
        out.append(json.dumps(envelope, separators=(",", ":")).encode())
    return out


def best_us(decode: Any, values: list[bytes]) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for value in values:
            decode(value)
        best = min(best, time.process_time() - started)
    return best * 1e6 / len(values)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    count = 2_000 if args.quick else args.records
    garbage_collection.tune_thresholds()
    rows, figures = [], {}
    for consumer, views in CONSUMERS.items():
        expected = set(views)
        for type_ in sorted(views):
            values = records(type_, count)
            full = best_us(lambda v, e=expected: cloudevents.decode_typed(v, HEADERS, e), values)
            slim = best_us(lambda v, e=expected, w=views: read(v, HEADERS, e, w), values)
            figures[f"{consumer} {type_}"] = {"full_us": full, "view_us": slim}
            rows.append(f"| {consumer} | `{type_}` | {full:.1f} | {slim:.1f} | {full / slim:.1f} |")
            print(f"{consumer:12} {type_:16} full {full:6.1f} µs   view {slim:6.1f} µs")
    mql = records(events.MQL_CREATED, count)
    full_mql = best_us(lambda v: cloudevents.decode_typed(v, HEADERS, {events.MQL_CREATED}), mql)
    figures["mql.created full"] = {"full_us": full_mql}
    markdown = "\n".join(
        [
            "## Decoding our own events: full models and the consumers' views",
            "",
            f"In process, {count:,} structured-mode records per event type as our producers write "
            "them; CPU µs per record, best of 5: the full way (`cloudevents.decode_typed`, the "
            "pydantic model of every field) and each consumer's slim view (`event_views.read`, "
            "msgspec, only the fields it reads). `mql.created` comes from outside and is always "
            f"read in full: {full_mql:.1f} µs.",
            "",
            "| consumer | event | full (µs) | view (µs) | full / view |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    write_report(args.report, "event_decoding", markdown, figures)


if __name__ == "__main__":
    main()
