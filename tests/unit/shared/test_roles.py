"""HANDOFF_ROLE splits a service into the api and worker Deployments of deploy/k8s."""

from __future__ import annotations

import pytest
from handoff_shared.runtime import Runtime
from handoff_shared.settings import ServiceSettings
from sqlalchemy import Column, Integer, MetaData, Table

DATABASE_URL = "postgresql+asyncpg://user:password@127.0.0.1:1/none"
OUTBOX = Table("outbox", MetaData(), Column("id", Integer, primary_key=True))


async def _nothing(_: object) -> None:
    return None


@pytest.mark.parametrize(("role", "consumes"), [("all", True), ("worker", True), ("api", False)])
async def test_only_roles_that_work_register_consumers_and_background_work(role: str, consumes: bool) -> None:
    settings = ServiceSettings(role=role, database_url=DATABASE_URL)
    runtime = Runtime(settings, schema="test", outbox=OUTBOX)
    runtime.consume("group", ["topic"], _nothing)
    runtime.spawn("periodic", _nothing)
    try:
        assert runtime.runs_workers is consumes
        expected = ["outbox-relay", "consumer:group", "periodic"] if consumes else ["outbox-relay"]
        assert runtime.workers == expected
    finally:
        await runtime.engine.dispose()


def test_role_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("HANDOFF_ROLE", "worker")
    assert ServiceSettings().role == "worker"
    monkeypatch.setenv("HANDOFF_ROLE", "both")
    with pytest.raises(ValueError, match="role"):
        ServiceSettings()
