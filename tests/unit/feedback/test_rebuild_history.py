"""The rebuild refuses when retention has deleted the topics' first records (unless --force)."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from handoff_feedback import rebuild
from handoff_feedback.settings import Settings


def test_topics_that_still_start_at_offset_zero_have_lost_nothing() -> None:
    first = {TopicPartition("lead.assigned", 0): 0, TopicPartition("lead.accepted", 1): 0}
    assert rebuild.dropped_history(first) is None
    assert rebuild.dropped_history({}) is None


def test_a_partition_starting_later_says_how_many_records_are_gone_and_where() -> None:
    first = {
        TopicPartition("lead.assigned", 0): 0,
        TopicPartition("lead.assigned", 2): 1200,
        TopicPartition("lead.accepted", 1): 34,
    }
    found = rebuild.dropped_history(first)
    assert found == (
        "1,234 records are no longer on the topics (lead.accepted[1] starts at 34,"
        " lead.assigned[2] starts at 1,200): a rebuild would drop what they counted from the"
        " aggregates for good"
    )


def test_a_refused_rebuild_exits_3_and_says_how_to_force_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[bool] = []

    async def refuse(settings: Settings, *, show_progress: bool, force: bool = False) -> int:
        seen.append(force)
        raise rebuild.HistoryDropped("5 records are no longer on the topics (lead.assigned[0] starts at 5)")

    monkeypatch.setattr(rebuild, "rebuild", refuse)
    settings = Settings(database_url="postgresql+asyncpg://unused@127.0.0.1/unused")
    assert rebuild.main(settings, []) == rebuild.REFUSED
    err = capsys.readouterr().err
    assert "rebuild refused, nothing changed: 5 records are no longer on the topics" in err
    assert "--force" in err

    async def forced(settings: Settings, *, show_progress: bool, force: bool = False) -> int:
        seen.append(force)
        return 7

    monkeypatch.setattr(rebuild, "rebuild", forced)
    assert rebuild.main(settings, ["--force"]) == 0
    captured = capsys.readouterr()
    assert "warning: --force" in captured.err
    assert captured.out == "rebuilt the feedback aggregates from 7 records\n"
    assert seen == [False, True]
