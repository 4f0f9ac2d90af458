"""Where reps work (CONTRACT §12), end to end on a router of its own (its own database and
topics) pointed at a loopback Slack (Web API wire format), a real SMTP server (aiosmtpd) and
loopback calendar feeds: the assignment DM and e-mail, signed Accept and Reject clicks, forged
and stale clicks, a stranger's click, Slack's rate limit, an SMTP outage, calendar absences
(and a failing, a huge and a private feed), offboarding, and the inbox in headless Chromium."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from playwright.async_api import async_playwright, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.integration.isolated import IsolatedRouters
from tests.slack_receiver import FakeSlack, block_actions_body, slack_signature
from tests.smtp_receiver import SmtpReceiver
from tests.stack import Stack, TopicWatcher, eventually, mql_data, structured_event, unique

pytestmark = pytest.mark.integration
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the example secret of Slack's docs
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"
MAX_FEED = 200_000


@dataclass
class World:
    routers: IsolatedRouters
    slack: FakeSlack
    smtp: SmtpReceiver
    admin: httpx.AsyncClient
    api: httpx.AsyncClient
    database: AsyncEngine
    accepted: TopicWatcher
    rejected: TopicWatcher
    mql_topic: str

    async def send(self, producer: AIOKafkaProducer, **fields: Any) -> str:
        # each lead a person of its own: the same person again would be a re-engagement
        data = mql_data(**{"email": f"{unique('pat')}@example.com", **fields})
        await producer.send_and_wait(self.mql_topic, structured_event(data), key=data["lead_id"].encode())
        return str(data["lead_id"])

    async def assignment(self, lead_id: str, status: str = "pending") -> Any:
        async def found() -> Any:
            async with self.database.connect() as connection:
                return (
                    await connection.execute(
                        text(
                            "SELECT assignment_id, rep_id, status, explanation FROM router.assignments"
                            " WHERE lead_id = :lead AND status = :status ORDER BY assigned_at DESC LIMIT 1"
                        ),
                        {"lead": lead_id, "status": status},
                    )
                ).first()

        return await eventually(found, timeout=60, what=f"a {status} assignment of {lead_id}")

    async def apply(self, config: dict[str, Any]) -> httpx.Response:
        return await self.admin.put(
            "/v1/routing-config", content=yaml.safe_dump(config), headers={"Content-Type": "application/yaml"}
        )

    async def click(self, body: bytes, *, secret: str = SIGNING_SECRET, age: float = 0) -> httpx.Response:
        timestamp = str(int(time.time() - age))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(secret, timestamp, body),
        }
        return await self.api.post("/v1/slack/interactions", content=body, headers=headers)

    async def deliveries(self, lead_id: str) -> list[dict[str, Any]]:
        answer = await self.admin.get("/v1/deliveries", params={"lead_id": lead_id})
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    async def load(self) -> dict[str, dict[str, Any]]:
        answer = await self.admin.get("/v1/reps/load")
        assert answer.status_code == 200, answer.text
        return {row["rep_id"]: row for row in answer.json()}


@pytest.fixture(scope="module")
async def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    slack = await FakeSlack().start()
    smtp = SmtpReceiver().start()
    routers = await IsolatedRouters(stack, tmp_path_factory.mktemp("reps")).create()
    own = {
        "HANDOFF_TOPIC_LEAD_ACCEPTED": f"cbtest-{routers.tag}.accepted",
        "HANDOFF_TOPIC_LEAD_QUALIFIED": f"cbtest-{routers.tag}.qualified",
    }
    kafka = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await kafka.start()
    try:
        await kafka.create_topics([NewTopic(name, 1, 1) for name in own.values()])
    finally:
        await kafka.close()
    database = create_async_engine(routers.database_url, pool_size=1)
    accepted = await TopicWatcher(stack.kafka, own["HANDOFF_TOPIC_LEAD_ACCEPTED"]).start()
    rejected = await TopicWatcher(stack.kafka, f"cbtest-{routers.tag}.rejected").start()
    try:
        await routers.start_router(
            "reps",
            HANDOFF_SLACK_BOT_TOKEN="xoxb-test-token",
            HANDOFF_SLACK_SIGNING_SECRET=SIGNING_SECRET,
            HANDOFF_SLACK_API_URL=slack.api_url,
            HANDOFF_SMTP_URL=smtp.url,
            HANDOFF_PUBLIC_URL="http://127.0.0.1:1",
            HANDOFF_CALLBACK_ALLOW_PRIVATE="false",
            HANDOFF_CALLBACK_ALLOWED_NETWORKS="127.0.0.0/8",
            HANDOFF_CALLBACK_RETRY_BASE="300ms",
            HANDOFF_CALLBACK_RETRY_MAX_DELAY="1s",
            HANDOFF_CALLBACK_FAILURE_THRESHOLD="1000",
            HANDOFF_CALENDAR_MAX_BYTES=str(MAX_FEED),
            **own,
        )
        url = routers.urls["reps"]
        async with (
            httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {stack.admin_token}"}, timeout=30
            ) as admin,
            httpx.AsyncClient(base_url=url, timeout=30) as api,
        ):
            yield World(
                routers, slack, smtp, admin, api, database, accepted, rejected, f"cbtest-{routers.tag}.mql"
            )
    finally:
        await accepted.stop()
        await rejected.stop()
        await database.dispose()
        await routers.destroy()
        smtp.stop()
        await slack.stop()


def rep(rep_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": rep_id, "email": f"{rep_id}@example.com", "timezone": "America/New_York", **extra}


def config(reps: list[dict[str, Any]], teams: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Every lead goes to the first team (no rule matches any other country)."""
    return {
        "reps": reps,
        "teams": teams,
        "rules": [{"id": "all", "when": {"country": ["US"]}, "team": teams[0]["id"]}],
        "fallback_team": teams[0]["id"],
        **extra,
    }


def slack_id() -> str:
    return "U" + uuid.uuid4().hex[:10].upper()


def dm_for(world: World, user: str, assignment_id: str) -> Any:
    for call in world.slack.calls("chat.postMessage"):
        if call.answered != 200:
            continue
        if call.args.get("channel") == user and assignment_id in orjson.dumps(call.args).decode():
            return call
    return None


def accept_action(assignment_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": "handoff_accept",
        "value": assignment_id,
        "text": {"type": "plain_text", "text": "Accept"},
    }


def reject_action(assignment_id: str, reason: str) -> dict[str, Any]:
    option = {"value": f"{assignment_id}|{reason}", "text": {"type": "plain_text", "text": reason}}
    return {"type": "static_select", "action_id": "handoff_reject", "selected_option": option}


async def slack_rep(world: World) -> tuple[str, str]:
    """A config of one rep with Slack and e-mail (no callback URL); answers (rep id, Slack id)."""
    rep_id, user, team = unique("ana"), slack_id(), unique("team")
    answer = await world.apply(config([rep(rep_id, slack_user_id=user)], [{"id": team, "members": [rep_id]}]))
    assert answer.status_code == 200, answer.text
    return rep_id, user


async def test_an_assignment_reaches_the_rep_in_slack_and_by_email_and_an_accept_click_accepts_once(
    world: World, producer: AIOKafkaProducer
) -> None:
    rep_id, user = await slack_rep(world)
    lead = await world.send(producer, first_name="Pat", title="CTO")
    row = await world.assignment(lead)
    assert row.rep_id == rep_id
    dm = await eventually(lambda: dm_for(world, user, row.assignment_id), timeout=30, what="the Slack DM")
    assert dm.token == "xoxb-test-token"
    blocks = orjson.dumps(dm.args["blocks"]).decode()
    assert "Pat" in blocks
    assert "Why you" in blocks
    assert "Accept by" in blocks
    assert "America/New_York" in blocks
    assert "handoff_accept" in blocks
    assert "handoff_reject" in blocks
    mail = await eventually(lambda: world.smtp.to(f"{rep_id}@example.com"), timeout=30, what="the e-mail")
    parts = SmtpReceiver.parts(mail[0])
    assert "http://127.0.0.1:1/inbox" in parts["text"]
    assert "/inbox" in parts["html"]
    assert "Pat" in parts["html"]

    async def both_delivered() -> bool:  # no callback_url: no callback delivery
        return {d["channel"]: d["status"] for d in await world.deliveries(lead)} == {
            "slack": "delivered",
            "email": "delivered",
        }

    await eventually(both_delivered, timeout=30, what="the DM and the e-mail recorded delivered")

    message = {"ts": "1700000000.000100", "blocks": dm.args["blocks"], "text": dm.args["text"]}
    body = block_actions_body(user, accept_action(row.assignment_id), message, user)
    assert (await world.click(body)).status_code == 200
    await world.assignment(lead, "accepted")
    records = await world.accepted.wait_for(lambda r: orjson.loads(r.value)["subject"] == lead)
    update = await eventually(
        lambda: [c for c in world.slack.calls("chat.update")
                 if "Accepted" in c.args.get("text", "") and c.args.get("ts") == "1700000000.000100"],
        timeout=30, what="the message updated",
    )  # fmt: skip
    assert not any(block["type"] == "actions" for block in update[-1].args["blocks"])
    assert (await world.click(body)).status_code == 200  # the same click again: nothing new
    await world.accepted.read_to_end()
    assert (
        len([r for r in world.accepted.records if orjson.loads(r.value)["subject"] == lead])
        == len(records)
        == 1
    )


async def test_a_reject_click_rejects_with_its_reason_and_a_strangers_click_changes_nothing(
    world: World, producer: AIOKafkaProducer
) -> None:
    _rep_id, user = await slack_rep(world)
    lead = await world.send(producer)
    row = await world.assignment(lead)
    dm = await eventually(lambda: dm_for(world, user, row.assignment_id), timeout=30, what="the Slack DM")
    message = {"ts": "1700000000.000200", "blocks": dm.args["blocks"]}

    stranger = slack_id()
    answer = await world.click(
        block_actions_body(stranger, accept_action(row.assignment_id), message, stranger)
    )
    assert answer.status_code == 200
    note = await eventually(
        lambda: [c for c in world.slack.calls("chat.postEphemeral") if c.args.get("user") == stranger],
        timeout=30, what="the ephemeral note",
    )  # fmt: skip
    assert "Not your lead" in note[0].args["text"]
    assert (await world.assignment(lead)).status == "pending"

    body = block_actions_body(user, reject_action(row.assignment_id, "not_icp"), message, user)
    assert (await world.click(body)).status_code == 200
    await world.assignment(lead, "rejected")
    records = await world.rejected.wait_for(lambda r: orjson.loads(r.value)["subject"] == lead)
    assert orjson.loads(records[0].value)["data"]["reason"] == "not_icp"
    await eventually(
        lambda: [
            c for c in world.slack.calls("chat.update") if "Rejected (not_icp)" in c.args.get("text", "")
        ],
        timeout=30,
        what="the message showing the rejection",
    )


async def test_a_forged_or_stale_click_is_refused_before_anything(world: World) -> None:
    body = block_actions_body("U1", accept_action("nope"), {"ts": "1.2"}, "U1")
    assert (await world.click(body, secret="not-the-secret")).status_code == 401
    assert (await world.click(body, age=6 * 60)).status_code == 401
    unsigned = await world.api.post("/v1/slack/interactions", content=body)
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"].startswith("application/problem+json")


async def test_slack_rate_limits_and_an_smtp_outage_delay_never_lose(
    world: World, producer: AIOKafkaProducer
) -> None:
    rep_id, user = await slack_rep(world)
    world.slack.plan("chat.postMessage", "429:1", "500")
    world.smtp.stop()
    try:
        lead = await world.send(producer)
        row = await world.assignment(lead)

        async def email_failing() -> dict[str, Any] | None:
            mail = next((d for d in await world.deliveries(lead) if d["channel"] == "email"), None)
            return mail if mail and mail["attempts"] >= 2 and mail["status"] == "pending" else None

        failing = await eventually(email_failing, timeout=60, what="the e-mail tried and pending")
        assert failing["last_error"] == "ConnectionRefusedError"
    finally:
        world.smtp.start()
    await eventually(
        lambda: world.smtp.to(f"{rep_id}@example.com"), timeout=60, what="the e-mail after the outage"
    )
    await eventually(lambda: dm_for(world, user, row.assignment_id), timeout=60, what="the DM after the 429")
    tries = [c.answered for c in world.slack.calls("chat.postMessage") if c.args.get("channel") == user]
    assert tries == [429, 500, 200]

    async def both_delivered() -> bool:
        return {d["channel"]: d["status"] for d in await world.deliveries(lead)} == {
            "slack": "delivered", "email": "delivered",
        }  # fmt: skip

    await eventually(both_delivered, timeout=30, what="both deliveries delivered")


def ics(*events: str) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//handoff//EN", *events, "END:VCALENDAR"]
    return ("\r\n".join(lines) + "\r\n").encode()


def out_of_office_now() -> str:
    start = datetime.now(UTC) - timedelta(hours=2)
    return "\r\n".join(
        [
            "BEGIN:VEVENT",
            f"UID:{uuid.uuid4()}",
            f"DTSTAMP:{start:%Y%m%dT%H%M%SZ}",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{start + timedelta(hours=8):%Y%m%dT%H%M%SZ}",
            "SUMMARY:Out of office",
            "X-MICROSOFT-CDO-BUSYSTATUS:OOF",
            "END:VEVENT",
        ]
    )


async def test_a_rep_out_of_office_by_calendar_is_skipped_and_a_failing_feed_keeps_the_last_state(
    world: World, producer: AIOKafkaProducer
) -> None:
    away, cover, team = unique("away"), unique("cover"), unique("team")
    feed = unique("feed")
    world.slack.feeds[feed] = ics(out_of_office_now())
    reps = [rep(away, calendar_url=world.slack.feed_url(feed)), rep(cover)]
    setup = config(reps, [{"id": team, "members": [away, cover]}])
    assert (await world.apply(setup)).status_code == 200

    async def away_by_calendar() -> dict[str, Any] | None:
        row = (await world.load()).get(away)
        return row if row and row["calendar"] and row["calendar"]["busy_now"] else None

    row = await eventually(away_by_calendar, timeout=60, what="the feed read")
    assert row["available"] is False
    assert row["unavailable_reason"] == "calendar"
    for _ in range(2):  # the away rep would have one of two in the rotation
        lead = await world.send(producer)
        assignment = await world.assignment(lead)
        assert assignment.rep_id == cover
        assert {"rep_id": away, "reason": "calendar"} in assignment.explanation["skipped"]

    world.slack.feed_status[feed] = 500
    assert (await world.apply(setup)).status_code == 200  # applied again: read again now

    async def failed() -> dict[str, Any] | None:
        row = (await world.load())[away]
        return row if row["calendar"]["error"] else None

    row = await eventually(failed, timeout=60, what="the failing read recorded")
    assert row["calendar"]["error"] == "HTTP 500"
    assert row["calendar"]["busy_now"] is True  # the last known state stays


async def test_huge_malformed_and_private_feeds_are_refused_with_the_reason(world: World) -> None:
    huge, bad, team = unique("huge"), unique("bad"), unique("team")
    world.slack.feeds[huge] = ics(*[out_of_office_now()] * (MAX_FEED // 100))  # about twice the cap
    world.slack.feeds[bad] = b"this is not a calendar"
    reps = [
        rep(huge, calendar_url=world.slack.feed_url(huge)),
        rep(bad, calendar_url=world.slack.feed_url(bad)),
    ]
    assert (await world.apply(config(reps, [{"id": team, "members": [huge, bad]}]))).status_code == 200

    async def both_refused() -> dict[str, Any] | None:
        load = await world.load()
        return load if load[huge]["calendar"]["error"] and load[bad]["calendar"]["error"] else None

    load = await eventually(both_refused, timeout=60, what="both feeds refused")
    assert "too large" in load[huge]["calendar"]["error"]
    assert "not an iCalendar feed" in load[bad]["calendar"]["error"]
    assert load[huge]["available"]
    assert load[bad]["available"]

    private = config(
        [rep(unique("p"), calendar_url="http://10.1.2.3/cal.ics")], [{"id": team, "members": []}]
    )
    private["teams"][0]["members"] = [private["reps"][0]["id"]]
    answer = await world.apply(private)
    assert answer.status_code == 422
    assert any(p["path"] == "reps[0].calendar_url" for p in answer.json()["problems"]), answer.text


async def test_offboarding_moves_pending_leads_and_accounts_and_revokes_tokens(
    world: World, producer: AIOKafkaProducer
) -> None:
    leaving, heir, team, domain = unique("leaving"), unique("heir"), unique("team"), f"{unique('acct')}.io"
    setup = config(
        [rep(leaving), rep(heir, max_open=0)],
        [{"id": team, "members": [leaving, heir]}],
        accounts=[{"domain": domain, "owner": leaving}],
    )
    assert (await world.apply(setup)).status_code == 200
    token = (await world.admin.post(f"/v1/reps/{leaving}/tokens")).json()["token"]
    leads = [await world.send(producer) for _ in range(2)]
    rows = [await world.assignment(lead) for lead in leads]
    assert {row.rep_id for row in rows} == {leaving}
    setup["reps"][1]["max_open"] = None
    assert (await world.apply(setup)).status_code == 200
    book = [{"id": unique("acc"), "name": "Their Account", "domains": [f"book-{domain}"], "owner": leaving}]
    assert (await world.admin.patch("/v1/accounts", json=book)).status_code == 200

    answer = await world.admin.post(f"/v1/reps/{leaving}/offboard", json={"successor": heir})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["tokens_revoked"] == 1
    assert result["named_accounts"] == [domain]
    assert result["accounts_moved"] == 1
    account = (await world.admin.get(f"/v1/accounts/{book[0]['id']}")).json()
    assert account["owner"] == heir
    assert sorted(item["lead_id"] for item in result["reassigned"]) == sorted(leads)
    assert {item["now_with"] for item in result["reassigned"]} == {heir}
    for lead in leads:
        moved = await world.assignment(lead)
        assert moved.rep_id == heir
        assert {"rep_id": leaving, "reason": "inactive"} in moved.explanation["skipped"]
    mine = await world.api.get("/v1/reps/me", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 401
    active = (await world.admin.get("/v1/routing-config")).json()
    assert active["version"] == result["config_version"]
    assert (await world.load())[leaving]["active"] is False
    refused = await world.admin.post(f"/v1/reps/{heir}/offboard", json={"successor": leaving})
    assert refused.status_code == 422  # an inactive rep succeeds nobody


async def test_the_inbox_shows_a_rep_their_leads_and_accepts_in_chromium(
    world: World, producer: AIOKafkaProducer
) -> None:
    assert CHROMIUM.is_file(), "Debian's chromium is needed"  # noqa: ASYNC240
    rep_id, _ = await slack_rep(world)
    token = (await world.admin.post(f"/v1/reps/{rep_id}/tokens")).json()["token"]
    leads = [
        await world.send(
            producer, first_name=f"Inbox{n}", company={"name": f"Co {n}", "domain": f"co{n}.example"}
        )
        for n in range(2)
    ]
    rows = [await world.assignment(lead) for lead in leads]
    base = world.routers.urls["reps"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 1000})
            errors: list[str] = []
            outside: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "request", lambda r: outside.append(r.url) if not r.url.startswith((base, "data:")) else None
            )
            answer = await page.goto(f"{base}/inbox")
            assert answer is not None
            assert "default-src 'none'" in answer.headers["content-security-policy"]
            await page.fill("#token", token)
            await page.click("#login-form button")
            await expect(page.locator("#pending .card")).to_have_count(2, timeout=20_000)
            first = page.locator(f"#pending .card[data-assignment='{rows[0].assignment_id}']")
            await expect(first.locator(".why")).to_contain_text("Why you")
            await expect(first.locator(".due")).to_contain_text("America/New_York")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)
            await first.locator(".accept").click()
            await expect(page.locator("#pending .card")).to_have_count(1, timeout=20_000)
            await expect(
                page.locator(f"#recent .card[data-assignment='{rows[0].assignment_id}'] .status")
            ).to_contain_text("accepted")
            await world.assignment(leads[0], "accepted")
            assert token not in page.url
            assert await page.evaluate("sessionStorage.getItem('handoff.inbox.token')") == token
            assert errors == []
            assert outside == []
        finally:
            await browser.close()
