"""What `handoff dlq replay` sends: the original key and id, the reason headers left behind."""

from __future__ import annotations

import json

import pytest
from handoff_shared.dead_letters import REPLAYED_FROM, DeadLetter, ReplayRefused

EVENT = {"specversion": "1.0", "id": "evt-1", "type": "mql.created", "data": {"lead_id": "l1"}}


def letter(value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()) -> DeadLetter:
    reason = (
        ("error.class", b"invalid_data"),
        ("original.topic", b"lead.mql-created"),
        ("original.offset", b"7"),
        ("error.service", b"router"),
    )
    return DeadLetter("lead.mql-created.dlq", 2, 41, b"l1", value, reason + headers)


def test_unchanged_replay_sends_the_original_bytes_without_the_reason() -> None:
    dead = letter(json.dumps(EVENT).encode(), (("traceparent", b"00-abc"),))
    value, headers = dead.replayed()
    assert value == dead.value
    assert dict(headers) == {"traceparent": b"00-abc", REPLAYED_FROM: b"lead.mql-created.dlq/2/41"}
    assert dead.original_topic == "lead.mql-created"
    assert dead.event_id == "evt-1"


def test_a_fix_keeps_the_id_or_is_refused() -> None:
    dead = letter(json.dumps(EVENT).encode())
    fixed = json.dumps({**EVENT, "data": {"lead_id": "l1", "email": "a@b.c"}}).encode()
    assert dead.replayed(fixed)[0] == fixed
    with pytest.raises(ReplayRefused, match="keep the id"):
        dead.replayed(json.dumps({**EVENT, "id": "evt-2"}).encode())
    with pytest.raises(ReplayRefused, match="structured CloudEvent"):
        dead.replayed(b"not json")


def test_binary_mode_letters_take_their_id_from_the_ce_id_header() -> None:
    dead = letter(b'{"lead_id": "l1"}', (("ce_id", b"evt-9"),))
    assert dead.event_id == "evt-9"
    value, headers = dead.replayed(b'{"lead_id": "l1", "email": "a@b.c"}')
    assert ("ce_id", b"evt-9") in headers
    assert value == b'{"lead_id": "l1", "email": "a@b.c"}'
