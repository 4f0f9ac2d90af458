"""A pooled connection is pinged before use only after sitting idle (``make_engine``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from handoff_shared import db
from sqlalchemy.exc import DisconnectionError


class Record:
    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


class Connection:
    def __init__(self, *, answers: bool = True) -> None:
        self.answers = answers
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1
        if not self.answers:
            raise ConnectionResetError("gone")


def test_a_new_or_busy_connection_is_not_pinged() -> None:
    connection, record = Connection(), Record()
    db._ping_if_idle(connection, record, None)  # never checked in: just opened
    db._note_checkin(connection, record)
    db._ping_if_idle(connection, record, None)  # back in the pool a moment ago
    assert connection.pings == 0


def test_an_idle_connection_is_pinged_and_one_that_does_not_answer_is_replaced() -> None:
    alive, dead, record = Connection(), Connection(answers=False), Record()
    record.info["checked_in_at"] = time.monotonic() - db.PING_AFTER_IDLE_SECONDS - 1
    db._ping_if_idle(alive, record, None)
    assert alive.pings == 1
    record.info["checked_in_at"] = time.monotonic() - db.PING_AFTER_IDLE_SECONDS - 1
    with pytest.raises(DisconnectionError):  # the pool opens a fresh connection instead
        db._ping_if_idle(dead, record, None)


def test_the_engine_does_not_ping_on_every_checkout() -> None:
    engine = db.make_engine("postgresql+asyncpg://u:p@127.0.0.1:1/x")
    assert not engine.sync_engine.pool._pre_ping
