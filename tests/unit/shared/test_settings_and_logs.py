"""Settings parsing and log redaction."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import structlog
from handoff_shared.observability import configure_logging
from handoff_shared.settings import ServiceSettings, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("5s", timedelta(seconds=5)),
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        (3, timedelta(seconds=3)),
    ],
)
def test_durations_are_read_in_every_unit(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["soon", "5 weeks", "", "-3s"])
def test_bad_duration_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"write e\.g\."):
        parse_duration(text)


def test_settings_come_from_handoff_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("HANDOFF_OUTBOX_POLL", "50ms")
    monkeypatch.setenv("HANDOFF_TOPIC_LEAD_ASSIGNED", "custom.assigned")

    settings = ServiceSettings()

    assert settings.kafka_bootstrap == "broker:9092"
    assert settings.outbox_poll == timedelta(milliseconds=50)
    assert settings.topic_lead_assigned == "custom.assigned"
    assert "handoff:handoff" not in repr(settings)


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
