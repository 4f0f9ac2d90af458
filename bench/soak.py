"""Soak: a steady lead rate for minutes with every service doing its full work, watched over time.

    make up && uv run python bench/soak.py [--rate 500] [--seconds 300] [--decide 0.5] [--report DIR]
    uv run python bench/soak.py --quick       # 60 s at 500 leads/s

MQLs go to ``lead.mql-created`` at ``--rate`` per second on a 10 ms schedule. Every lead is
routed to one of ten reps whose callback endpoint is a receiver in a separate process (it
answers 200 and counts the calls). A share ``--decide`` of the assignments is decided through
the router's API with the rep's token (four in five accepted, one in five rejected); the rest
stay open and run the SLA ladder (remind at 50 %, escalate at 100 % of a 30 s SLA), so the
sla-monitor escalates and the router calls the managers back. Every ``--every`` seconds it
prints the consumer lag of each Handoff consumer group, the resident memory of each service,
the callbacks received and the escalations seen; at the end, the error lines the services
logged meanwhile. Verdicts: lag bounded (the largest lag of the last third of the run is at
most the lag a second of load makes, or no greater than in the first third), RSS flat (the
last sample within 20 % and 30 MB of the sample at the end of the first third), no error line.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from _stack import ROOT, arguments, stack_env, write_report
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from routing_throughput import mql, tail
from run import SERVICES, group_rss_kb

REPS = 10
SLA = "30s"


def config(tag: str, hooks: str) -> dict[str, Any]:
    """Ten reps in two teams, each with a manager; every endpoint is the receiver."""
    reps = [f"{tag}-rep-{n}" for n in range(REPS)]
    managers = [f"{tag}-mgr-{n}" for n in range(2)]
    return {
        "sla": {
            "accept_within": SLA,
            "ladder": [{"at": "50%", "action": "remind"}, {"at": "100%", "action": "escalate"}],
        },
        "reps": [
            {
                "id": rep,
                "email": f"{rep}@example.com",
                "callback_url": f"{hooks}/rep/{rep}",
                "manager": managers[n % 2],
            }
            for n, rep in enumerate(reps)
        ],
        "managers": [
            {"id": m, "email": f"{m}@example.com", "callback_url": f"{hooks}/manager/{m}"} for m in managers
        ],
        "teams": [
            {"id": f"{tag}-emea", "strategy": "weighted_round_robin", "members": reps[:5]},
            {"id": f"{tag}-rest", "strategy": "least_loaded", "members": reps[5:]},
        ],
        "rules": [{"id": "emea", "when": {"country": ["DE", "FR"]}, "team": f"{tag}-emea"}],
        "fallback_team": f"{tag}-rest",
    }


def receiver_process(port: int) -> None:
    """The callback endpoints: answer 200, count calls by event type (in another process, so the
    soak's own loop does not limit it)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    seen: Counter[str] = Counter()
    ids: set[str] = set()

    async def hook(request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # the router gave up waiting (its timeout) and will retry
            seen["gave_up"] += 1
            return Response("gone", status_code=499)
        webhook_id = request.headers.get("webhook-id", "")
        kind = "repeat" if webhook_id in ids else str(orjson.loads(body).get("type", "?"))
        ids.add(webhook_id)
        seen[kind] += 1
        return Response("ok")

    async def show(request: Request) -> Response:
        return JSONResponse(dict(seen))

    app = Starlette(
        routes=[Route("/hooks/{name:path}", hook, methods=["POST"]), Route("/counts", show, methods=["GET"])]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@dataclass
class Tally:
    sent: int = 0
    sending_seconds: float = 0.0
    assigned: int = 0
    escalated: Counter[str] = field(default_factory=Counter)
    decided: Counter[int] = field(default_factory=Counter)  # HTTP status of each decision


# The decider's counters, shared with its process: assigned read, then decisions answered
# 2xx / otherwise / not at all, then escalations seen by level.
COUNTERS = ("assigned", "decided_2xx", "decided_other", "decided_failed", "remind", "escalate", "reassign")


def decider_process(
    env: dict[str, str], tokens: dict[str, str], share: float, tag: str, stop: Any, counters: Any
) -> None:
    """The reps deciding, in a process of their own so they keep up with the assignments
    whatever the producer's loop is doing; counts go to ``counters`` (a shared array)."""
    tally = Tally()
    done = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            publish()
            await asyncio.sleep(0.5)
        publish()
        done.set()

    def publish() -> None:
        decided = tally.decided
        values = (
            tally.assigned,
            sum(n for status, n in decided.items() if 200 <= status < 300),
            sum(n for status, n in decided.items() if status and not 200 <= status < 300),
            decided.get(0, 0),
            *(tally.escalated.get(level, 0) for level in ("remind", "escalate", "reassign")),
        )
        for index, value in enumerate(values):
            counters[index] = value

    async def run() -> None:
        watching = asyncio.create_task(watch())
        await decide(env, tokens, share, tally, done, tag)
        await watching

    asyncio.run(run())


async def produce(env: dict[str, str], rate: int, seconds: int, tally: Tally, tag: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"], enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        started = time.monotonic()
        tick = 0.01
        while (elapsed := time.monotonic() - started) < seconds:
            # Paced by elapsed time: a tick that came late sends what the clock says is owed.
            while tally.sent < rate * elapsed:
                lead_id = f"soak-{tag}-{tally.sent}"
                country = "DE" if tally.sent % 3 else "US"
                await producer.send("lead.mql-created", mql(lead_id, country), key=lead_id.encode())
                tally.sent += 1
            await asyncio.sleep(max(0.0, started + elapsed + tick - time.monotonic()))
        tally.sending_seconds = time.monotonic() - started
        await producer.flush()
    finally:
        await producer.stop()


async def decide(
    env: dict[str, str], tokens: dict[str, str], share: float, tally: Tally, stop: asyncio.Event, tag: str
) -> None:
    """Decide a share of the soak's assignments through the API, as reps would."""
    consumer = await tail(env["HANDOFF_KAFKA_BOOTSTRAP"], "lead.assigned")
    escalations = await tail(env["HANDOFF_KAFKA_BOOTSTRAP"], "lead.escalated")
    limit = asyncio.Semaphore(64)
    pending: set[asyncio.Task[None]] = set()
    chooser = random.Random(7)
    async with httpx.AsyncClient(base_url=env["HANDOFF_ROUTER_URL"], timeout=30) as client:

        async def one(assignment_id: str, rep_id: str, accept: bool) -> None:
            async with limit:
                verb = "accept" if accept else "reject"
                body = None if accept else {"reason": "not_icp"}
                try:
                    response = await client.post(
                        f"/v1/assignments/{assignment_id}/{verb}",
                        headers={"Authorization": f"Bearer {tokens[rep_id]}"},
                        json=body,
                    )
                    tally.decided[response.status_code] += 1
                except httpx.HTTPError:
                    tally.decided[0] += 1

        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=2000)
                for records in batches.values():
                    for record in records:
                        event = orjson.loads(record.value or b"{}")
                        data = event.get("data", {})
                        if not str(data.get("lead_id", "")).startswith(f"soak-{tag}-"):
                            continue
                        tally.assigned += 1
                        if data.get("rep_id") not in tokens:  # another config's rep (a test changed it)
                            continue
                        if data.get("attempt", 1) == 1 and chooser.random() < share:
                            task = asyncio.create_task(
                                one(data["assignment_id"], data["rep_id"], chooser.random() < 0.8)
                            )
                            pending.add(task)
                            task.add_done_callback(pending.discard)
                for records in (await escalations.getmany(timeout_ms=0, max_records=5000)).values():
                    for record in records:
                        data = orjson.loads(record.value or b"{}").get("data", {})
                        if str(data.get("lead_id", "")).startswith(f"soak-{tag}-"):
                            tally.escalated[str(data.get("level"))] += 1
            if pending:
                _, late = await asyncio.wait(pending, timeout=60)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        finally:
            await consumer.stop()
            await escalations.stop()


async def consumer_lag(admin: AIOKafkaAdminClient, probe: AIOKafkaConsumer) -> dict[str, int]:
    """Records not yet committed, per Handoff consumer group."""
    lag: dict[str, int] = {}
    for group, _ in await admin.list_consumer_groups():
        if not group.startswith("handoff-"):
            continue
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [tp for tp in committed if not tp.topic.endswith(".dlq")]
        if not partitions:
            continue
        ends = await probe.end_offsets(partitions)
        lag[group] = sum(max(ends[tp] - committed[tp].offset, 0) for tp in partitions)
    return lag


def rss_mb() -> dict[str, int]:
    out = {}
    for name in SERVICES:
        try:
            pgid = int((ROOT / ".run" / "pids" / f"{name}.pid").read_text())
        except (OSError, ValueError):
            continue
        out[name] = group_rss_kb(pgid) // 1024
    return out


def log_sizes() -> dict[str, int]:
    return {name: _size(ROOT / ".run" / "logs" / f"{name}.log") for name in SERVICES}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def error_lines(since: dict[str, int]) -> list[str]:
    """Lines at level error or above logged by each service since ``since`` (byte offsets)."""
    found = []
    for name, offset in since.items():
        path = ROOT / ".run" / "logs" / f"{name}.log"
        try:
            with path.open("rb") as log:
                log.seek(offset if offset <= path.stat().st_size else 0)
                lines = log.read().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                level = str(orjson.loads(line).get("level", ""))
            except orjson.JSONDecodeError:
                level = "error" if b"Traceback" in line or b"ERROR" in line else ""
            if level in ("error", "critical", "exception"):
                found.append(f"{name}: {line.decode(errors='replace')[:300]}")
    return found


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rate", type=int, default=500, help="leads per second (default 500)")
    parser.add_argument("--seconds", type=int, default=300, help="how long to offer load (default 300)")
    parser.add_argument("--decide", type=float, default=0.5, help="share of assignments decided (0.5)")
    parser.add_argument("--every", type=int, default=10, help="seconds between samples (10)")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 60
    env = stack_env()
    tag = uuid.uuid4().hex[:6]
    port = 20000 + random.Random().randrange(20000)
    receiving = multiprocessing.get_context("spawn").Process(
        target=receiver_process, args=(port,), daemon=True
    )
    receiving.start()
    hooks = f"http://127.0.0.1:{port}/hooks"
    admin_headers = {"Authorization": f"Bearer {env['HANDOFF_ADMIN_TOKEN']}"}
    tally = Tally()
    samples: list[dict[str, Any]] = []
    logs_at = log_sizes()
    kafka_admin = AIOKafkaAdminClient(bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"])
    await kafka_admin.start()
    probe = AIOKafkaConsumer(bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"], enable_auto_commit=False)
    await probe.start()
    try:
        async with httpx.AsyncClient(
            base_url=env["HANDOFF_ROUTER_URL"], headers=admin_headers, timeout=30
        ) as api:
            for _ in range(240):  # the receiver process takes a while to listen on a loaded machine
                try:
                    await api.get(f"http://127.0.0.1:{port}/counts")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.5)
            else:
                raise SystemExit("the callback receiver process did not start listening within 120 s")
            response = await api.put(
                "/v1/routing-config",
                content=yaml.safe_dump(config(tag, hooks)),
                headers={"Content-Type": "application/yaml"},
            )
            response.raise_for_status()
            tokens = {}
            for n in range(REPS):
                rep = f"{tag}-rep-{n}"
                issued = await api.post(f"/v1/reps/{rep}/tokens")
                issued.raise_for_status()
                tokens[rep] = issued.json()["token"]
                # Callbacks are signed: an endpoint without a secret is never called.
                (await api.post(f"/v1/reps/{rep}/callback-secret")).raise_for_status()
            for n in range(2):
                (await api.post(f"/v1/managers/{tag}-mgr-{n}/callback-secret")).raise_for_status()
            spawn = multiprocessing.get_context("spawn")
            stop = spawn.Event()
            counters = spawn.Array("q", len(COUNTERS))
            deciding = spawn.Process(
                target=decider_process, args=(env, tokens, args.decide, tag, stop, counters), daemon=True
            )
            deciding.start()
            producing = asyncio.create_task(produce(env, args.rate, args.seconds, tally, tag))
            started = time.monotonic()
            print(f"soak: {args.rate} leads/s for {args.seconds} s, deciding {args.decide:.0%}", end="")
            print(f"; a sample every {args.every} s")
            header = "   t(s)    sent  assigned  lag " + " ".join(
                f"{g:>14}" for g in ("router", "sla", "feedback")
            )
            print(header + "  rss(MB) router/sla/feedback  callbacks  escalated")
            while True:
                done = producing.done()
                await asyncio.sleep(0 if done else args.every)
                read_counters(counters, tally)
                lag = await consumer_lag(kafka_admin, probe)
                calls = (await api.get(f"http://127.0.0.1:{port}/counts")).json()
                sample = {
                    "t": round(time.monotonic() - started),
                    "sent": tally.sent,
                    "assigned": tally.assigned,
                    "lag": lag,
                    "rss_mb": rss_mb(),
                    "callbacks": calls,
                    "escalated": dict(tally.escalated),
                }
                samples.append(sample)
                groups = ("handoff-router", "handoff-sla-monitor-timers", "handoff-feedback-outcomes")
                rss = sample["rss_mb"]
                print(
                    f"{sample['t']:7d} {tally.sent:7d} {tally.assigned:9d}     "
                    + " ".join(f"{lag.get(g, 0):14d}" for g in groups)
                    + f"  {rss.get('router', 0):>7}/{rss.get('sla-monitor', 0)}/{rss.get('feedback', 0)}"
                    + f"  {delivered(calls):>18}"
                    + f"  {sum(tally.escalated.values()):>9}",
                    flush=True,
                )
                if done:
                    break
            await producing
            # Let the system catch up (bounded), so the last sample says whether it can.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and tally.assigned < tally.sent:
                await asyncio.sleep(1)
                read_counters(counters, tally)
            stop.set()
            await asyncio.to_thread(deciding.join, 120)
            read_counters(counters, tally)
            calls = (await api.get(f"http://127.0.0.1:{port}/counts")).json()
    finally:
        await probe.stop()
        await kafka_admin.close()
        receiving.terminate()
        receiving.join(5)
    errors = error_lines(logs_at)
    report(args, samples, tally, calls, errors)


def read_counters(counters: Any, tally: Tally) -> None:
    """The decider process's counts, into the tally."""
    values = dict(zip(COUNTERS, counters[:], strict=True))
    tally.assigned = values["assigned"]
    tally.decided = Counter(
        {200: values["decided_2xx"], 400: values["decided_other"], 0: values["decided_failed"]}
    )
    tally.escalated = Counter({level: values[level] for level in ("remind", "escalate", "reassign")})


def delivered(calls: dict[str, int]) -> int:
    """Callbacks received once (repeats of a webhook-id left out)."""
    return sum(count for kind, count in calls.items() if kind not in ("repeat", "gave_up"))


def report(
    args: Any, samples: list[dict[str, Any]], tally: Tally, calls: dict[str, int], errors: list[str]
) -> None:
    third = max(len(samples) // 3, 1)
    early, late = samples[:third], samples[-third:]

    def total_lag(sample: dict[str, Any]) -> int:
        return int(sum(sample["lag"].values()))

    lag_bounded = max(total_lag(s) for s in late) <= max(args.rate, max(total_lag(s) for s in early))
    rss_flat = all(
        samples[-1]["rss_mb"].get(name, 0)
        <= max(
            samples[third - 1]["rss_mb"].get(name, 0) * 1.2, samples[third - 1]["rss_mb"].get(name, 0) + 30
        )
        for name in SERVICES
    )
    rows = "\n".join(
        f"| {s['t']} | {s['sent']:,} | {s['assigned']:,} | "
        + " | ".join(
            f"{s['lag'].get(g, 0):,}"
            for g in ("handoff-router", "handoff-sla-monitor-timers", "handoff-feedback-outcomes")
        )
        + " | "
        + " / ".join(str(s["rss_mb"].get(n, 0)) for n in SERVICES)
        + f" | {delivered(s['callbacks']):,} | {sum(s['escalated'].values()):,} |"
        for s in samples
    )
    offered = tally.sent / tally.sending_seconds if tally.sending_seconds else 0.0
    held = tally.sent >= 0.98 * args.rate * args.seconds
    decided = sum(tally.decided.values())
    ok = sum(count for status, count in tally.decided.items() if 200 <= status < 300)
    callbacks = ", ".join(f"{kind} {count:,}" for kind, count in sorted(calls.items())) or "none"
    shown_errors = "\n".join(f"    {line}" for line in errors[:10])
    markdown = f"""## Soak: {args.rate} leads/s for {args.seconds} s

MQLs at {args.rate} leads/s for {args.seconds} s (10 ms schedule) with every service running;
{args.decide:.0%} of assignments decided through the API (4 in 5 accepted), the rest run the
SLA ladder ({SLA}: remind at 50 %, escalate at 100 %); callbacks go to a receiver process.
Lag is records not yet committed per consumer group; RSS in MB (router / sla-monitor / feedback).

| t (s) | sent | assigned | lag router | lag sla-monitor | lag feedback | RSS (MB) | callbacks | escalations |
|---|---|---|---|---|---|---|---|---|
{rows}

- offered: {tally.sent:,} leads in {tally.sending_seconds:.0f} s = **{offered:,.0f} leads/s** (asked
  {args.rate:,}/s; the producer is paced by elapsed time, so a late tick sends what is owed)
- `lead.assigned` read {tally.assigned:,} (first assignments and reassignments)
- decisions (a process of its own reads every assignment and decides {args.decide:.0%} of the first
  ones): {decided:,} sent, {ok:,} answered 2xx, {tally.decided.get(400, 0):,} answered otherwise,
  {tally.decided.get(0, 0):,} without an answer
- escalations seen: {dict(tally.escalated)}; callbacks received: {callbacks}
- error lines in the services' logs during the run: {len(errors)}
{shown_errors}

Rate held ({args.rate:,}/s offered): {"yes" if held else "no"}; consumer lag bounded:
{"yes" if lag_bounded else "no"}; RSS flat: {"yes" if rss_flat else "no"}; no error in the logs:
{"yes" if not errors else "no"}.
"""
    figures = {
        "rate": args.rate,
        "seconds": args.seconds,
        "sent": tally.sent,
        "offered_per_s": offered,
        "rate_held": held,
        "assigned": tally.assigned,
        "decisions": dict(tally.decided),
        "escalations": dict(tally.escalated),
        "callbacks": calls,
        "errors": len(errors),
        "lag_bounded": lag_bounded,
        "rss_flat": rss_flat,
        "samples": samples,
    }
    write_report(args.report, "soak", markdown, figures)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    asyncio.run(main())
