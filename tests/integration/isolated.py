"""Router processes with a database and topics of their own, for fault tests that kill them:
nothing the stack's router does can interfere, and they can be killed without harm to it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from handoff_router.callbacks import repository
from handoff_router.callbacks.signing import SecretBox, new_secret
from handoff_shared.db import make_engine, make_sessions, transaction
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from tests.stack import ROOT, Stack, eventually

SECRETS_KEY_LINE = "HANDOFF_CALLBACK_SECRETS_KEY="


def secrets_key() -> str:
    """The stack's Fernet key (``make up`` writes it to .run/stack.env)."""
    for line in (ROOT / ".run" / "stack.env").read_text().splitlines():
        if line.startswith(SECRETS_KEY_LINE):
            return line.removeprefix(SECRETS_KEY_LINE)
    raise RuntimeError("no HANDOFF_CALLBACK_SECRETS_KEY in .run/stack.env: run `make up`")


@dataclass
class IsolatedRouters:
    """A fresh database (migrated) and topics; start router processes on it, kill them."""

    stack: Stack
    logs: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)  # each started router's base URL, by name

    @property
    def database(self) -> str:
        return f"handoff_cb_{self.tag}"

    @property
    def database_url(self) -> str:
        base, _, _ = self.stack.database_url.rpartition("/")
        return f"{base}/{self.database}"

    def env(self, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "HANDOFF_KAFKA_BOOTSTRAP": self.stack.kafka,
            "HANDOFF_DATABASE_URL": self.database_url,
            "HANDOFF_ADMIN_TOKEN": self.stack.admin_token,
            "HANDOFF_HTTP_PORT": str(port),
            "HANDOFF_TOPIC_MQL_CREATED": f"cbtest-{self.tag}.mql",
            "HANDOFF_TOPIC_LEAD_ESCALATED": f"cbtest-{self.tag}.escalated",
            "HANDOFF_TOPIC_LEAD_ASSIGNED": f"cbtest-{self.tag}.assigned",  # never the stack's topics
            "HANDOFF_TOPIC_LEAD_REJECTED": f"cbtest-{self.tag}.rejected",
            "HANDOFF_CONSUMER_GROUP": f"cbtest-{self.tag}",
            "HANDOFF_REASSIGN_GROUP": f"cbtest-{self.tag}-reassign",
            "HANDOFF_CALLBACK_SECRETS_KEY": secrets_key(),
            "HANDOFF_CALLBACK_ALLOW_PRIVATE": "true",
            "HANDOFF_CALLBACK_TIMEOUT": "10s",  # no try times out on this busy machine: each is sent once
            "HANDOFF_CALLBACK_RETRY_BASE": "500ms",
            "HANDOFF_LOG_LEVEL": "debug",
        }

    @property
    def topics(self) -> list[str]:
        """The topics of its own (created and deleted with it)."""
        own = f"cbtest-{self.tag}."
        return [
            value
            for name, value in self.env(0).items()
            if name.startswith("HANDOFF_TOPIC_") and value.startswith(own)
        ]

    async def create(self) -> IsolatedRouters:
        admin_engine = create_async_engine(self.stack.database_url, isolation_level="AUTOCOMMIT")
        async with admin_engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{self.database}"'))
        await admin_engine.dispose()
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "handoff_router", "migrate", cwd=ROOT, env=self.env(0),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await migrate.communicate()
        assert migrate.returncode == 0, output.decode()[-2000:]
        kafka = AIOKafkaAdminClient(bootstrap_servers=self.stack.kafka)
        await kafka.start()
        try:
            await kafka.create_topics([NewTopic(name, 1, 1) for name in self.topics])
        finally:
            await kafka.close()
        return self

    async def start_router(self, name: str, **settings: str) -> tuple[asyncio.subprocess.Process, Path]:
        """Start a router process; ``settings`` override its environment (``HANDOFF_...=value``)."""
        port = _free_port()
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "handoff_router", cwd=ROOT, env={**self.env(port), **settings},
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(process)
        self.urls[name] = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def ready() -> bool:
                assert process.returncode is None, log.read_text()[-2000:]
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            # Importing alone can take minutes on a loaded machine (load average 30 on 2 cores seen).
            await eventually(ready, timeout=300, what=f"router {name} to be ready")
        return process, log

    async def kill(self, process: asyncio.subprocess.Process) -> None:
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), timeout=10)

    async def enqueue(
        self, deliveries: Sequence[tuple[str, str]], secret_for: Sequence[str]
    ) -> dict[str, str]:
        """Write deliveries ``(rep_id, url)`` as routing would, and a secret per rep; answer the secrets."""
        engine = make_engine(self.database_url, pool_size=1)
        box = SecretBox(SecretStr(secrets_key()))
        secrets = {rep: new_secret() for rep in secret_for}
        try:
            async with transaction(make_sessions(engine)) as session:
                now = datetime.now(UTC)
                for rep, secret in secrets.items():
                    await repository.store_secret(session, f"rep:{rep}", box.seal(secret), now, now - now)
                await repository.enqueue(
                    session,
                    [
                        repository.NewDelivery(
                            kind="rep",
                            owner_id=rep,
                            url=url,
                            event_id=str(uuid.uuid4()),
                            event_type="lead.assigned",
                            lead_id=f"lead-{index}",
                            body=f'{{"type":"lead.assigned","n":{index}}}'.encode(),
                            created_at=now,
                        )
                        for index, (rep, url) in enumerate(deliveries)
                    ],
                )
        finally:
            await engine.dispose()
        return {rep: secret.get_secret_value() for rep, secret in secrets.items()}

    async def statuses(self) -> dict[str, tuple[str, int]]:
        """Each delivery's status and number of recorded tries."""
        engine = create_async_engine(self.database_url, pool_size=1)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT delivery_id, status, attempts FROM router.callback_deliveries")
                )
                return {row.delivery_id: (row.status, row.attempts) for row in rows}
        finally:
            await engine.dispose()

    async def attempts(self) -> list[tuple[str, int, str | None]]:
        """Every recorded try: ``(delivery_id, number, error_class)``."""
        engine = create_async_engine(self.database_url, pool_size=1)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT delivery_id, number, error_class FROM router.callback_attempts")
                )
                return [(row.delivery_id, row.number, row.error_class) for row in rows]
        finally:
            await engine.dispose()

    async def destroy(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
                await asyncio.wait_for(process.wait(), timeout=10)
        await drop_database(self.stack, self.database)
        kafka = AIOKafkaAdminClient(bootstrap_servers=self.stack.kafka)
        await kafka.start()
        try:
            await kafka.delete_topics(self.topics)
        finally:
            await kafka.close()


async def drop_database(stack: Stack, database: str) -> None:
    """Drop a test's own database, its connections ended."""
    admin_engine = create_async_engine(stack.database_url, isolation_level="AUTOCOMMIT")

    async def dropped() -> bool:
        # FORCE cannot end an autovacuum worker (it runs as the superuser, not as `handoff`):
        # the drop then fails until that worker is done, which takes a moment.
        try:
            async with admin_engine.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        except DBAPIError:
            return False
        return True

    try:
        await eventually(dropped, timeout=60, interval=0.5, what=f"database {database} dropped")
    finally:
        await admin_engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
