"""Intake over the real stack (CONTRACT §10): each tool's delivery, signed as its vendor signs
it, becomes a routed lead with normalised fields; so do admins' MQLs and CSV rows. A retried
delivery gives one assignment; what cannot be mapped is dead-lettered with its bytes; bad
input is answered clearly and never with a 500."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.routing_configs import Territory
from tests.stack import Stack, TopicWatcher, committed_offset, eventually, unique

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "intake"
PRESETS = ("hubspot_workflow", "marketo", "salesforce_flow", "mautic", "segment", "generic")
HUBSPOT_SECRET = "hubspot-app-client-secret-0123"


@dataclass
class Sources:
    """This test's intake sources (one per preset) and their secrets."""

    territory: Territory
    ids: dict[str, str]
    secrets: dict[str, str]
    no_secret: str


@pytest.fixture
async def sources(admin: httpx.AsyncClient) -> Sources:
    territory = Territory.new()
    tag = territory.ana.removesuffix("-ana")
    ids = {preset: f"{tag}-{preset}" for preset in PRESETS}
    no_secret = f"{tag}-unset"
    declared = [{"id": source_id, "preset": preset} for preset, source_id in ids.items()]
    declared.append({"id": no_secret, "preset": "generic"})
    await territory.apply(admin, intake={"sources": declared})
    secrets: dict[str, str] = {}
    for preset, source_id in ids.items():
        if preset == "hubspot_workflow":  # the HubSpot app's client secret, chosen by HubSpot
            response = await admin.put(
                f"/v1/intake/sources/{source_id}/secret", json={"secret": HUBSPOT_SECRET}
            )
            assert response.status_code == 204, response.text
            secrets[preset] = HUBSPOT_SECRET
        else:
            response = await admin.post(f"/v1/intake/sources/{source_id}/secret")
            assert response.status_code == 200, response.text
            secrets[preset] = response.json()["secret"]
    return Sources(territory, ids, secrets, no_secret)


def delivery(preset: str) -> tuple[bytes, list[str]]:
    """The preset's vendor sample with ids of this test's own; the lead ids it should become."""
    payload: Any = json.loads((FIXTURES / f"{preset}.json").read_text())
    number = uuid.uuid4().int % 10**9
    if preset == "hubspot_workflow":
        payload["vid"] = payload["canonical-vid"] = number
        leads = [f"hubspot:{number}"]
    elif preset == "marketo":
        payload["lead_id"] = str(number)
        del payload["phone"]  # the same phone is the same person (CONTRACT §11): not a new lead
        leads = [f"marketo:{number}"]
    elif preset == "salesforce_flow":
        payload["Id"] = f"00Q{number}"
        del payload["Phone"]
        leads = [f"salesforce:00Q{number}"]
    elif preset == "mautic":
        contact = payload["mautic.lead_post_save_new"][0]["contact"]
        contact["id"] = number
        contact["fields"]["core"]["phone"]["value"] = None
        leads = [f"mautic:{number}"]
    elif preset == "segment":
        for i, message in enumerate(payload["batch"]):
            message["userId"] = f"u{number}-{i}"
            message["messageId"] = str(uuid.uuid4())
        leads = [f"segment:u{number}-{i}" for i in range(len(payload["batch"]))]
    else:
        payload[0]["lead_id"] = f"web-{number}"
        leads = [f"web-{number}"]
    return _own_emails(json.dumps(payload), number).encode(), leads


def _own_emails(text_: str, number: int) -> str:
    """Every e-mail of the sample with a local part of this test's own (the same person's second
    MQL is a re-engagement of their open assignment, not a new one)."""
    return re.sub(r'"([^"@\s]+)@', lambda m: f'"{m.group(1)}.{number}@', text_)


def signed(preset: str, secret: str, body: bytes, url: str) -> dict[str, str]:
    """The headers the tool sends, signatures computed as each vendor documents them."""
    if preset == "hubspot_workflow":
        timestamp = str(int(time.time() * 1000))
        message = b"POST" + url.encode() + body + timestamp.encode()
        signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
        return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}
    if preset == "mautic":
        return {
            "Webhook-Signature": base64.b64encode(
                hmac.new(secret.encode(), body, hashlib.sha256).digest()
            ).decode()
        }
    if preset == "segment":
        return {"X-Signature": hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}
    if preset == "salesforce_flow":  # a Named Credential's custom header
        return {"X-Handoff-Intake-Key": secret}
    webhook_id, timestamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message = f"{webhook_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    return {"webhook-id": webhook_id, "webhook-timestamp": timestamp, "webhook-signature": f"v1,{signature}"}


async def post(
    client: httpx.AsyncClient, sources: Sources, preset: str, body: bytes, **extra: str
) -> httpx.Response:
    url = f"{client.base_url}/v1/intake/{sources.ids[preset]}".replace("//v1", "/v1")
    headers = {
        "Content-Type": "application/json",
        **signed(preset, sources.secrets[preset], body, url),
        **extra,
    }
    return await client.post(f"/v1/intake/{sources.ids[preset]}", content=body, headers=headers)


@pytest.mark.parametrize("preset", PRESETS)
async def test_each_tools_delivery_becomes_routed_leads_with_normalised_fields(
    preset: str, sources: Sources, router_http: httpx.AsyncClient, assigned: TopicWatcher
) -> None:
    body, leads = delivery(preset)
    response = await post(router_http, sources, preset, body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["filtered"], answer["dead_lettered"]) == (len(leads), 0, 0)
    routed = await assigned.events_for(leads, timeout=60)
    team = sources.territory
    for event in routed:
        lead = event["lead"]
        assert event["rep_id"] in {team.ana, team.ben, team.cap, team.fallback}
        assert len(lead["country"]) == 2
        assert lead["country"] == lead["country"].upper()
        domain = lead["email"].rpartition("@")[2]
        assert domain == domain.lower()
        assert lead["company"]["domain"] == domain
        if "region" in lead:
            assert lead["region"].startswith(lead["country"] + "-")


async def test_a_hubspot_lead_keeps_its_numbers_and_originals(
    sources: Sources, router_http: httpx.AsyncClient, assigned: TopicWatcher
) -> None:
    body, (lead_id,) = delivery("hubspot_workflow")
    assert (await post(router_http, sources, "hubspot_workflow", body)).status_code == 202
    (event,) = await assigned.events_for([lead_id], timeout=60)
    lead = event["lead"]
    assert lead["company"]["employees"] == 1200
    assert lead["company"]["annual_revenue"] == 25_000_000
    assert (lead["country"], lead["region"]) == ("US", "US-CT")
    assert lead["attributes"]["original"]["country"] == "United States"


async def test_the_same_delivery_twice_gives_one_assignment(
    stack: Stack,
    sources: Sources,
    router_http: httpx.AsyncClient,
    assigned: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    mqls = await TopicWatcher(stack.kafka, "lead.mql-created").start()
    try:
        body, leads = delivery("segment")
        lead_id = leads[0]
        first = await post(router_http, sources, "segment", body)
        second = await post(router_http, sources, "segment", body)
        assert first.status_code == second.status_code == 202
        assert first.json()["event_ids"] == second.json()["event_ids"]
        await assigned.events_for([lead_id], timeout=60)
        records = await mqls.wait_for(lambda r: r.key == lead_id.encode(), count=2, timeout=30)
    finally:
        await mqls.stop()
    last = max(records, key=lambda r: r.offset)

    async def consumed() -> bool:
        partition = TopicPartition(last.topic, last.partition)
        return bool(await committed_offset(stack.kafka, "handoff-router", partition) > last.offset)

    await eventually(consumed, timeout=60, what="the router to consume the repeated delivery")
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM router.assignments WHERE lead_id = :lead"), {"lead": lead_id}
        )
    assert count == 1


async def test_an_unmappable_record_is_dead_lettered_with_its_bytes(
    stack: Stack, sources: Sources, router_http: httpx.AsyncClient
) -> None:
    dead = await TopicWatcher(stack.kafka, "lead.mql-created.dlq").start()
    try:
        body = json.dumps(
            [{"lead_id": unique("bad"), "email": "not an e-mail", "marker": unique("m")}]
        ).encode()
        response = await post(router_http, sources, "generic", body)
        assert response.status_code == 202, response.text
        assert response.json() == {"accepted": 0, "filtered": 0, "dead_lettered": 1, "event_ids": []}
        (letter,) = await dead.wait_for(lambda r: r.value == body, timeout=30)
    finally:
        await dead.stop()
    headers = {name: value.decode() for name, value in letter.headers}
    assert headers["error.stage"] == "intake"
    assert headers["error.class"] == "invalid_data"
    assert "email" in headers["error.message"]
    assert headers["original.topic"] == "lead.mql-created"


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe not utf-8", b"[" * 5000 + b"]" * 5000, b'{"lead_id": "x", "email": "a@b.io", "score": 1e999}',
     b'[{"lead_id": "x", "email": "a@b.io", "company": {"employees": 1' + b"0" * 5000 + b"}}]",
     b"{", b"null"],
    ids=["invalid-utf8", "deep-nesting", "infinite-number", "huge-integer", "truncated", "null"],
)  # fmt: skip
async def test_hostile_payloads_are_dead_lettered_never_a_500(
    body: bytes, sources: Sources, router_http: httpx.AsyncClient
) -> None:
    response = await post(router_http, sources, "generic", body)
    assert response.status_code == 202, response.text
    assert response.json()["dead_lettered"] == 1


async def refused_count(client: httpx.AsyncClient, source_id: str) -> float:
    metrics = (await client.get("/metrics")).text
    prefix = f'handoff_intake_refused_total{{source="{source_id}"'
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(prefix))


async def test_bad_and_missing_signatures_and_stale_timestamps_are_401_and_counted(
    sources: Sources, router_http: httpx.AsyncClient
) -> None:
    body, _ = delivery("hubspot_workflow")
    source = sources.ids["hubspot_workflow"]
    before = await refused_count(router_http, source)
    missing = await router_http.post(f"/v1/intake/{source}", content=body)
    url = f"{router_http.base_url}/v1/intake/{source}".replace("//v1", "/v1")
    signed_for_body = signed("hubspot_workflow", HUBSPOT_SECRET, body, url)
    wrong = await router_http.post(f"/v1/intake/{source}", content=body + b" ", headers=signed_for_body)
    stale_at = str(int((time.time() - 600) * 1000))
    stale_headers = signed("hubspot_workflow", HUBSPOT_SECRET, body, url)
    stale_headers["X-HubSpot-Request-Timestamp"] = stale_at
    stale = await router_http.post(f"/v1/intake/{source}", content=body, headers=stale_headers)
    segment = await post(router_http, sources, "segment", b"{}", **{"X-Signature": "00" * 20})
    for response, why in ((missing, "missing header"), (wrong, "does not match"), (stale, "5 minutes"),
                          (segment, "does not match")):  # fmt: skip
        assert response.status_code == 401, response.text
        assert why in response.json()["detail"]
    assert await refused_count(router_http, source) == before + 3


async def test_unknown_source_no_secret_and_too_large(
    sources: Sources, router_http: httpx.AsyncClient
) -> None:
    unknown = await router_http.post(f"/v1/intake/{unique('nope')}", content=b"{}")
    assert unknown.status_code == 404
    unset = await router_http.post(f"/v1/intake/{sources.no_secret}", content=b"{}")
    assert unset.status_code == 401
    assert "no secret is set" in unset.json()["detail"]
    big = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    too_large = await post(router_http, sources, "generic", big)
    assert too_large.status_code == 413


async def test_admin_mqls_array_becomes_routed_leads(
    admin: httpx.AsyncClient, sources: Sources, assigned: TopicWatcher
) -> None:
    leads: list[dict[str, Any]] = [
        {"lead_id": unique("api"), "email": f"{unique('kim')}@Example-Corp.COM", "country": "Deutschland",
         "region": "Bayern", "company": {"employees": "5k"}},
        {"lead_id": unique("api"), "email": f"{unique('lee')}@gmail.com", "country": "FRA"},
    ]  # fmt: skip
    response = await admin.post("/v1/mqls", json=leads)
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == 2
    events = {
        event["lead_id"]: event for event in await assigned.events_for([lead["lead_id"] for lead in leads])
    }
    first, second = events[leads[0]["lead_id"]]["lead"], events[leads[1]["lead_id"]]["lead"]
    assert (first["country"], first["region"], first["company"]["employees"]) == ("DE", "DE-BY", 5000)
    assert first["company"]["domain"] == "example-corp.com"
    assert events[leads[0]["lead_id"]]["team_id"] == sources.territory.weighted_team  # the DE rule
    assert second["country"] == "FR"
    assert second["attributes"]["personal_email"] is True
    assert "domain" not in second.get("company", {})


async def test_a_csv_import_routes_good_rows_and_lists_refused_ones(
    admin: httpx.AsyncClient, sources: Sources, assigned: TopicWatcher
) -> None:
    ids = [unique("csv") for _ in range(3)]
    csv = (
        "Record ID,First Name,Email,Number of Employees,Country/Region,State/Region\n"
        f'{ids[0]},Ana,ana@Acme-{ids[0]}.io,"1,200",Germany,Bavaria\n'
        f"{ids[1]},Bo,not-an-email,5k,France,\n"
        f"{ids[2]},Cy,{ids[2]}@initech.com,25,United States,Texas\n"
    ).encode()
    dry = await admin.post(
        "/v1/mqls/import", files={"file": ("list.csv", csv, "text/csv")}, params={"dry_run": "true"}
    )
    assert dry.status_code == 200, dry.text
    response = await admin.post("/v1/mqls/import", files={"file": ("list.csv", csv, "text/csv")})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["accepted"], report["duplicates"]) == (3, 2, 0)
    assert [row["line"] for row in report["refused"]] == [3]
    assert dry.json()["accepted"] == 2
    events = await assigned.events_for([f"hubspot:{ids[0]}", f"hubspot:{ids[2]}"], timeout=60)
    regions = sorted(event["lead"]["region"] for event in events)
    assert regions == ["DE-BY", "US-TX"]


async def test_a_csv_with_a_wrong_delimiter_is_refused_saying_what_was_expected(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.post(
        "/v1/mqls/import", files={"file": ("x.csv", b"email;name\na@b.io;A\n", "text/csv")}
    )
    assert response.status_code == 422
    assert "comma-separated" in response.json()["detail"]


async def test_the_import_cli_reports_a_dry_run(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(f"email,first_name,country\n{unique('a')}@acme.io,A,Germany\nnot-an-email,B,FR\n")
    env = {**os.environ, "HANDOFF_ROUTER_URL": stack.router_url, "HANDOFF_ADMIN_TOKEN": stack.admin_token}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handoff_router", "import", str(path), "--dry-run",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, errors = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, errors.decode()
    report = json.loads(output)
    assert (report["rows"], report["accepted"]) == (2, 1)
    assert report["refused"] == [{"line": 3, "problems": ["data.email: Value error, not an email address"]}]
