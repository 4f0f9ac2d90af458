"""Segments are values, not strings: a source or campaign holding the key's separators (or
any other character) is reported as itself, one segment, and the reports never fail on it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.routing_configs import Territory
from tests.stack import Stack, TopicWatcher, eventually, mql_data, structured_event, unique

pytestmark = pytest.mark.integration


@pytest.fixture
async def feedback(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    async with httpx.AsyncClient(base_url=stack.feedback_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
async def scoring(stack: Stack) -> AsyncIterator[TopicWatcher]:
    watcher = await TopicWatcher(stack.kafka, "scoring.feedback").start()
    yield watcher
    await watcher.stop()


async def rows_by_segment(feedback: httpx.AsyncClient, group_by: str) -> list[dict[str, Any]]:
    response = await feedback.get("/v1/reports/summary", params={"group_by": group_by})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


async def test_a_source_holding_separators_is_one_segment_in_reports_snapshots_and_csv(
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    feedback: httpx.AsyncClient,
    scoring: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    tag = unique("seg")
    spoof = f"{tag},campaign=spoof"  # read as a string, this was another segment
    odd = f'{tag} 50% | a=b\t"quoted" ünïcode ✓'
    campaign = f"{tag}-camp,=|%"
    leads = [
        mql_data(country="DE", source=source, campaign=campaign, email=f"{unique('pat')}@example.com")
        for source in (spoof, odd)
    ]
    for lead in leads:
        await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
    await assigned.events_for([lead["lead_id"] for lead in leads])

    async def mine() -> dict[str, dict[str, Any]] | None:
        rows = await rows_by_segment(feedback, "source")
        found = {row["segment"]["source"]: row for row in rows if row["segment"]["source"] in (spoof, odd)}
        return found if len(found) == 2 and all(r["mqls"] == 1 for r in found.values()) else None

    by_source = await eventually(mine, timeout=30, what="both odd sources in the summary")
    assert by_source[spoof]["segment"] == {"source": spoof}
    assert by_source[spoof]["segment_key"] == f"source={tag}%2Ccampaign%3Dspoof"
    # Nothing counted under the segment the spoofed string names.
    pairs = await rows_by_segment(feedback, "source_campaign")
    assert [r["segment"] for r in pairs if r["segment"]["source"] == tag] == []
    assert {r["segment"]["source"] for r in pairs if r["segment"].get("campaign") == campaign} == {spoof, odd}
    campaigns = await rows_by_segment(feedback, "campaign")
    assert [r["mqls"] for r in campaigns if r["segment"] == {"campaign": campaign}] == [2]

    # The same rows as CSV, one line each, the key escaped.
    response = await feedback.get(
        "/v1/reports/summary", params={"group_by": "source"}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert f"source={tag}%2Ccampaign%3Dspoof" in response.text

    # The timeseries by the values as they are, and by the escaped key: the same segment.
    by_values = await feedback.get("/v1/reports/timeseries", params={"source": odd, "campaign": campaign})
    assert by_values.status_code == 200, by_values.text
    assert by_values.json()["segment"] == {"source": odd, "campaign": campaign}
    assert by_values.json()["total"]["mqls"] == 1
    by_key = await feedback.get("/v1/reports/timeseries", params={"segment": by_values.json()["segment_key"]})
    assert by_key.status_code == 200, by_key.text
    assert by_key.json()["total"]["mqls"] == 1

    # Snapshots carry the segment as an object with the values as they are.
    records = await scoring.wait_for(
        lambda r: (
            json.loads(r.value)["type"] == "scoring.feedback_snapshot"
            and json.loads(r.value)["data"]["segment"] == {"source": spoof}
        ),
        count=1,
    )
    data = json.loads(records[0].value)["data"]
    assert data["segment_key"] == f"source={tag}%2Ccampaign%3Dspoof"
    assert data["mqls"] == 1
