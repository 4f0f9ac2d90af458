"""Sends a Slack Web API call kept in a delivery: the SDK's client, at ``HANDOFF_SLACK_API_URL``.

The SDK's own retries are off: the delivery queue retries (with backoff, a circuit per
endpoint, and Slack's ``Retry-After`` on a 429), so a Slack outage delays messages, never
loses them. The SDK's synchronous client runs in a worker thread (its asyncio client needs
aiohttp, which the router does not carry).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.client import WebClient

from handoff_router.channels import ChannelAnswer

EXCERPT_CHARS = 300
# Errors that a try again cannot fix still come back as 4xx: the queue keeps trying until its
# window passes, visible in /v1/deliveries with Slack's error code.
PERMANENT_STATUS = 400


class SlackSender:
    """One Web API call per message; answers in HTTP terms for the delivery queue."""

    def __init__(self, token: str, base_url: str, timeout: float) -> None:
        self.client = WebClient(
            token=token, base_url=base_url, timeout=max(1, round(timeout)), retry_handlers=[]
        )

    async def send(self, body: bytes) -> ChannelAnswer:
        call = orjson.loads(body)
        return await asyncio.to_thread(self._call, call["method"], call["args"])

    def _call(self, method: str, args: dict[str, Any]) -> ChannelAnswer:
        try:
            response = self.client.api_call(method, json=args)
        except SlackApiError as error:
            answer = error.response
            status = answer.status_code if answer.status_code >= 400 else PERMANENT_STATUS
            retry_after = answer.headers.get("Retry-After") or answer.headers.get("retry-after")
            code = answer.data.get("error") if isinstance(answer.data, dict) else None
            return ChannelAnswer(
                status, f"slack:{code}" if code else None, retry_after, _excerpt(answer.data)
            )
        except (SlackClientError, OSError, ValueError) as error:  # no answer: connection, timeout
            return ChannelAnswer(None, type(error).__name__, None, str(error)[:EXCERPT_CHARS])
        return ChannelAnswer(response.status_code, None, None, _excerpt(response.data))

    async def close(self) -> None:
        return None


def _excerpt(data: Any) -> str:
    return (orjson.dumps(data).decode() if isinstance(data, dict) else str(data))[:EXCERPT_CHARS]
