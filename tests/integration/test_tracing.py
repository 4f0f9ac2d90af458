"""One lead's trace across the three services: ``mql.created`` → routing → ``lead.assigned`` →
the callback to the SDR's tool → the tool's accept → ``lead.accepted``, and the SLA monitor and
feedback reading both, under one trace id.

Real processes (``python -m handoff_<service>``) on the local stack's Kafka and PostgreSQL, with a
database and topics of their own and ``HANDOFF_OTLP_ENDPOINT`` set to a collector in this test
(tests/otlp_collector.py), which receives what they export over OTLP/HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.integration.isolated import _free_port, drop_database, secrets_key
from tests.otlp_collector import Collector, ExportedSpan, tree
from tests.stack import ROOT, Stack, eventually, mql_data

pytestmark = pytest.mark.integration

SERVICES = {"router": "handoff_router", "sla-monitor": "handoff_sla_monitor", "feedback": "handoff_feedback"}
SQL_SCOPE = "opentelemetry.instrumentation.sqlalchemy"


@dataclass
class TracedStack:
    """The three services on a database and topics of their own, exporting to ``collector``."""

    stack: Stack
    collector: Collector
    logs: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    ports: dict[str, int] = field(default_factory=dict)
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def database(self) -> str:
        return f"handoff_trace_{self.tag}"

    def topic(self, name: str) -> str:
        return f"trace-{self.tag}.{name}"

    def env(self, service: str) -> dict[str, str]:
        topics = {
            "MQL_CREATED": "mql",
            "MQL_CREATED_DLQ": "mql.dlq",
            "LEAD_ASSIGNED": "assigned",
            "LEAD_ACCEPTED": "accepted",
            "LEAD_REJECTED": "rejected",
            "LEAD_ESCALATED": "escalated",
            "LEAD_QUALIFIED": "qualified",
            "SCORING_FEEDBACK": "feedback",
        }
        base, _, _ = self.stack.database_url.rpartition("/")
        return {
            **os.environ,
            "HANDOFF_KAFKA_BOOTSTRAP": self.stack.kafka,
            "HANDOFF_DATABASE_URL": f"{base}/{self.database}",
            "HANDOFF_ADMIN_TOKEN": self.stack.admin_token,
            "HANDOFF_HTTP_PORT": str(self.ports.get(service, 0)),
            **{f"HANDOFF_TOPIC_{key}": self.topic(name) for key, name in topics.items()},
            "HANDOFF_CONSUMER_GROUP": f"trace-{self.tag}-{service}",
            "HANDOFF_REASSIGN_GROUP": f"trace-{self.tag}-reassign",
            "HANDOFF_CALLBACK_SECRETS_KEY": secrets_key(),
            "HANDOFF_CALLBACK_ALLOW_PRIVATE": "true",
            "HANDOFF_CALLBACK_TIMEOUT": "10s",
            "HANDOFF_OTLP_ENDPOINT": self.collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 200 ms, not every 5 s
        }

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    async def create(self) -> None:
        admin = create_async_engine(self.stack.database_url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{self.database}"'))
        await admin.dispose()
        for service, package in SERVICES.items():
            migrate = await asyncio.create_subprocess_exec(
                sys.executable, "-m", package, "migrate", cwd=ROOT, env=self.env(service),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )  # fmt: skip
            output, _ = await migrate.communicate()
            assert migrate.returncode == 0, output.decode()[-2000:]
        kafka = AIOKafkaAdminClient(bootstrap_servers=self.stack.kafka)
        await kafka.start()
        try:
            names = [value for key, value in self.env("router").items() if key.startswith("HANDOFF_TOPIC_")]
            await kafka.create_topics([NewTopic(name, 1, 1) for name in names])
        finally:
            await kafka.close()

    async def start(self) -> None:
        for service in SERVICES:
            self.ports[service] = _free_port()
        for service, package in SERVICES.items():
            with (self.logs / f"{service}.log").open("ab") as out:
                self.processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        package,
                        cwd=ROOT,
                        env=self.env(service),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        async with httpx.AsyncClient() as client:
            for service in SERVICES:

                async def ready(service: str = service) -> bool:
                    try:
                        return (await client.get(f"{self.url(service)}/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await eventually(ready, timeout=180, interval=0.2, what=f"{service} to be ready")

    async def destroy(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=30)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        await drop_database(self.stack, self.database)
        kafka = AIOKafkaAdminClient(bootstrap_servers=self.stack.kafka)
        await kafka.start()
        try:
            names = [value for key, value in self.env("router").items() if key.startswith("HANDOFF_TOPIC_")]
            await kafka.delete_topics(names)
        finally:
            await kafka.close()


@dataclass
class SdrTool:
    """The rep's tool: takes callbacks (keeping their ``traceparent``) and answers 200."""

    port: int = field(default_factory=_free_port)
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def hook(self, request: Request) -> Response:
        self.calls.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/rep"


@pytest.fixture
async def sdr_tool() -> AsyncIterator[SdrTool]:
    tool = SdrTool()
    app = Starlette(routes=[Route("/hooks/rep", tool.hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=tool.port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, timeout=10, what="the SDR tool to listen")
    yield tool
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def traced(stack: Stack, tmp_path: Path) -> AsyncIterator[TracedStack]:
    collector = Collector().start()
    services = TracedStack(stack, collector, tmp_path)
    await services.create()
    try:
        await services.start()
        yield services
    finally:
        await services.destroy()
        collector.stop()
        for service in SERVICES:  # for a failing run: where each service's log is
            print(f"{service} log: {tmp_path / f'{service}.log'}")


def on_trace(spans: list[ExportedSpan], service: str, name: str) -> list[ExportedSpan]:
    return [span for span in spans if span.service == service and span.name == name]


async def test_one_leads_trace_follows_it_across_topics_and_services(
    traced: TracedStack, sdr_tool: SdrTool, producer: AIOKafkaProducer
) -> None:
    rep = f"trace-{traced.tag}-ana"
    config = {
        "sla": {"accept_within": "4h"},
        "reps": [{"id": rep, "email": f"{rep}@example.com", "callback_url": sdr_tool.url()}],
        "teams": [{"id": f"trace-{traced.tag}", "members": [rep]}],
        "rules": [],
        "fallback_team": f"trace-{traced.tag}",
    }
    headers = {"Authorization": f"Bearer {traced.stack.admin_token}"}
    async with httpx.AsyncClient(base_url=traced.url("router"), headers=headers) as admin:
        applied = await admin.put(
            "/v1/routing-config", content=yaml.safe_dump(config), headers={"Content-Type": "application/yaml"}
        )
        assert applied.status_code == 200, applied.text
        assert (await admin.post(f"/v1/reps/{rep}/callback-secret")).status_code == 201
        issued = await admin.post(f"/v1/reps/{rep}/tokens")
        assert issued.status_code == 201, issued.text
        rep_token = issued.json()["token"]

    # Marketing automation publishes the MQL inside a trace of its own: a W3C traceparent in the
    # CloudEvent (distributed-tracing extension) and in the record's headers.
    trace_id, origin = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = f"00-{trace_id}-{origin}-01"
    data = mql_data()
    lead_id = data["lead_id"]
    envelope = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "tests/marketing-automation",
        "type": "mql.created",
        "time": datetime.now(UTC).isoformat(),
        "subject": lead_id,
        "datacontenttype": "application/json",
        "traceparent": traceparent,
        "data": data,
    }
    await producer.send_and_wait(
        traced.topic("mql"),
        json.dumps(envelope).encode(),
        key=lead_id.encode(),
        headers=[("content-type", b"application/cloudevents+json"), ("traceparent", traceparent.encode())],
    )

    # The callback reaches the tool with the lead's trace in its traceparent header ...
    await eventually(lambda: sdr_tool.calls, timeout=60, what="the callback of lead.assigned")
    call_headers, body = sdr_tool.calls[0]
    assigned = json.loads(body)
    assert assigned["type"] == "lead.assigned"
    assert assigned["subject"] == lead_id
    assert assigned["traceparent"].split("-")[1] == trace_id  # the event's extension
    assert call_headers["traceparent"].split("-")[1] == trace_id  # the HTTP request's (httpx)

    # ... and the tool sends it back with the rep's decision, which continues the same trace.
    async with httpx.AsyncClient(base_url=traced.url("router")) as tool:
        decided = await tool.post(
            f"/v1/assignments/{assigned['data']['assignment_id']}/accept",
            headers={"Authorization": f"Bearer {rep_token}", "traceparent": call_headers["traceparent"]},
        )
        assert decided.status_code == 200, decided.text

    expected = [
        ("router", "process mql.created"),
        ("router", f"publish {traced.topic('assigned')}"),
        ("router", "deliver callback"),
        ("router", "POST"),  # httpx's client span of the callback
        ("router", "POST /v1/assignments/{assignment_id}/accept"),
        ("router", f"publish {traced.topic('accepted')}"),
        ("sla-monitor", "process lead.assigned"),
        ("sla-monitor", "process lead.accepted"),
        ("feedback", "process mql.created"),
        ("feedback", "process lead.assigned"),
        ("feedback", "process lead.accepted"),
    ]

    def complete() -> list[ExportedSpan] | None:
        spans = traced.collector.trace(trace_id)
        return spans if all(on_trace(spans, service, name) for service, name in expected) else None

    try:
        spans = await eventually(complete, timeout=60, interval=0.2, what="every span of the lead's trace")
    finally:
        seen = traced.collector.trace(trace_id)
        print(f"trace {trace_id}: {len(seen)} spans\n{tree(seen, skip_scopes=(SQL_SCOPE,))}")

    # One tree: every span's parent is in the trace, but the root's, which is the marketing
    # automation's publish (not exported here).
    ids = {span.span_id for span in spans}
    assert {span.parent_id for span in spans if span.parent_id not in ids} == {origin}
    assert {span.service for span in spans} == set(SERVICES)
    # SQL statements of the router's routing transaction are in the lead's trace too.
    (routing,) = on_trace(spans, "router", "process mql.created")
    assert any(span.parent_id == routing.span_id and span.scope == SQL_SCOPE for span in spans)
    (accept,) = on_trace(spans, "router", "POST /v1/assignments/{assignment_id}/accept")
    assert accept.kind == "server"
    # The router's log lines while it routed the lead carry the trace id.
    log_lines = (traced.logs / "router.log").read_text().splitlines()
    assert any(
        f'"trace_id": "{trace_id}"' in line or f'"trace_id":"{trace_id}"' in line for line in log_lines
    )
