"""Settings parsing and log redaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
import structlog
from handoff_router.app import create_app
from handoff_router.settings import RouterSettings
from handoff_shared import entrypoint
from handoff_shared.observability import configure_logging
from handoff_shared.settings import ServiceSettings
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("3", None),  # a bare number needs a unit in the environment too
    ],
)
def test_duration_settings_read_the_one_grammar(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: timedelta | None
) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", "postgresql+asyncpg://u:p@db/handoff")
    monkeypatch.setenv("HANDOFF_OUTBOX_POLL", value)
    if expected is None:
        with pytest.raises(ValidationError, match="needs a unit"):
            ServiceSettings()
    else:
        assert ServiceSettings().outbox_poll == expected


def test_the_database_url_has_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANDOFF_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="database_url"):
        ServiceSettings()


def test_a_service_without_a_database_url_exits_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HANDOFF_DATABASE_URL", raising=False)

    status = entrypoint.run(
        ["serve"], package="handoff_router", settings_factory=RouterSettings, app_factory=create_app
    )

    assert status == 2
    assert "HANDOFF_DATABASE_URL is not set" in capsys.readouterr().err


def test_a_bad_setting_is_named_with_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", "postgresql+asyncpg://u:secret@db/handoff")
    monkeypatch.setenv("HANDOFF_QUEUE_DRAIN_INTERVAL", "soon")

    status = entrypoint.run(
        ["migrate"], package="handoff_router", settings_factory=RouterSettings, app_factory=create_app
    )

    err = capsys.readouterr().err
    assert status == 2
    assert "HANDOFF_QUEUE_DRAIN_INTERVAL is not valid" in err
    assert "'soon' is not a duration" in err
    assert "secret" not in err


def test_settings_come_from_handoff_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_DATABASE_URL", "postgresql+asyncpg://handoff:handoff@db/handoff")
    monkeypatch.setenv("HANDOFF_KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("HANDOFF_OUTBOX_POLL", "50ms")
    monkeypatch.setenv("HANDOFF_TOPIC_LEAD_ASSIGNED", "custom.assigned")

    settings = ServiceSettings()

    assert settings.kafka_bootstrap == "broker:9092"
    assert settings.outbox_poll == timedelta(milliseconds=50)
    assert settings.topic_lead_assigned == "custom.assigned"
    assert "handoff:handoff" not in repr(settings)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """configure_logging binds to the stdout of the moment (capsys's here): undo it afterwards, or
    tests that run later would log to a closed file."""
    handlers = logging.getLogger().handlers[:]
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


@pytest.mark.usefixtures("logging_restored")
def test_secrets_and_personal_data_never_reach_the_logs(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json=True)
    structlog.get_logger("test").info(
        "lead.seen",
        lead_id="lead-1",
        email="pat@example.com",
        token="hrep_abc",
        callback_secret="whsec_x",
        authorization="Bearer abc",
    )

    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert line["event"] == "lead.seen"
    assert line["lead_id"] == "lead-1"
    assert {line[key] for key in ("email", "token", "callback_secret", "authorization")} == {"[redacted]"}
