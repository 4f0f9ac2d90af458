"""The dashboard in headless Chromium (Debian's, driven by Playwright): it loads with no console
error and no request leaving the service, shows the right numbers for known data, filters,
and leaves a screenshot in .artifacts/dashboard.png."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, async_playwright, expect

from tests.integration.test_feedback import lifecycle, send
from tests.stack import Stack, unique

pytestmark = pytest.mark.integration
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"


@pytest.fixture
def chromium() -> str:
    assert CHROMIUM.exists(), "Debian's chromium is needed: apt-get install chromium (make setup does it)"
    return str(CHROMIUM)


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield launched
        await launched.close()


async def test_the_dashboard_shows_known_numbers_filters_and_stays_on_the_service(
    stack: Stack, producer: AIOKafkaProducer, browser: Browser
) -> None:
    # The campaign holds the characters of segment keys and of URLs: it is filtered on as itself.
    campaign, team, rep = unique("dash") + ",campaign=x&y%", unique("dash-team"), unique("dash-rep")
    # Known data: 6 leads of the campaign, 4 accepted and 2 rejected, all by one rep of one team;
    # and one lead of another campaign, so "everything" is more than the campaign even when this
    # test is the first on a fresh stack.
    for number in range(6):
        for topic, type_, data in lifecycle(campaign, accept=number < 4):
            data = {**data, "rep_id": rep} | ({"team_id": team} if topic == "lead.assigned" else {})
            await send(producer, topic, type_, data)
    for topic, type_, data in lifecycle(unique("dash-other"), accept=True):
        await send(producer, topic, type_, data)

    origin = urlsplit(stack.feedback_url).netloc
    page = await browser.new_page(viewport={"width": 1400, "height": 1500})
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if urlsplit(request.url).netloc != origin and not request.url.startswith("data:")
            else None
        ),
    )
    await page.goto(stack.feedback_url + "/")
    await page.fill("#token", stack.admin_token)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#app:not(.hidden)")
    assert stack.admin_token not in page.url

    # The campaign, team and rep appear among the filters once the feedback service has counted
    # them: the page refreshes its options with its figures, no reload needed.
    for name, value in (("campaign", campaign), ("team", team), ("rep", rep)):
        await expect(page.locator(f"#f-{name} option[value='{value}']")).to_be_attached(timeout=45_000)
    await page.select_option("#f-campaign", campaign)
    # The assignments and the decisions arrive on different topics, maybe in different batches:
    # wait for each figure, not only for the first.
    await expect(page.locator("#kpi-mqls")).to_have_text("6", timeout=20_000)
    await expect(page.locator("#kpi-accepted")).to_have_text("4", timeout=20_000)
    await expect(page.locator("#kpi-rejected")).to_have_text("2", timeout=20_000)
    await expect(page.locator("#kpi-acceptance")).to_have_text("66.7 %", timeout=20_000)
    funnel: Any = await page.evaluate("document.getElementById('funnel').data[0].x")
    assert funnel == [6, 6, 4, 0]
    reasons: Any = await page.evaluate(
        "(() => { const d = document.getElementById('reasons').data[0]; return [d.y, d.x]; })()"
    )
    assert reasons == [["no_intent"], [2]]
    # Today's point of the acceptance and time-to-accept charts (every acceptance took 5 s).
    acceptance: Any = await page.evaluate(
        "document.getElementById('acceptance').data[0].y.filter((y) => y !== null)"
    )
    assert acceptance == [pytest.approx(4 / 6)]
    p50: Any = await page.evaluate(
        "document.getElementById('time-to-accept').data[0].y.filter((y) => y !== null)"
    )
    assert p50 == [pytest.approx(5 / 60)]

    # By team, then by the team's rep: the same leads.
    await page.select_option("#f-campaign", "")
    await page.select_option("#f-team", team)
    await expect(page.locator("#kpi-rejected")).to_have_text("2", timeout=20_000)
    await expect(page.locator("#kpi-accepted")).to_have_text("4", timeout=20_000)
    await page.select_option("#f-rep", rep)
    await expect(page.locator("#kpi-mqls")).to_have_text("6", timeout=20_000)
    rows = page.locator("#reps tbody tr")
    await expect(rows).to_have_count(1, timeout=20_000)
    cells = await rows.first.locator("td").all_text_contents()
    assert cells[:5] == [team, rep, "4", "2", "0"]

    # A combination no segment counts (a team and a campaign) says why in the page: the
    # service's 422 (which the browser logs as a failed resource, the only error allowed).
    assert errors == [], json.dumps(errors)
    await page.select_option("#f-rep", "")
    await page.select_option("#f-campaign", campaign)
    await expect(page.locator("#problem")).to_contain_text(
        "query.segment: no segment is counted by campaign, team; known: source, campaign,", timeout=20_000
    )
    await page.select_option("#f-team", "")
    await expect(page.locator("#problem")).to_be_hidden(timeout=20_000)
    await expect(page.locator("#kpi-mqls")).to_have_text("6", timeout=20_000)

    # Back to everything: more than this campaign.
    await page.select_option("#f-campaign", "")
    await expect(page.locator("#kpi-mqls")).not_to_have_text("6", timeout=20_000)
    assert int(await page.text_content("#kpi-mqls") or 0) > 6

    # The rep table shows at most 20 rows (flagged and busiest first); a button shows the rest.
    reps = page.locator("#reps tbody tr")
    assert await reps.count() <= 20
    if await page.locator("#reps button.more").count():  # more reps than that on this stack
        total = int((await page.text_content("#reps .count") or "").split(" of ")[1].split()[0])
        await page.click("#reps button.more")
        await expect(reps).to_have_count(total, timeout=5_000)
        await page.click("#reps button.more")
        await expect(reps).to_have_count(20, timeout=5_000)

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    unprocessable = "Failed to load resource: the server responded with a status of 422"
    assert errors, "the 422 of the team x campaign combination"
    assert {e.split(" (")[0] for e in errors} == {unprocessable}, json.dumps(errors)
    assert outside == []
