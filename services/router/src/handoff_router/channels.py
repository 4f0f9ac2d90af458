"""The channels a rep or manager is reached through, as the features meet them.

Every message to a person goes through the callbacks feature's durable delivery (one row per
message, leased, retried with backoff, a circuit per endpoint, visible in ``/v1/deliveries``):
a callback is a signed webhook; Slack and e-mail are other channels of the same queue. The
Slack and e-mail features build their messages and send them; the callbacks feature keeps
them; the composition root hands each the other's functions, so none imports another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

Channel = Literal["callback", "slack", "email"]
OwnerKind = Literal["rep", "manager"]


@dataclass(frozen=True)
class ChannelMessage:
    """A message to deliver through ``channel``: ``body`` is what the channel's sender sends
    (a ``chat.postMessage`` payload, an e-mail), written with the work that causes it."""

    channel: Channel
    owner_kind: OwnerKind
    owner_id: str
    event_id: str
    event_type: str
    lead_id: str | None
    body: bytes
    created_at: datetime


@dataclass(frozen=True)
class ChannelAnswer:
    """What one try got, in HTTP terms: 2xx delivered, 429 throttled (``retry_after`` seconds as
    the header would say), anything else or no status (``error`` its class) tried again."""

    status: int | None
    error: str | None = None
    retry_after: str | None = None
    excerpt: str | None = None


class ChannelSender(Protocol):
    """Sends one message of its channel."""

    async def send(self, body: bytes) -> ChannelAnswer: ...

    async def close(self) -> None: ...


Deliver = Callable[[AsyncSession, Sequence[ChannelMessage]], Awaitable[None]]
"""Writes messages for durable delivery in the caller's transaction (the callbacks feature's)."""
