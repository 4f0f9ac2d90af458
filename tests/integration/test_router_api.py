"""The SDR and admin API over the real stack (CONTRACT §5, §6)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.routing_configs import Territory
from tests.stack import TopicWatcher, eventually, mql_data, structured_event

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def assign_one(producer: AIOKafkaProducer, assigned: TopicWatcher, **fields: Any) -> dict[str, Any]:
    lead = mql_data(**fields)
    await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())
    (event,) = await assigned.events_for([lead["lead_id"]])
    return event


async def waits_in_queue(admin: httpx.AsyncClient, lead: dict[str, Any]) -> bool:
    body = (await admin.get("/v1/queue", params={"limit": 1000})).json()
    return any(item["lead_id"] == lead["lead_id"] for item in body["items"])


async def test_rep_accepts_own_assignment_once(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    accepted: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    event = await assign_one(producer, assigned, country="FR")
    token = await territory.token(admin, territory.cap)
    url = f"/v1/assignments/{event['assignment_id']}/accept"

    first = await router_http.post(url, headers=bearer(token))
    again = await router_http.post(url, headers=bearer(token))

    assert first.status_code == 200
    assert again.status_code == 200
    assert first.json()["status"] == "accepted"
    (data,) = await accepted.events_for([event["lead_id"]])
    assert data["assignment_id"] == event["assignment_id"]
    assert data["rep_id"] == territory.cap
    assert data["seconds_to_accept"] >= 0
    reject = await router_http.post(
        f"/v1/assignments/{event['assignment_id']}/reject", headers=bearer(token), json={"reason": "not_icp"}
    )
    assert reject.status_code == 409
    mine = await router_http.get(
        "/v1/reps/me/assignments", params={"status": "accepted"}, headers=bearer(token)
    )
    assert [a["assignment_id"] for a in mine.json()] == [event["assignment_id"]]
    assert sum(1 for e in accepted.events() if e["subject"] == event["lead_id"]) == 1


async def test_rep_cannot_decide_or_read_someone_elses_assignment(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    event = await assign_one(producer, assigned, country="FR")
    intruder = await territory.token(admin, territory.ana)
    assignment = event["assignment_id"]

    accept = await router_http.post(f"/v1/assignments/{assignment}/accept", headers=bearer(intruder))
    reject = await router_http.post(
        f"/v1/assignments/{assignment}/reject", headers=bearer(intruder), json={"reason": "spam"}
    )
    read = await router_http.get(f"/v1/assignments/{assignment}", headers=bearer(intruder))
    missing = await router_http.post(f"/v1/assignments/{uuid.uuid4()}/accept", headers=bearer(intruder))
    anonymous = await router_http.post(f"/v1/assignments/{assignment}/accept")
    forged = await router_http.post(f"/v1/assignments/{assignment}/accept", headers=bearer("hrep_forged"))

    assert (accept.status_code, reject.status_code, read.status_code) == (403, 403, 403)
    assert missing.status_code == 404
    assert anonymous.status_code == 401
    assert forged.status_code == 401
    assert accept.headers["content-type"].startswith("application/problem+json")
    async with engine.connect() as conn:
        status = await conn.scalar(
            text("SELECT status FROM router.assignments WHERE assignment_id = :id"), {"id": assignment}
        )
    assert status == "pending"
    admin_read = await admin.get(f"/v1/assignments/{assignment}")
    assert admin_read.status_code == 200
    assert admin_read.json()["explanation"]["rule_id"] == "france"


async def test_reject_needs_a_configured_reason_and_a_note_for_other(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    rejected: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    event = await assign_one(producer, assigned, country="FR")
    token = await territory.token(admin, territory.cap)
    url = f"/v1/assignments/{event['assignment_id']}/reject"

    unknown = await router_http.post(url, headers=bearer(token), json={"reason": "too_tired"})
    bare_other = await router_http.post(url, headers=bearer(token), json={"reason": "other"})
    no_body = await router_http.post(url, headers=bearer(token), content=b"nope")
    ok = await router_http.post(
        url, headers=bearer(token), json={"reason": "other", "note": "bought already"}
    )

    assert (unknown.status_code, bare_other.status_code, no_body.status_code) == (422, 422, 422)
    assert "too_tired" in unknown.json()["detail"]
    assert ok.status_code == 200
    assert ok.json()["status"] == "rejected"
    (data,) = await rejected.events_for([event["lead_id"]])
    assert (data["reason"], data["note"], data["rep_id"]) == ("other", "bought already", territory.cap)
    accept = await router_http.post(f"/v1/assignments/{event['assignment_id']}/accept", headers=bearer(token))
    assert accept.status_code == 409


async def test_wrong_territory_routes_the_lead_again_without_that_rep(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    first = await assign_one(producer, assigned, country="DE")
    token = await territory.token(admin, first["rep_id"])

    response = await router_http.post(
        f"/v1/assignments/{first['assignment_id']}/reject",
        headers=bearer(token),
        json={"reason": "wrong_territory"},
    )

    assert response.status_code == 200
    records = await assigned.wait_for(lambda r: json.loads(r.value)["subject"] == first["lead_id"], count=2)
    second = json.loads(records[1].value)["data"]
    assert second["attempt"] == 2
    assert second["previous_rep_id"] == first["rep_id"]
    assert second["rep_id"] != first["rep_id"]
    assert {"rep_id": first["rep_id"], "reason": "excluded"} in second["explanation"]["skipped"]


async def test_reassign_escalation_moves_the_lead_and_old_assignment_is_closed(
    stack: object,
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    first = await assign_one(producer, assigned, country="DE")
    token = await territory.token(admin, first["rep_id"])
    escalation = {
        "assignment_id": first["assignment_id"],
        "lead_id": first["lead_id"],
        "rep_id": first["rep_id"],
        "level": "reassign",
        "sla_due_at": first["sla_due_at"],
        "overdue_seconds": 3600.0,
        "escalated_at": first["sla_due_at"],
    }
    await producer.send_and_wait(
        "lead.escalated", structured_event(escalation, type_="lead.escalated"), key=first["lead_id"].encode()
    )

    records = await assigned.wait_for(lambda r: json.loads(r.value)["subject"] == first["lead_id"], count=2)
    second = json.loads(records[1].value)["data"]
    assert (second["attempt"], second["previous_rep_id"]) == (2, first["rep_id"])
    late = await router_http.post(f"/v1/assignments/{first['assignment_id']}/accept", headers=bearer(token))
    assert late.status_code == 409
    assert late.json()["assignment_status"] == "reassigned"


async def test_invalid_config_is_refused_whole_with_every_problem(admin: httpx.AsyncClient) -> None:
    territory = Territory.new()
    version = await territory.apply(admin)
    broken = territory.config()
    broken["teams"][0]["members"].append("nobody")
    broken["teams"][1]["strategy"] = "coin_flip"
    broken["rules"][0]["team"] = "no-such-team"
    broken["sla"]["accept_within"] = "soon"

    response = await admin.put(
        "/v1/routing-config", content=yaml.safe_dump(broken), headers={"Content-Type": "application/yaml"}
    )

    assert response.status_code == 422
    paths = {problem["path"] for problem in response.json()["problems"]}
    assert {"teams[0].members[2]", "rules[0].team"} <= paths
    assert any(path.startswith("teams[1].strategy") for path in paths)
    assert any(path.startswith("sla.accept_within") for path in paths)
    active = await admin.get("/v1/routing-config")
    assert active.json()["version"] == version
    as_yaml = await admin.get("/v1/routing-config", headers={"Accept": "application/yaml"})
    assert yaml.safe_load(as_yaml.text)["fallback_team"] == territory.fallback_team


async def test_config_endpoints_need_the_admin_token(
    admin: httpx.AsyncClient, router_http: httpx.AsyncClient
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    token = await territory.token(admin, territory.ana)

    as_rep = await router_http.put("/v1/routing-config", content=b"{}", headers=bearer(token))
    anonymous = await router_http.get("/v1/routing-config")

    assert (as_rep.status_code, anonymous.status_code) == (403, 401)


async def test_preview_explains_without_assigning(admin: httpx.AsyncClient, engine: AsyncEngine) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    lead = mql_data(country="FR")

    response = await admin.post("/v1/route/preview", json=lead)

    body = response.json()
    assert response.status_code == 200, body
    assert (body["rep_id"], body["team_id"], body["rule_id"]) == (
        territory.cap,
        territory.capped_team,
        "france",
    )
    assert body["explanation"]["candidates"] == [territory.cap]
    async with engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM router.assignments WHERE lead_id = :lead"), {"lead": lead["lead_id"]}
        )
    assert count == 0
    invalid = await admin.post("/v1/route/preview", json={"lead_id": "x"})
    assert invalid.status_code == 422
    assert "email" in invalid.json()["detail"]


async def test_simulate_compares_candidate_config(admin: httpx.AsyncClient) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    leads = "\n".join(json.dumps(mql_data(country="DE")) for _ in range(8))
    candidate = territory.config()
    candidate["rules"][0]["team"] = territory.fallback_team

    response = await admin.post(
        "/v1/route/simulate",
        files={
            "leads": ("leads.jsonl", leads.encode()),
            "config": ("candidate.yaml", yaml.safe_dump(candidate).encode()),
        },
    )

    body = response.json()
    assert response.status_code == 200, body
    # The active config sends DE to the 3:1 team (fresh reps, so exactly 6:2 over 8 leads);
    # the candidate sends them to the fallback team's one rep.
    assert body["leads"] == 8
    assert body["active"]["by_team"] == {territory.weighted_team: 8}
    assert body["active"]["by_rep"] == {territory.ana: 6, territory.ben: 2}
    assert body["active"]["by_rule"] == {"dach": 8}
    assert body["candidate"]["by_team"] == {territory.fallback_team: 8}
    assert body["candidate"]["by_rep"] == {territory.fallback: 8}
    assert body["difference"]["by_rep"] == {territory.ana: -6, territory.ben: -2, territory.fallback: 8}
    assert body["difference"]["leads_moved"] == 8
    assert body["active"]["queued"] == body["candidate"]["queued"] == 0


async def test_unavailable_team_queues_lead_until_a_rep_returns(
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    for rep in (territory.cap, territory.fallback):
        response = await admin.put(f"/v1/reps/{rep}/availability", json={"available": False})
        assert response.status_code == 200, response.text
    lead = mql_data(country="FR")
    await producer.send_and_wait("lead.mql-created", structured_event(lead), key=lead["lead_id"].encode())

    await eventually(lambda: waits_in_queue(admin, lead), what="the lead to wait in the unassigned queue")
    back = await admin.put(f"/v1/reps/{territory.cap}/availability", json={"available": True})
    assert back.status_code == 200

    (event,) = await assigned.events_for([lead["lead_id"]])
    assert event["rep_id"] == territory.cap
    assert not await waits_in_queue(admin, lead)


async def test_accept_answers_while_routing_is_locked_and_the_drainer_routes_after(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    """Nothing after the commit in the request path (issue 12, item 3): an accept that frees a
    slot answers even while another transaction holds the routing lock that draining the queue
    needs; the woken drainer gives the freed slot to the waiting lead once the lock is free."""
    territory = Territory.new()
    await territory.apply(admin)
    first = await assign_one(producer, assigned, country="FR")  # cap's one slot (max_open 1)
    away = await admin.put(f"/v1/reps/{territory.fallback}/availability", json={"available": False})
    assert away.status_code == 200, away.text
    waiting = mql_data(country="FR")
    await producer.send_and_wait(
        "lead.mql-created", structured_event(waiting), key=waiting["lead_id"].encode()
    )

    await eventually(
        lambda: waits_in_queue(admin, waiting), what="the second lead to wait for the capped rep"
    )
    token = await territory.token(admin, territory.cap)

    async with engine.connect() as holder, holder.begin():
        await holder.execute(text("SELECT 1 FROM router.routing_state WHERE id = 1 FOR UPDATE"))
        accept = await router_http.post(
            f"/v1/assignments/{first['assignment_id']}/accept", headers=bearer(token), timeout=10
        )
        assert accept.status_code == 200, accept.text
        assert await waits_in_queue(admin, waiting)  # nobody could route while the lock was held

    (event,) = await assigned.events_for([waiting["lead_id"]])
    assert event["rep_id"] == territory.cap


async def test_rep_sets_only_their_own_availability(
    admin: httpx.AsyncClient, router_http: httpx.AsyncClient
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    token = await territory.token(admin, territory.ana)
    away = {"available": False, "until": "2030-01-01T00:00:00Z"}

    own = await router_http.put(f"/v1/reps/{territory.ana}/availability", headers=bearer(token), json=away)
    other = await router_http.put(f"/v1/reps/{territory.ben}/availability", headers=bearer(token), json=away)
    naive = await router_http.put(
        f"/v1/reps/{territory.ana}/availability",
        headers=bearer(token),
        json={"available": False, "until": "2030-01-01T00:00:00"},
    )

    assert own.status_code == 200
    assert other.status_code == 403
    assert naive.status_code == 422
    load = {row["rep_id"]: row for row in (await admin.get("/v1/reps/load")).json()}
    assert load[territory.ana]["available"] is False
    assert load[territory.ben]["available"] is True


async def test_ownership_is_checked_before_the_body_or_the_reason(
    admin: httpx.AsyncClient,
    router_http: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    assigned: TopicWatcher,
) -> None:
    territory = Territory.new()
    await territory.apply(admin)
    event = await assign_one(producer, assigned, country="FR")
    intruder = bearer(await territory.token(admin, territory.ana))
    url = f"/v1/assignments/{event['assignment_id']}/reject"
    missing = f"/v1/assignments/{uuid.uuid4()}/reject"

    answers = [
        await router_http.post(url, headers=intruder, json={"reason": "too_tired"}),
        await router_http.post(url, headers=intruder, json={"reason": "other"}),
        await router_http.post(url, headers=intruder, content=b"nope"),
        await router_http.post(missing, headers=intruder, json={"reason": "too_tired"}),
        await router_http.post(missing, headers=intruder, content=b"nope"),
        await router_http.put(f"/v1/reps/{territory.ben}/availability", headers=intruder, json={"until": 5}),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403, 404, 404, 403]
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in answers)
