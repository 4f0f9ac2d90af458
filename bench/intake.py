"""Intake: ``POST /v1/intake/{id}`` throughput and latency, and a 1,000,000-row CSV import.

    make up && uv run python bench/intake.py [--quick] [--report DIR]

A router process of its own (``_intake_server.py``: the router's app in the ``api`` role, on a
topic of its own so the stack's router routes none of it) serves intake beside a bare endpoint
that only produces the request's bytes to the same topic with the same producer. Requests go
over keep-alive HTTP/1.1 connections from a small raw-socket client in this process.

- throughput: ``--connections`` connections posting back to back for ``--seconds``, to the bare
  endpoint and to intake (a generic source, one MQL a request, keyed); the ratio (goal >= 0.7);
- latency: an open-loop 200 requests/s for ``--seconds``; p50/p99 (goal p99 < 50 ms);
- CSV: a 1,000,000-row file (``--rows``) through ``POST /v1/mqls/import``: rows/s, and the
  server's peak RSS during the import (goal < 200 MB).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
import yaml
from _stack import arguments, percentile, stack_env, write_report
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from handoff_shared.kafka import partitions_of
from routing_throughput import bench_config

ROOT = Path(__file__).resolve().parent.parent


class Connection:
    """One keep-alive HTTP/1.1 connection: a request out, its answer read by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        self.writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mql_body(i: int, tag: str) -> bytes:
    return orjson.dumps(
        {"lead_id": f"in-{tag}-{i}", "email": f"lead{i}@Example-{i % 50}.com", "country": "Germany",
         "company": {"name": "Example", "employees": "1,200"}, "score": 70}
    )  # fmt: skip


async def back_to_back(
    port: int, path: str, bodies: list[bytes], headers: dict[str, str], seconds: float, connections: int
) -> float:
    """Requests/s, ``connections`` connections each posting as soon as the last answer came."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        connection = await Connection.open(port)
        i = offset
        try:
            while time.perf_counter() < stop_at:
                status = await connection.post(path, bodies[i % len(bodies)], headers)
                assert status == 202, status
                done += 1
                i += connections
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    return done / (time.perf_counter() - started)


async def open_loop(
    port: int, path: str, bodies: list[bytes], headers: dict[str, str], rate: int, seconds: float
) -> list[float]:
    """Latencies (ms) of requests sent on a fixed schedule at ``rate``/s over a pool of connections."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(32):
        pool.put_nowait(await Connection.open(port))
    latencies: list[float] = []

    async def one(i: int, due: float) -> None:
        connection = await pool.get()
        status = await connection.post(path, bodies[i % len(bodies)], headers)
        latencies.append((time.perf_counter() - due) * 1000)
        assert status == 202, status
        pool.put_nowait(connection)

    started = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        due = started + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        pool.get_nowait().close()
    return latencies


def write_csv(path: Path, rows: int, tag: str) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["lead_id", "email", "first_name", "company.name", "company.employees", "country", "region"]
        )
        for i in range(rows):
            writer.writerow(
                [f"csv-{tag}-{i}", f"row{i}@Acme-{i % 1000}.io", "Ana", "Acme", "1,200", "Germany", "Bavaria"]
            )


class RssPeak:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            self._stop.wait(0.1)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    seconds = 4.0 if args.quick else args.seconds
    rows = 100_000 if args.quick else args.rows
    env = stack_env()
    tag = uuid.uuid4().hex[:8]
    topic = f"bench-intake-{tag}"
    admin = AIOKafkaAdminClient(bootstrap_servers=env["HANDOFF_KAFKA_BOOTSTRAP"])
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    for name in (topic, f"{topic}.dlq"):  # every partition has a leader before the first request
        await partitions_of(env["HANDOFF_KAFKA_BOOTSTRAP"], name, timeout=120)
    source = f"bench-{tag}"
    config = {**bench_config(tag), "intake": {"sources": [{"id": source, "preset": "generic"}]}}
    authorization = {"Authorization": f"Bearer {env['HANDOFF_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(
        base_url=env["HANDOFF_ROUTER_URL"], timeout=60, headers=authorization
    ) as client:
        (await client.put("/v1/routing-config", content=yaml.safe_dump(config),
                          headers={"Content-Type": "application/yaml"})).raise_for_status()  # fmt: skip
        secret = (await client.post(f"/v1/intake/sources/{source}/secret")).json()["secret"]
    port = free_port()
    server_env = {**os.environ, **env, "HANDOFF_HTTP_PORT": str(port), "HANDOFF_ROLE": "api",
                  "HANDOFF_TOPIC_MQL_CREATED": topic, "HANDOFF_TOPIC_MQL_CREATED_DLQ": f"{topic}.dlq",
                  "HANDOFF_SERVICE_NAME": "router-bench", "HANDOFF_LOG_LEVEL": "warning"}  # fmt: skip
    script = str(ROOT / "bench" / "_intake_server.py")
    server = await asyncio.create_subprocess_exec(sys.executable, script, env=server_env, cwd=ROOT)
    figures: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(600):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.5)
            bodies = [mql_body(i, tag) for i in range(10_000)]
            key = {"X-Handoff-Intake-Key": secret, "Content-Type": "application/json"}
            plain = {"Content-Type": "application/json"}
            await back_to_back(port, f"/v1/intake/{source}", bodies, key, 1.0, args.connections)  # warm-up
            bare = await back_to_back(port, "/bench/bare", bodies, plain, seconds, args.connections)
            intake = await back_to_back(port, f"/v1/intake/{source}", bodies, key, seconds, args.connections)
            latencies = await open_loop(port, f"/v1/intake/{source}", bodies, key, 200, seconds)
            figures.update(bare_rps=bare, intake_rps=intake, ratio=intake / bare,
                           p50_ms=percentile(latencies, 0.5), p99_ms=percentile(latencies, 0.99))  # fmt: skip
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "mqls.csv"
                write_csv(path, rows, tag)
                size_mb = path.stat().st_size / 1e6
                with RssPeak(server.pid) as rss:
                    before_kb = rss.peak_kb
                    started = time.perf_counter()
                    with path.open("rb") as file:
                        response = await http.post(
                            "/v1/mqls/import", files={"file": ("mqls.csv", file, "text/csv")},
                            headers=authorization, timeout=3600,
                        )  # fmt: skip
                    elapsed = time.perf_counter() - started
                response.raise_for_status()
                report = response.json()
                figures.update(
                    csv_rows=rows, csv_mb=size_mb, csv_seconds=elapsed, csv_rows_per_s=rows / elapsed,
                    csv_accepted=report["accepted"], csv_refused=report["refused_total"],
                    rss_before_mb=before_kb / 1024, rss_peak_mb=rss.peak_kb / 1024,
                )  # fmt: skip
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=30)
        await admin.delete_topics([topic, f"{topic}.dlq"])
        await admin.close()
    reached = {True: "reached", False: "not reached"}
    csv_row = (
        f"| CSV import | {figures['csv_rows_per_s']:,.0f} rows/s ({figures['csv_seconds']:.0f} s,"
        f" {int(figures['csv_accepted']):,} accepted) | |"
    )
    rss_row = (
        f"| server RSS before / peak during the import | {figures['rss_before_mb']:.0f} MB"
        f" / {figures['rss_peak_mb']:.0f} MB | < 200 MB: {reached[figures['rss_peak_mb'] < 200]} |"
    )
    markdown = f"""## Intake

A router process of its own (role `api`, its own topic) serving `POST /v1/intake/{{id}}` (a
`generic` source, one MQL a request, authenticated by `X-Handoff-Intake-Key`) beside a bare
endpoint in the same process that produces the request's bytes to the same topic with the
same idempotent producer; {args.connections} keep-alive HTTP/1.1 connections posting back to
back for {seconds:.0f} s each; then an open-loop 200 requests/s for {seconds:.0f} s; then a
{rows:,}-row CSV ({figures["csv_mb"]:.0f} MB) through `POST /v1/mqls/import`. The machine is
shared and noisy: the ratio, measured in the same run, is the figure to compare.

| figure | value | goal |
|---|---|---|
| bare produce endpoint | {figures["bare_rps"]:,.0f} requests/s | |
| intake | {figures["intake_rps"]:,.0f} requests/s | |
| intake / bare | {figures["ratio"]:.2f} | >= 0.7: {reached[figures["ratio"] >= 0.7]} |
| latency at 200 requests/s, p50 | {figures["p50_ms"]:.1f} ms | |
| latency at 200 requests/s, p99 | {figures["p99_ms"]:.1f} ms | < 50 ms: {reached[figures["p99_ms"] < 50]} |
{csv_row}
{rss_row}
"""
    write_report(args.report, "intake", markdown, figures)


if __name__ == "__main__":
    asyncio.run(main())
