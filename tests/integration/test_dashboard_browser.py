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
    campaign = unique("dash")
    # Known data: 6 leads of the campaign, 4 accepted and 2 rejected.
    for number in range(6):
        for topic, type_, data in lifecycle(campaign, accept=number < 4):
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

    # The campaign appears among the filters once the feedback service has counted it.
    option = f"#f-campaign option[value='{campaign}']"
    for _ in range(30):
        if await page.locator(option).count():
            break
        await page.wait_for_timeout(1000)
        await page.reload()  # the token stays in the tab's sessionStorage
        await page.wait_for_selector("#app:not(.hidden)")
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

    # Back to everything: more than this campaign.
    await page.select_option("#f-campaign", "")
    await expect(page.locator("#kpi-mqls")).not_to_have_text("6", timeout=20_000)
    assert int(await page.text_content("#kpi-mqls") or 0) > 6

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert errors == [], json.dumps(errors)
    assert outside == []
