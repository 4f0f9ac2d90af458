"""Callbacks end to end through the running router, to a real HTTP server on loopback."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.callback_receiver import Receiver
from tests.integration.callbacks import Tools, delivery_of, send_mql
from tests.stack import ROOT, eventually, structured_event

pytestmark = pytest.mark.integration


async def test_assignment_is_called_back_signed_with_the_issued_secret(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)
    secret = await tools.secret(admin, tools.solo)

    lead_id = await send_mql(producer, "FR")

    (call,) = await eventually(lambda: receiver.delivered(tools.solo), timeout=20, what="the callback")
    assert call.verified is True
    event = call.event
    assert (event["type"], event["subject"], event["data"]["rep_id"]) == (
        "lead.assigned",
        lead_id,
        tools.solo,
    )
    Webhook(secret).verify(call.body, _headers(call))
    wrong = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(wrong).verify(call.body, _headers(call))
    delivery = await eventually(
        lambda: _delivered(admin, lead_id), timeout=10, what="the delivery marked delivered"
    )
    assert delivery["delivery_id"] == call.webhook_id
    detail = (await admin.get(f"/v1/deliveries/{call.webhook_id}")).json()
    assert [(a["number"], a["status_code"], a["outcome"]) for a in detail["attempts_made"]] == [
        (1, 200, "delivered")
    ]
    assert detail["body"]["id"] == event["id"]


async def test_during_rotation_both_secrets_sign_and_either_verifies(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)
    old = await tools.secret(admin, tools.solo)
    response = await admin.post(f"/v1/reps/{tools.solo}/callback-secret")
    new = response.json()["secret"]
    assert response.json()["previous_valid_until"] is not None

    await send_mql(producer, "FR")

    (call,) = await eventually(lambda: receiver.delivered(tools.solo), timeout=20, what="the callback")
    assert len(call.signature.split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(call.body, _headers(call))


RETRY_AFTER = 3  # seconds: longer than the stack's first backoff (1 s), so honouring it shows


@pytest.mark.parametrize("failure", ["500", f"429:{RETRY_AFTER}", "slow", "hang", "refused"])
async def test_a_failed_try_is_retried_and_delivered_with_the_same_webhook_id(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver, failure: str
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)
    await tools.secret(admin, tools.solo)
    if failure == "refused":
        await receiver.stop()
    else:
        receiver.fail(tools.solo, failure)

    lead_id = await send_mql(producer, "FR")

    if failure == "refused":
        first = await eventually(
            lambda: _attempted(admin, lead_id), timeout=20, what="a refused try recorded"
        )
        assert first["last_error"] == "connect_error"
        await receiver.start()
    delivery = await eventually(lambda: _delivered(admin, lead_id), timeout=30, what="the retried delivery")
    webhook_id = delivery["delivery_id"]
    detail = (await admin.get(f"/v1/deliveries/{webhook_id}")).json()
    tries = detail["attempts_made"]
    expected = {"500": 500, f"429:{RETRY_AFTER}": 429}
    first_try = (tries[0]["status_code"], tries[0]["error_class"])
    assert first_try == ((expected[failure], None) if failure in expected else (None, _FIRST_ERROR[failure]))
    assert [(t["number"], t["status_code"]) for t in tries][-1] == (len(tries), 200)
    assert len(tries) == delivery["attempts"] >= 2
    # Every request that arrived (answered or not: a hung or timed-out try is never answered)
    # carried the same webhook-id and the same body; a refused try never arrived.
    arrived = [(wid, body) for name, wid, body in receiver.arrivals if name == tools.solo]
    assert len(arrived) == len([t for t in tries if t["error_class"] != "connect_error"])
    assert {wid for wid, _ in arrived} == {webhook_id}
    assert len({body for _, body in arrived}) == 1
    assert orjson.loads(arrived[0][1]) == detail["body"]
    assert [c.verified for c in receiver.delivered(tools.solo) if c.webhook_id == webhook_id][-1] is True
    assert all(c.verified for c in receiver.received(tools.solo))
    if failure.startswith("429"):
        throttled, retried = receiver.received(tools.solo)[:2]  # a 429 is answered as it arrives
        assert (throttled.answered, retried.answered) == (429, 200)
        assert retried.at - throttled.at >= RETRY_AFTER


_FIRST_ERROR = {"slow": "timeout", "hang": "timeout", "refused": "connect_error"}


async def test_a_redirect_is_not_followed_the_try_is_recorded_and_retried(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)
    await tools.secret(admin, tools.solo)
    target = f"{tools.tag}-elsewhere"
    receiver.fail(tools.solo, f"302:{receiver.url(target)}")

    lead_id = await send_mql(producer, "FR")

    delivery = await eventually(lambda: _delivered(admin, lead_id), timeout=30, what="the retried delivery")
    detail = (await admin.get(f"/v1/deliveries/{delivery['delivery_id']}")).json()
    assert [(t["number"], t["status_code"], t["outcome"]) for t in detail["attempts_made"]] == [
        (1, 302, "retry"),
        (2, 200, "delivered"),
    ]
    assert [name for name, _, _ in receiver.arrivals if name in {tools.solo, target}] == [tools.solo] * 2
    assert receiver.received(target) == []


async def test_without_a_secret_the_delivery_waits_visibly_then_goes(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)

    lead_id = await send_mql(producer, "FR")

    delivery = await delivery_of(admin, lead_id)
    assert (delivery["status"], delivery["waiting_for"], delivery["attempts"]) == ("pending", "secret", 0)
    assert receiver.received(tools.solo) == []
    await tools.secret(admin, tools.solo)
    (call,) = await eventually(lambda: receiver.delivered(tools.solo), timeout=20, what="the callback")
    assert call.verified is True


async def test_gone_stops_calling_the_endpoint_until_redelivered(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)
    await tools.secret(admin, tools.solo)
    receiver.fail(tools.solo, "410")

    lead_id = await send_mql(producer, "FR")

    failed = await eventually(lambda: _status(admin, lead_id, "failed"), timeout=20, what="failed")
    assert (failed["failure_reason"], failed["last_status_code"], failed["attempts"]) == (
        "endpoint_gone",
        410,
        1,
    )
    endpoint = await _endpoint(admin, f"rep:{tools.solo}")
    assert endpoint["circuit"] == "gone"
    second = await send_mql(producer, "FR")
    waiting = await eventually(lambda: _status(admin, second, "pending"), timeout=20, what="second waits")
    assert waiting["waiting_for"] == "endpoint_gone"
    assert len(receiver.received(tools.solo)) == 1

    response = await admin.post(f"/v1/deliveries/{failed['delivery_id']}/redeliver")
    assert response.status_code == 200, response.text

    delivered = await eventually(
        lambda: receiver.delivered(tools.solo) if len(receiver.delivered(tools.solo)) == 2 else None,
        timeout=20,
        what="the redelivered one and the one that waited",
    )
    assert {call.webhook_id for call in delivered} == {failed["delivery_id"], waiting["delivery_id"]}


async def test_unknown_delivery_and_recipient_are_404_and_admin_only(
    admin: httpx.AsyncClient, router_http: httpx.AsyncClient
) -> None:
    assert (await admin.get("/v1/deliveries/msg_nope")).status_code == 404
    assert (await admin.post("/v1/deliveries/msg_nope/redeliver")).status_code == 404
    assert (await admin.post("/v1/reps/nobody-at-all/callback-secret")).status_code == 404
    assert (await admin.post("/v1/managers/nobody-at-all/callback-secret")).status_code == 404
    assert (await router_http.get("/v1/deliveries")).status_code == 401
    assert (await router_http.get("/v1/callbacks/endpoints")).status_code == 401


async def test_config_refuses_urls_that_may_not_be_called_with_their_paths(
    admin: httpx.AsyncClient, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    config = tools.config()
    config["reps"][0]["callback_url"] = "https://user:pw@tools.example.com/hook"
    config["reps"][1]["callback_url"] = "http://10.1.2.3/hook"  # the stack allows loopback only
    config["reps"][2]["callback_url"] = "http://localhost:9/hook"  # loopback by name: allowed
    config["managers"][0]["callback_url"] = "http://169.254.169.254/latest/meta-data"
    response = await admin.put(
        "/v1/routing-config", content=yaml.safe_dump(config), headers={"Content-Type": "application/yaml"}
    )

    assert response.status_code == 422, response.text
    paths = {problem["path"] for problem in response.json()["problems"]}
    assert paths == {"reps[0].callback_url", "reps[1].callback_url", "managers[0].callback_url"}


async def test_config_refuses_disguised_addresses_at_their_paths(
    admin: httpx.AsyncClient, receiver: Receiver
) -> None:
    """Other dots, hex and one-number IPv4, NAT64 and 6to4 spellings of addresses the stack
    refuses (it allows loopback only, never 0.0.0.0 or the metadata address)."""
    tools = Tools.new(receiver)
    config = tools.config()
    config["reps"][0]["callback_url"] = "http://169\u3002254\u3002169\u3002254/latest/meta-data/"
    config["reps"][1]["callback_url"] = "http://0\uff610\uff610\uff610:8081/"
    config["reps"][2]["callback_url"] = "http://0xa9fea9fe/latest/meta-data/"
    config["reps"][3]["callback_url"] = "http://[2002:a00:1::]/hook"
    config["managers"][0]["callback_url"] = "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/"
    response = await admin.put(
        "/v1/routing-config",
        content=yaml.safe_dump(config, allow_unicode=True).encode(),
        headers={"Content-Type": "application/yaml"},
    )

    assert response.status_code == 422, response.text
    paths = {problem["path"] for problem in response.json()["problems"]}
    assert paths == {*(f"reps[{index}].callback_url" for index in range(4)), "managers[0].callback_url"}


async def test_a_secret_never_reaches_the_logs(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)
    secret = await tools.secret(admin, tools.solo)
    await send_mql(producer, "FR")
    await eventually(lambda: receiver.delivered(tools.solo), timeout=20, what="the callback")

    log = (ROOT / ".run" / "logs" / "router.log").read_text()
    key = secret.removeprefix("whsec_")
    assert tools.solo in log  # the log is the right one, and it mentions this rep's endpoint
    assert secret not in log
    assert key not in log


def _headers(call: object) -> dict[str, str]:
    return {
        "webhook-id": call.webhook_id,  # type: ignore[attr-defined]
        "webhook-timestamp": call.timestamp,  # type: ignore[attr-defined]
        "webhook-signature": call.signature,  # type: ignore[attr-defined]
    }


async def _status(admin: httpx.AsyncClient, lead_id: str, status: str) -> dict[str, Any] | None:
    found = (await admin.get("/v1/deliveries", params={"lead_id": lead_id})).json()
    return found[0] if found and found[0]["status"] == status else None


async def _delivered(admin: httpx.AsyncClient, lead_id: str) -> dict[str, Any] | None:
    return await _status(admin, lead_id, "delivered")


async def _attempted(admin: httpx.AsyncClient, lead_id: str) -> dict[str, Any] | None:
    found = (await admin.get("/v1/deliveries", params={"lead_id": lead_id})).json()
    return found[0] if found and found[0]["attempts"] >= 1 else None


async def _endpoint(admin: httpx.AsyncClient, endpoint: str) -> dict[str, Any]:
    found = (await admin.get("/v1/callbacks/endpoints")).json()
    return next(item for item in found if item["endpoint"] == endpoint)


async def test_an_endpoint_may_have_a_retry_window_of_its_own(
    admin: httpx.AsyncClient, router_http: httpx.AsyncClient, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    await tools.apply(admin)  # the config's callback URLs make the endpoints
    endpoint = f"rep:{tools.solo}"
    path = f"/v1/callbacks/endpoints/{endpoint}/retry-window"

    assert (await _endpoint(admin, endpoint))["retry_window"] is None
    assert (await admin.put(path, json={"retry_window": "6h"})).status_code == 204
    assert (await _endpoint(admin, endpoint))["retry_window"] == "PT6H"
    for wrong in ("30s", "31d", "soon"):
        assert (await admin.put(path, json={"retry_window": wrong})).status_code == 422, wrong
    assert (await admin.put(path, json={"retry_window": None})).status_code == 204
    assert (await _endpoint(admin, endpoint))["retry_window"] is None
    unknown = "/v1/callbacks/endpoints/rep:nobody-at-all/retry-window"
    assert (await admin.put(unknown, json={"retry_window": "1h"})).status_code == 404
    assert (await router_http.put(path, json={"retry_window": "1h"})).status_code == 401


async def test_an_escalation_whose_rep_has_no_manager_is_a_visible_failed_delivery(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver
) -> None:
    tools = Tools.new(receiver)
    config = tools.config()
    del config["reps"][2]["manager"]  # the solo rep reports to nobody
    response = await admin.put(
        "/v1/routing-config", content=yaml.safe_dump(config), headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 200, response.text
    lead_id, event_id = f"{tools.tag}-lead", str(uuid.uuid4())
    data = {
        "assignment_id": f"{tools.tag}-assignment",
        "lead_id": lead_id,
        "rep_id": tools.solo,
        "level": "escalate",
        "sla_due_at": datetime.now(UTC).isoformat(),
        "overdue_seconds": 60,
    }
    escalation = structured_event(data, event_id=event_id, type_="lead.escalated")

    await producer.send_and_wait("lead.escalated", escalation, key=lead_id.encode())

    delivery = await delivery_of(admin, lead_id)
    assert {key: delivery[key] for key in ("endpoint", "url", "event_id", "event_type", "status")} == {
        "endpoint": "manager:_none",
        "url": None,
        "event_id": event_id,
        "event_type": "lead.escalated",
        "status": "failed",
    }
    assert (delivery["failure_reason"], delivery["attempts"], delivery["waiting_for"]) == (
        "no_recipient",
        0,
        None,
    )
    failed = (
        await admin.get("/v1/deliveries", params={"status": "failed", "endpoint": "manager:_none"})
    ).json()
    assert delivery["delivery_id"] in {item["delivery_id"] for item in failed}
    assert receiver.received(tools.manager) == []
