"""A real HTTP server on loopback speaking Slack's Web API wire format (``POST /api/<method>``,
bearer token, JSON body; answers ``{"ok": true, ...}``, ``{"ok": false, "error": ...}``, and
429 with ``Retry-After`` when rate limited), standing in for Slack in tests and the benchmark.

It also serves calendar feeds (``GET /ics/<name>``), so one loopback server plays the outside
world of "where reps work"."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.callback_receiver import _free_port


@dataclass(frozen=True)
class SlackCall:
    method: str
    args: dict[str, Any]
    token: str
    answered: int
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    """``plan(method, ...)`` queues answers (``429:<seconds>``, ``500``, ``error:<code>``);
    ``calls(method)`` lists what arrived; ``feeds[name] = bytes`` serves an ICS feed."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.received: list[SlackCall] = []
        self.feeds: dict[str, bytes] = {}
        self.feed_status: dict[str, int] = {}
        self._plans: dict[str, deque[str]] = defaultdict(deque)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._ts = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def feed_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/ics/{name}"

    def plan(self, method: str, *answers: str) -> None:
        self._plans[method].extend(answers)

    def calls(self, method: str | None = None) -> list[SlackCall]:
        return [call for call in self.received if method is None or call.method == method]

    async def start(self) -> FakeSlack:
        app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["POST"]),
                Route("/ics/{name}", self._feed, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=10)

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        body = await request.body()
        args = orjson.loads(body) if body else {}
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        plan = self._plans[method]
        answer = plan.popleft() if plan else "ok"
        status, headers = 200, {}
        payload: dict[str, Any] = {"ok": True}
        if answer.startswith("429"):
            status, payload = 429, {"ok": False, "error": "ratelimited"}
            headers["Retry-After"] = answer.partition(":")[2] or "1"
        elif answer == "500":
            status, payload = 500, {"ok": False, "error": "fatal_error"}
        elif answer.startswith("error:"):
            payload = {"ok": False, "error": answer.partition(":")[2]}
        elif method in ("chat.postMessage", "chat.update"):
            self._ts += 1
            ts = args.get("ts") or f"{int(time.time())}.{self._ts:06d}"
            payload = {"ok": True, "channel": args.get("channel"), "ts": ts, "message": {"ts": ts, **args}}
        elif method == "chat.postEphemeral":
            payload = {"ok": True, "message_ts": f"{int(time.time())}.{self._ts:06d}"}
        self.received.append(SlackCall(method, args, token, status))
        return Response(
            orjson.dumps(payload), status_code=status, media_type="application/json", headers=headers
        )

    async def _feed(self, request: Request) -> Response:
        name = request.path_params["name"]
        status = self.feed_status.get(name, 200)
        if status != 200 or name not in self.feeds:
            return Response("no feed", status_code=status if status != 200 else 404)
        return Response(self.feeds[name], media_type="text/calendar")


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature, computed as Slack documents it (not with the SDK)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def block_actions_body(user_id: str, action: dict[str, Any], message: dict[str, Any], channel: str) -> bytes:
    """A ``block_actions`` interaction as Slack posts it: form-encoded ``payload=<json>``, the
    shape of Slack's documented sample (api.slack.com/reference/interaction-payloads/block-actions)."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T9TK3CUKW", "domain": "example"},
        "user": {"id": user_id, "username": "someone", "team_id": "T9TK3CUKW"},
        "api_app_id": "AABA1ABCD",
        "token": "9s8d9as89d8as9d8as989",
        "container": {
            "type": "message",
            "message_ts": message.get("ts"),
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "channel": {"id": channel, "name": "directmessage"},
        "message": message,
        "response_url": "https://hooks.slack.com/actions/T9TK3CUKW/1234567890/abcdef",
        "actions": [{**action, "block_id": "decide", "action_ts": f"{time.time():.6f}"}],
    }
    return urlencode({"payload": orjson.dumps(payload).decode()}).encode()
