"""The feedback service over the real stack: decisions made through the router's API and
qualifications on lead.qualified become outcomes, snapshots, report rows and alerts."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import yaml
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


def now() -> str:
    return datetime.now(UTC).isoformat()


async def row_of(feedback: httpx.AsyncClient, group_by: str, key: str, **wanted: Any) -> dict[str, Any]:
    """The summary row of a segment, once it shows ``wanted``."""

    async def found() -> dict[str, Any] | None:
        response = await feedback.get("/v1/reports/summary", params={"group_by": group_by})
        assert response.status_code == 200, response.text
        rows = {row["segment_key"]: row for row in response.json()["rows"]}
        row = rows.get(key)
        return row if row is not None and all(row[k] == v for k, v in wanted.items()) else None

    row: dict[str, Any] = await eventually(found, timeout=30, what=f"{key} to show {wanted}")
    return row


async def send(producer: AIOKafkaProducer, topic: str, type_: str, data: dict[str, Any]) -> None:
    value = structured_event(data, type_=type_)
    await producer.send_and_wait(topic, value, key=data["lead_id"].encode())


async def test_decisions_and_qualifications_become_outcomes_snapshots_and_report_rows(
    admin: httpx.AsyncClient,
    stack: Stack,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    feedback: httpx.AsyncClient,
    scoring: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    leads = [mql_data(country="DE", campaign=unique("camp")) for _ in range(4)]
    for lead in leads:
        await send(producer, "lead.mql-created", "mql.created", lead)
    assignments = await assigned.events_for([lead["lead_id"] for lead in leads])
    tokens = {rep: await territory.token(admin, rep) for rep in {a["rep_id"] for a in assignments}}
    async with httpx.AsyncClient(base_url=stack.router_url, timeout=30) as router:
        for number, assignment in enumerate(assignments):
            auth = {"Authorization": f"Bearer {tokens[assignment['rep_id']]}"}
            path = f"/v1/assignments/{assignment['assignment_id']}"
            if number == 3:
                response = await router.post(f"{path}/reject", headers=auth, json={"reason": "not_icp"})
            else:
                response = await router.post(f"{path}/accept", headers=auth)
            assert response.status_code == 200, response.text
        # Two of the accepted leads are qualified by their reps through the router's API.
        bodies = [{"outcome": "sql"}, {"outcome": "disqualified", "reason": "no_budget"}]
        for assignment, body in zip(assignments[:2], bodies, strict=True):
            auth = {"Authorization": f"Bearer {tokens[assignment['rep_id']]}"}
            path = f"/v1/assignments/{assignment['assignment_id']}"
            response = await router.post(f"{path}/qualify", headers=auth, json=body)
            assert response.status_code == 200, response.text

    team = f"team={territory.weighted_team}"
    row = await row_of(feedback, "team", team, accepted=3, rejected=1, sqls=1, disqualified=1)
    assert (row["mqls"], row["assigned"], row["disqualified"]) == (4, 4, 1)
    assert row["rejected_by_reason"] == {"not_icp": 1}
    assert row["acceptance_rate"] == 0.75
    assert row["sal_to_sql_rate"] == pytest.approx(1 / 3)
    assert row["seconds_to_accept_p50"] is not None
    assert row["seconds_to_accept_p90"] >= row["seconds_to_accept_p50"]

    # One outcome per decision and qualification, keyed by lead_id, with what scoring trains on.
    lead_ids = {lead["lead_id"] for lead in leads}
    records = await scoring.wait_for(
        lambda r: (
            r.key is not None
            and r.key.decode() in lead_ids
            and json.loads(r.value)["type"] == "scoring.lead_outcome"
        ),
        count=6,
    )
    outcomes = sorted(json.loads(r.value)["data"]["outcome"] for r in records)
    assert outcomes == ["accepted", "accepted", "accepted", "disqualified", "rejected", "sql"]
    by_outcome = {json.loads(r.value)["data"]["outcome"]: json.loads(r.value)["data"] for r in records}
    sql, dq = by_outcome["sql"], by_outcome["disqualified"]
    assert (sql["lead_id"], sql["assignment_id"], sql["rep_id"]) == (
        assignments[0]["lead_id"],
        assignments[0]["assignment_id"],
        assignments[0]["rep_id"],
    )
    assert (dq["lead_id"], dq["reason"], dq["team_id"]) == (
        assignments[1]["lead_id"],
        "no_budget",
        territory.weighted_team,
    )
    sample = json.loads(records[0].value)["data"]
    assert sample["team_id"] == territory.weighted_team
    assert sample["source"] == "webinar"
    assert sample["lead"]["country"] == "DE"

    # The team's day window is published as a snapshot with the same counts.
    def team_snapshot(record: Any) -> bool:
        event: dict[str, Any] = json.loads(record.value)
        data = event["data"]
        return bool(
            event["type"] == "scoring.feedback_snapshot"
            and data.get("segment_key") == team
            and data["window"] == "day"
            and data["accepted"] == 3
            and data["sqls"] == 1
            and data.get("disqualified") == 1
        )

    (snapshot,) = (await scoring.wait_for(team_snapshot, timeout=30))[:1]
    data = json.loads(snapshot.value)["data"]
    assert data["segment"] == {"team": territory.weighted_team}
    assert (data["mqls"], data["disqualified_by_reason"]) == (4, {"no_budget": 1})
    assert (data["rejected"], data["acceptance_rate"], data["sal_to_sql_rate"]) == (
        1,
        0.75,
        pytest.approx(1 / 3),
    )

    # CSV, as a spreadsheet would read it.
    response = await feedback.get("/v1/reports/summary?group_by=team", headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = {r["segment_key"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert (rows[team]["accepted"], rows[team]["rejected"], rows[team]["rejected:not_icp"]) == ("3", "1", "1")

    rejections = (await feedback.get("/v1/reports/rejections?group_by=team")).json()
    (mine,) = [r for r in rejections["rows"] if r["segment_key"] == team]
    assert mine["reasons"] == [{"reason": "not_icp", "count": 1, "share": 1.0}]

    series = (await feedback.get("/v1/reports/timeseries", params={"segment": team, "window": "day"})).json()
    assert series["total"]["accepted"] == 3
    assert sum(point["accepted"] for point in series["points"]) == 3
    assert len(series["points"]) == 7

    reps = (await feedback.get("/v1/reports/reps", params={"team": territory.weighted_team})).json()
    assert sum(r["accepted"] for r in reps["rows"]) == 3
    assert all(not r["flagged"] for r in reps["rows"])  # four leads: far too few to flag anyone


def lifecycle(campaign: str, accept: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """One lead of ``campaign`` assigned and decided, as the router would publish it."""
    lead = mql_data(campaign=campaign, source="alert-test")
    assignment = {"assignment_id": unique("asg"), "lead_id": lead["lead_id"], "rep_id": "rep-alert"}
    assigned_data = {
        **assignment,
        "team_id": "team-alert",
        "rule_id": "rule-alert",
        "attempt": 1,
        "assigned_at": now(),
        "sla_due_at": now(),
        "explanation": {"rule_id": "rule-alert"},
        "lead": lead,
    }
    decision = (
        ("lead.accepted", "lead.accepted", {**assignment, "accepted_at": now(), "seconds_to_accept": 5.0})
        if accept
        else ("lead.rejected", "lead.rejected", {**assignment, "rejected_at": now(), "reason": "no_intent"})
    )
    return [("lead.assigned", "lead.assigned", assigned_data), decision]


async def alert_metrics(stack: Stack) -> dict[tuple[str, str], float]:
    """The acceptance alert gauge and counter of the feedback service's /metrics, by direction."""
    async with httpx.AsyncClient(base_url=stack.feedback_url, timeout=10) as client:
        body = (await client.get("/metrics")).text
    found = re.findall(
        r'^handoff_feedback_acceptance_alerts_(open|total)\{direction="(\w+)"\} ([0-9.e+]+)$', body, re.M
    )
    return {(name, direction): float(value) for name, direction, value in found}


async def test_an_alert_fires_once_when_a_campaigns_acceptance_drops_under_the_threshold(
    stack: Stack, producer: AIOKafkaProducer, feedback: httpx.AsyncClient, scoring: TopicWatcher
) -> None:
    before = await alert_metrics(stack)
    assert set(before) == {
        ("open", "below"), ("open", "above"),
        ("total", "below"), ("total", "above"), ("total", "recovered"),
    }  # fmt: skip
    campaign = unique("drop")
    key = f"campaign={campaign}"
    # 25 decisions, 5 accepted: 20 % < 50 %, with more than the 20 decisions needed.
    for number in range(25):
        for topic, type_, data in lifecycle(campaign, accept=number < 5):
            await send(producer, topic, type_, data)

    def alert_for_campaign(record: Any) -> bool:
        event: dict[str, Any] = json.loads(record.value)
        return bool(event["type"] == "scoring.acceptance_alert" and event["subject"] == key)

    (first,) = await scoring.wait_for(alert_for_campaign, timeout=30)
    alert = json.loads(first.value)["data"]
    assert (alert["direction"], alert["state"], alert["threshold"]) == ("below", "firing", 0.5)
    # The snapshot round may judge the campaign before all 25 decisions are counted: it fires
    # once at least 20 are, with the rate of those (at most the 5 acceptances among them).
    decisions, rate = alert["decisions"], alert["acceptance_rate"]
    assert 20 <= decisions <= 25
    assert rate * decisions == pytest.approx(round(rate * decisions))
    assert round(rate * decisions) <= 5
    assert first.key == key.encode()

    # Five more rejections: still under, so the next snapshot of the campaign comes with no new alert.
    for _ in range(5):
        for topic, type_, data in lifecycle(campaign, accept=False):
            await send(producer, topic, type_, data)

    def later_snapshot(record: Any) -> bool:
        event: dict[str, Any] = json.loads(record.value)
        data = event["data"]
        return bool(
            event["type"] == "scoring.feedback_snapshot"
            and data.get("segment_key") == key
            and (data["window"] == "day" and data["rejected"] == 25)
        )

    await scoring.wait_for(later_snapshot, timeout=30)
    assert len([r for r in scoring.records if alert_for_campaign(r)]) == 1
    firing = (await feedback.get("/v1/reports/alerts")).json()["firing"]
    assert [(a["direction"], a["decisions"]) for a in firing if a["segment_key"] == key] == [("below", 30)]

    # The metrics count what was emitted: each firing alert seen on the topic since the start
    # (the campaign's, and those its leads moved in shared segments such as team-alert), and the
    # gauge is the number of segments firing now.
    def emitted() -> dict[str, int]:
        seen = {"below": 0, "above": 0, "recovered": 0}
        for event in scoring.events():
            if event["type"] == "scoring.acceptance_alert":
                data = event["data"]
                seen[data["direction"] if data["state"] == "firing" else "recovered"] += 1
        return seen

    async def metrics_agree() -> dict[tuple[str, str], float] | None:
        await scoring.read_to_end()
        now = await alert_metrics(stack)
        grown = {d: now[("total", d)] - before[("total", d)] for d in ("below", "above", "recovered")}
        open_now = (await feedback.get("/v1/reports/alerts")).json()["firing"]
        gauge = {d: float(len([a for a in open_now if a["direction"] == d])) for d in ("below", "above")}
        agree = grown == emitted() and gauge == {d: now[("open", d)] for d in ("below", "above")}
        return now if agree else None

    settled = await eventually(metrics_agree, timeout=30, interval=0.5, what="the alert metrics to agree")
    assert settled[("total", "below")] - before[("total", "below")] >= 1  # the campaign's own
    assert settled[("open", "below")] >= 1


async def test_reports_need_the_admin_token(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.feedback_url) as client:
        anonymous = await client.get("/v1/reports/summary?group_by=team")
        wrong = await client.get(
            "/v1/reports/summary?group_by=team", headers={"Authorization": f"Bearer {uuid.uuid4().hex}"}
        )
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/reports/summary?group_by=country", "query.group_by"),
        ("/v1/reports/summary", "query.group_by"),
        ("/v1/reports/summary?group_by=team&from=yesterday", "query.from"),
        ("/v1/reports/summary?group_by=team&from=2026-03-02&to=2026-03-01", "query.from"),
        ("/v1/reports/timeseries?segment=country=US", "query.segment"),
        ("/v1/reports/timeseries?segment=all&window=month", "query.window"),
        ("/v1/reports/reps?to=soon", "query.to"),
    ],
)
async def test_a_bad_parameter_is_a_422_that_names_it(
    feedback: httpx.AsyncClient, path: str, parameter: str
) -> None:
    response = await feedback.get(path)
    assert response.status_code == 422
    assert [error["path"] for error in response.json()["errors"]] == [parameter]


async def thresholds_of(feedback: httpx.AsyncClient, version: int) -> dict[str, Any]:
    """The alert thresholds the feedback service uses, once they come from config ``version``."""

    async def known() -> dict[str, Any] | None:
        thresholds: dict[str, Any] = (await feedback.get("/v1/reports/alerts")).json()["thresholds"]
        return thresholds if thresholds["config_version"] == version else None

    found: dict[str, Any] = await eventually(known, timeout=30, what=f"feedback to use config {version}")
    return found


async def test_an_alert_fires_by_the_thresholds_of_the_routing_configs_alerts_key(
    stack: Stack,
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    feedback: httpx.AsyncClient,
    scoring: TopicWatcher,
) -> None:
    alerts = {"acceptance_below": 0.75, "acceptance_above": 0.95, "min_decisions": 8}
    configs = await TopicWatcher(stack.kafka, "routing.config").start()
    try:
        version = await Territory.new().apply(admin, alerts=alerts)

        def applied(record: Any) -> bool:
            event: dict[str, Any] = json.loads(record.value)
            return bool(event["type"] == "routing.config_applied" and event["data"]["version"] == version)

        (event,) = await configs.wait_for(applied, timeout=30)
        assert json.loads(event.value)["data"]["alerts"] == alerts
        assert event.key == b"routing-config"
        assert await thresholds_of(feedback, version) == {**alerts, "config_version": version}

        # 10 decisions, 7 accepted: 70 %. The settings' 50 % and 20 decisions would say nothing.
        campaign = unique("cfg-alert")
        key = f"campaign={campaign}"
        for number in range(10):
            for topic, type_, data in lifecycle(campaign, accept=number < 7):
                await send(producer, topic, type_, data)

        def alert_for_campaign(record: Any) -> bool:
            event: dict[str, Any] = json.loads(record.value)
            return bool(event["type"] == "scoring.acceptance_alert" and event["subject"] == key)

        (first,) = await scoring.wait_for(alert_for_campaign, timeout=30)
        alert = json.loads(first.value)["data"]
        assert (alert["direction"], alert["state"], alert["threshold"]) == ("below", "firing", 0.75)
        assert (alert["decisions"], alert["acceptance_rate"]) == (10, 0.7)
        firing = (await feedback.get("/v1/reports/alerts")).json()["firing"]
        assert [(a["direction"], a["threshold"]) for a in firing if a["segment_key"] == key] == [
            ("below", 0.75)
        ]
    finally:
        await configs.stop()
        # A config without `alerts`: the contract's defaults again, for the tests that follow.
        restored = await Territory.new().apply(admin)
        assert (await thresholds_of(feedback, restored))["acceptance_below"] == 0.5


async def test_a_routing_config_with_a_bad_alerts_band_is_refused(admin: httpx.AsyncClient) -> None:
    response = await admin.put(
        "/v1/routing-config",
        content=yaml.safe_dump(
            Territory.new().config(alerts={"acceptance_below": 0.9, "acceptance_above": 0.5})
        ),
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 422, response.text
    assert "acceptance_below (0.9) must be under acceptance_above (0.5)" in response.text
