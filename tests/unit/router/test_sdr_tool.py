"""The reference SDR tool (examples/sdr-tool) accepts what the router signs and nothing else:
the router's own signing against the tool's own verification, in process (ASGI)."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from handoff_router.callbacks.signing import new_secret, new_webhook_id, signed_headers
from pydantic import SecretStr

TOOL = Path(__file__).resolve().parents[3] / "examples" / "sdr-tool" / "sdr_tool.py"
BODY = b'{"specversion":"1.0","type":"lead.assigned","subject":"lead-1","data":{"lead_id":"lead-1"}}'


@pytest.fixture
def tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, str]:
    secret = new_secret().get_secret_value()
    keys = tmp_path / "reps.json"
    keys.write_text(json.dumps({"rep-ana": {"secret": secret, "token": "hrep_x"}}))
    monkeypatch.setenv("SDR_TOOL_REPS", str(keys))
    spec = importlib.util.spec_from_file_location("sdr_tool_under_test", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, secret


def _client(module: ModuleType) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=module.app), base_url="http://tool")


async def test_a_signed_callback_is_kept_once_per_webhook_id(tool: tuple[ModuleType, str]) -> None:
    module, secret = tool
    webhook_id = new_webhook_id()
    async with _client(module) as client:
        for _ in range(2):  # a retry: same webhook-id, same body
            headers = signed_headers([SecretStr(secret)], webhook_id, datetime.now(UTC), BODY)
            answer = await client.post("/hooks/rep-ana", content=BODY, headers=headers)
            assert answer.status_code == 204
        inbox = (await client.get("/api/inbox")).json()
    assert [item["webhook_id"] for item in inbox] == [webhook_id]
    assert inbox[0]["event"]["subject"] == "lead-1"


async def test_a_wrong_secret_an_unknown_rep_and_a_down_tool_are_refused(
    tool: tuple[ModuleType, str],
) -> None:
    module, _ = tool
    headers = signed_headers([new_secret()], new_webhook_id(), datetime.now(UTC), BODY)
    async with _client(module) as client:
        assert (await client.post("/hooks/rep-ana", content=BODY, headers=headers)).status_code == 401
        assert (await client.post("/hooks/rep-nobody", content=BODY, headers=headers)).status_code == 404
        assert (await client.post("/tools/rep-ana/down")).status_code == 204
        assert (await client.post("/hooks/rep-ana", content=BODY, headers=headers)).status_code == 503
        assert (await client.post("/tools/rep-ana/up")).status_code == 204
        assert (await client.get("/api/inbox")).json() == []


async def test_deciding_on_a_callback_the_tool_never_received_is_404_and_an_unknown_action_422(
    tool: tuple[ModuleType, str],
) -> None:
    module, secret = tool
    webhook_id = new_webhook_id()
    headers = signed_headers([SecretStr(secret)], webhook_id, datetime.now(UTC), BODY)
    async with _client(module) as client:
        unknown = await client.post(f"/decide/{new_webhook_id()}", data={"action": "accept"})
        assert (unknown.status_code, unknown.json()["detail"].startswith("no callback")) == (404, True)
        assert (await client.post("/hooks/rep-ana", content=BODY, headers=headers)).status_code == 204
        wrong = await client.post(f"/decide/{webhook_id}", data={"action": "maybe"})
        assert wrong.status_code == 422
        inbox = (await client.get("/api/inbox")).json()
    assert [(item["webhook_id"], item["decision"]) for item in inbox] == [(webhook_id, None)]
