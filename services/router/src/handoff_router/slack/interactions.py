"""Slack's interaction requests: who clicked what, checked against Slack's signature first.

Pure except for nothing: the signature check takes the clock's ``now`` (seconds) and the
secret; ``read_click`` turns the verified form body into a :class:`Click`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

import orjson
from slack_sdk.signature import SignatureVerifier

from handoff_router.slack.messages import ACCEPT, REASON_SEPARATOR, REJECT

MAX_AGE_SECONDS = 5 * 60


class _FixedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def is_signed_by_slack(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float
) -> bool:
    """``X-Slack-Signature`` is ``v0=`` hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the
    signing secret, and the timestamp is within 5 minutes of ``now`` (Slack's documented check)."""
    if not secret or timestamp is None or signature is None or not timestamp.isdigit():
        return False
    verifier = SignatureVerifier(secret, clock=_FixedClock(now))  # type: ignore[arg-type]
    return verifier.is_valid(body, timestamp, signature)


@dataclass(frozen=True)
class Click:
    """An Accept or a Reject-with-reason in an assignment message."""

    action: Literal["accept", "reject"]
    assignment_id: str
    reason: str | None
    user_id: str
    channel_id: str | None
    message_ts: str | None
    blocks: list[dict[str, Any]]


class NotAClick(ValueError):
    """The interaction is not one of ours (another action, a malformed payload)."""


def read_click(body: bytes) -> Click:
    """The click in a ``block_actions`` payload (``payload=<json>``, form-encoded)."""
    try:
        payload = orjson.loads(parse_qs(body.decode())["payload"][0])
        action = payload["actions"][0]
        user_id = str(payload["user"]["id"])
    except (KeyError, IndexError, TypeError, ValueError, UnicodeDecodeError) as error:
        raise NotAClick(f"not a block action: {type(error).__name__}") from None
    message = payload.get("message") or {}
    container = payload.get("container") or {}
    channel = (payload.get("channel") or {}).get("id") or container.get("channel_id")
    ts = container.get("message_ts") or message.get("ts")
    blocks = [block for block in message.get("blocks") or [] if isinstance(block, dict)]
    if action.get("action_id") == ACCEPT:
        return Click("accept", str(action.get("value", "")), None, user_id, channel, ts, blocks)
    if action.get("action_id") == REJECT:
        value = str((action.get("selected_option") or {}).get("value", ""))
        assignment_id, _, reason = value.partition(REASON_SEPARATOR)
        if not reason:
            raise NotAClick("a rejection without a reason")
        return Click("reject", assignment_id, reason, user_id, channel, ts, blocks)
    raise NotAClick(f"unknown action {action.get('action_id')!r}")
