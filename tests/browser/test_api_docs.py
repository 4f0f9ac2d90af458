"""Each service's /docs (Swagger UI) and /redoc (ReDoc) render in headless Chromium from the
service alone: every operation listed, and not one request to another host (the pages work
offline)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.stack import Stack

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack.from_env_file()


def service_urls(stack: Stack) -> dict[str, str]:
    return {"router": stack.router_url, "sla-monitor": stack.sla_monitor_url, "feedback": stack.feedback_url}


def operations_of(base: str) -> dict[str, str]:
    """Each operation of the service's OpenAPI document: ``METHOD /path`` by operationId."""
    document = httpx.get(f"{base}/openapi.json", timeout=10).json()
    return {
        operation["operationId"]: f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def outside(requested: list[str], base: str) -> list[str]:
    """The http(s) requests to any host but the service's."""
    return [
        url
        for url in requested
        if urlsplit(url).scheme in {"http", "https"} and urlsplit(url).netloc != urlsplit(base).netloc
    ]


def open_page(browser: Browser, url: str) -> tuple[Page, list[str]]:
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url)
    return page, requested


@pytest.mark.parametrize("service", ["router", "sla-monitor", "feedback"])
def test_swagger_ui_lists_every_operation_without_leaving_the_service(
    browser: Browser, stack: Stack, service: str
) -> None:
    base = service_urls(stack)[service]
    operations = set(operations_of(base).values())
    page, requested = open_page(browser, f"{base}/docs")
    page.wait_for_selector(".opblock", timeout=60_000)
    shown = {
        f"{block.locator('.opblock-summary-method').inner_text().strip()} "
        f"{block.locator('.opblock-summary-path').get_attribute('data-path')}"
        for block in page.locator(".opblock").all()
    }
    page.close()

    assert shown == operations
    assert outside(requested, base) == []


@pytest.mark.parametrize("service", ["router", "sla-monitor", "feedback"])
def test_redoc_lists_every_operation_without_leaving_the_service(
    browser: Browser, stack: Stack, service: str
) -> None:
    base = service_urls(stack)[service]
    operations = operations_of(base)
    page, requested = open_page(browser, f"{base}/redoc")
    page.wait_for_selector("[data-section-id*='operation/']", state="attached", timeout=60_000)
    page.wait_for_load_state("networkidle")
    sections = {
        section.get_attribute("data-section-id") or ""
        for section in page.locator("[data-section-id*='operation/']").all()
    }
    page.close()

    assert {section.rpartition("operation/")[2] for section in sections} == set(operations)
    assert outside(requested, base) == []
