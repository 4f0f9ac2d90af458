"""A real HTTP server on loopback standing in for SDR tools: it records every callback,
verifies its signature with ``standardwebhooks``, and can be told to fail (500, 429 with
Retry-After, 410), hang, or refuse connections altogether. Used by tests, the benchmark
and nowhere in production."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SLOW_SECONDS = 8.0


@dataclass(frozen=True)
class Received:
    """One call as it arrived."""

    name: str
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    verified: bool | None  # None: no secret known for this endpoint
    answered: int
    at: float = field(default_factory=time.monotonic)

    @property
    def event(self) -> dict[str, Any]:
        return orjson.loads(self.body)  # type: ignore[no-any-return]


class Receiver:
    """``url(name)`` is a hook; ``fail(name, ...)`` queues answers; ``received(name)`` lists calls.

    Answers: ``200``, ``500``, ``410``, ``429:<seconds>`` (with Retry-After), ``302:<url>``
    (a redirect there), ``slow`` (200 after ``SLOW_SECONDS``), ``hang`` (never answers).
    Queued answers are used one per call; then 200 (or ``default``).
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port or _free_port()
        self.secrets: dict[str, list[str]] = {}
        self.calls: list[Received] = []
        self.arrivals: list[tuple[str, str, bytes]] = []  # (name, webhook-id, body) as each call arrives
        self._plans: dict[str, deque[str]] = defaultdict(deque)
        self._defaults: dict[str, str] = {}
        self._delays: dict[str, float] = {}
        self.in_flight: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)  # the most calls to one name under way at once
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def trust(self, name: str, *secrets: str) -> None:
        """Verify ``name``'s calls with any of these secrets."""
        self.secrets[name] = list(secrets)

    def fail(self, name: str, *answers: str, default: str | None = None) -> None:
        """Answer the next calls to ``name`` like this; ``default`` afterwards."""
        self._plans[name].extend(answers)
        if default is not None:
            self._defaults[name] = default

    def delay(self, name: str, seconds: float) -> None:
        """Hold every call to ``name`` this long before answering (calls overlap)."""
        self._delays[name] = seconds

    def received(self, name: str) -> list[Received]:
        return [call for call in self.calls if call.name == name]

    def delivered(self, name: str) -> list[Received]:
        """Calls to ``name`` answered with a 2xx."""
        return [call for call in self.received(name) if 200 <= call.answered < 300]

    async def start(self) -> Receiver:
        app = Starlette(routes=[Route("/hooks/{name:path}", self._hook, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        """Close the listener: connections are refused until ``start`` again (same port)."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            await asyncio.wait_for(self._task, timeout=10)
        self._server = None
        self._task = None

    async def _hook(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.in_flight[name] += 1
        self.peak[name] = max(self.peak[name], self.in_flight[name])
        try:
            return await self._answer(name, request)
        finally:
            self.in_flight[name] -= 1

    async def _answer(self, name: str, request: Request) -> Response:
        if name in self._delays:
            await asyncio.sleep(self._delays[name])
        body = await request.body()
        self.arrivals.append((name, request.headers.get("webhook-id", ""), body))
        plan = self._plans[name]
        answer = plan.popleft() if plan else self._defaults.get(name, "200")
        if answer == "hang":
            await asyncio.sleep(3600)
        if answer == "slow":  # answers, but after any sensible timeout
            await asyncio.sleep(SLOW_SECONDS)
            answer = "200"
        status, _, extra = answer.partition(":")
        headers: dict[str, str] = {}
        if extra:  # 429:<seconds> answers Retry-After; 3xx:<url> a Location
            headers["location" if status.startswith("3") else "retry-after"] = extra
        self.calls.append(
            Received(
                name=name,
                webhook_id=request.headers.get("webhook-id", ""),
                timestamp=request.headers.get("webhook-timestamp", ""),
                signature=request.headers.get("webhook-signature", ""),
                body=body,
                verified=self._verify(name, body, dict(request.headers)),
                answered=int(status),
            )
        )
        return Response(f"answered {status}", status_code=int(status), headers=headers)

    def _verify(self, name: str, body: bytes, headers: dict[str, str]) -> bool | None:
        secrets = self.secrets.get(name)
        if not secrets:
            return None
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
