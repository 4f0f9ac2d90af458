"""The callbacks' use cases: issue secrets, list and redeliver deliveries, show endpoints,
check callback URLs when a config is applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from handoff_shared.addresses import url_problems
from handoff_shared.db import transaction
from handoff_shared.wakeup import Wakeup
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.callbacks import repository
from handoff_router.callbacks.circuit import is_unreachable, reopen
from handoff_router.callbacks.errors import DeliveryNotFound, SecretsNotConfigured, UnknownRecipient
from handoff_router.callbacks.repository import OwnerKind, endpoint_id
from handoff_router.callbacks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryStatus,
    EndpointOut,
    SecretOut,
)
from handoff_router.callbacks.signing import SecretBox, new_secret
from handoff_router.callbacks.tables import (
    callback_attempts,
    callback_deliveries,
    callback_endpoints,
    callback_secrets,
)
from handoff_router.context import RouterContext
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.problems import Problem
from handoff_router.settings import RouterSettings

log = structlog.get_logger(__name__)


def config_url_problems(config: RoutingConfig, settings: RouterSettings) -> list[Problem]:
    """Every callback URL of a config that may not be called, each with its path."""
    policy = settings.outbound_addresses
    owners: list[tuple[str, list[Any]]] = [("reps", config.reps), ("managers", config.managers)]
    return [
        Problem(f"{section}[{index}].callback_url", message)
        for section, items in owners
        for index, item in enumerate(items)
        if item.callback_url is not None
        for message in url_problems(item.callback_url, policy)
    ]


def callback_urls(config: RoutingConfig) -> dict[tuple[OwnerKind, str], str]:
    """Each rep's and manager's callback URL."""
    urls: dict[tuple[OwnerKind, str], str] = {
        ("rep", rep.id): rep.callback_url for rep in config.reps if rep.callback_url is not None
    }
    urls.update(
        {
            ("manager", manager.id): manager.callback_url
            for manager in config.managers
            if manager.callback_url is not None
        }
    )
    return urls


@dataclass
class Callbacks:
    """Admin side of callbacks; the delivery worker is woken when something becomes sendable."""

    context: RouterContext
    wakeup: Wakeup

    @property
    def settings(self) -> RouterSettings:
        return self.context.settings

    async def _active_config(self) -> RoutingConfig | None:
        async with self.context.sessions() as session:
            version = await self.context.configs.active(session)
        return version.config if version is not None else None

    async def issue_secret(self, kind: OwnerKind, owner_id: str) -> SecretOut:
        """A new secret, answered once; the one it replaces still signs for the grace period.
        Only for a rep or manager of the active config (UnknownRecipient, also while there is
        none); SecretsNotConfigured without ``HANDOFF_CALLBACK_SECRETS_KEY``."""
        config = await self._active_config()
        known = {rep.id for rep in config.reps} if kind == "rep" and config else set()
        if kind == "manager" and config:
            known = {manager.id for manager in config.managers}
        if owner_id not in known:
            raise UnknownRecipient(f"no {kind} {owner_id!r} in the active routing configuration")
        box = SecretBox(self.settings.callback_secrets_key)
        if not box.is_configured:
            raise SecretsNotConfigured("set HANDOFF_CALLBACK_SECRETS_KEY (a Fernet key) to issue secrets")
        secret, now, endpoint = new_secret(), self.context.clock(), endpoint_id(kind, owner_id)
        grace = self.settings.callback_secret_grace
        async with transaction(self.context.sessions) as session:
            had = await session.scalar(
                select(func.count()).where(
                    callback_secrets.c.endpoint_id == endpoint, callback_secrets.c.expires_at.is_(None)
                )
            )
            await repository.store_secret(session, endpoint, box.seal(secret), now, grace)
            await repository.sync_urls(session, callback_urls(config) if config else {})
            await self.wakeup.notify(session)
        log.info("callback.secret_issued", endpoint=endpoint, rotated=bool(had))
        return SecretOut(
            secret=secret.get_secret_value(),
            endpoint=endpoint,
            previous_valid_until=now + grace if had else None,
        )

    async def deliveries(
        self, status: DeliveryStatus | None, endpoint: str | None, lead_id: str | None, limit: int
    ) -> list[DeliveryOut]:
        """Deliveries, newest first, filtered by status, endpoint and lead."""
        d, e = callback_deliveries, callback_endpoints
        query = select(d, e.c.url, e.c.status.label("circuit")).join(e, e.c.endpoint_id == d.c.endpoint_id)
        if status is not None:
            query = query.where(d.c.status == status)
        if endpoint is not None:
            query = query.where(d.c.endpoint_id == endpoint)
        if lead_id is not None:
            query = query.where(d.c.lead_id == lead_id)
        async with self.context.sessions() as session:
            rows = (await session.execute(query.order_by(d.c.created_at.desc()).limit(limit))).all()
            secrets = await _endpoints_with_secret(
                session, {row.endpoint_id for row in rows}, self.context.clock()
            )
        return [DeliveryOut.of(row, _waiting_for(row, secrets)) for row in rows]

    async def delivery(self, delivery_id: str) -> DeliveryDetail:
        """One delivery with every try it took."""
        d, e, a = callback_deliveries, callback_endpoints, callback_attempts
        async with self.context.sessions() as session:
            row = (
                await session.execute(
                    select(d, e.c.url, e.c.status.label("circuit"))
                    .join(e, e.c.endpoint_id == d.c.endpoint_id)
                    .where(d.c.delivery_id == delivery_id)
                )
            ).first()
            if row is None:
                raise DeliveryNotFound(f"no delivery {delivery_id}")
            attempts = (
                await session.execute(
                    select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.number, a.c.id)
                )
            ).all()
            secrets = await _endpoints_with_secret(session, {row.endpoint_id}, self.context.clock())
        summary = DeliveryOut.of(row, _waiting_for(row, secrets))
        return DeliveryDetail(
            **summary.model_dump(),
            attempts_made=[AttemptOut.model_validate(attempt, from_attributes=True) for attempt in attempts],
            body=orjson.loads(row.body),
        )

    async def redeliver(self, delivery_id: str) -> DeliveryOut:
        """Send again now, same ``webhook-id`` and body; a gone endpoint is tried again too."""
        d = callback_deliveries
        now = self.context.clock()
        async with transaction(self.context.sessions) as session:
            row = (
                await session.execute(
                    update(d)
                    .where(d.c.delivery_id == delivery_id)
                    .values(status="pending", next_attempt_at=now, finished_at=None, failure_reason=None)
                    .returning(d.c.endpoint_id)
                )
            ).first()
            if row is None:
                raise DeliveryNotFound(f"no delivery {delivery_id}")
            circuit = await repository.lock_circuit(session, row.endpoint_id)
            if circuit.status == "gone":
                await repository.save_circuit(session, row.endpoint_id, reopen(circuit), now)
            await self.wakeup.notify(session)
        log.info("callback.redeliver", delivery_id=delivery_id)
        return await self._one(delivery_id)

    async def _one(self, delivery_id: str) -> DeliveryOut:
        detail = await self.delivery(delivery_id)
        return DeliveryOut.model_validate(detail.model_dump(exclude={"attempts_made", "body"}))

    async def endpoints(self) -> list[EndpointOut]:
        """Every endpoint's circuit, last success, failure streak, pending deliveries; whether it
        counts as unreachable by the active config's ``callbacks.unreachable_after`` (the
        default one while no config is active)."""
        config = await self._active_config()
        unreachable_after = config.unreachable_after if config else RoutingConfig.default_unreachable()
        d, e = callback_deliveries, callback_endpoints
        pending = (
            select(func.count())
            .where(d.c.endpoint_id == e.c.endpoint_id, d.c.status == "pending")
            .scalar_subquery()
        )
        now = self.context.clock()
        async with self.context.sessions() as session:
            rows = (
                await session.execute(select(e, pending.label("pending")).order_by(e.c.endpoint_id))
            ).all()
            secrets = await _endpoints_with_secret(session, {row.endpoint_id for row in rows}, now)
        return [
            EndpointOut(
                endpoint=row.endpoint_id,
                owner_kind=row.owner_kind,
                owner_id=row.owner_id,
                url=row.url,
                circuit=row.status,
                failure_streak=row.failure_streak,
                down_since=row.down_since if row.status != "closed" else None,
                probe_at=row.probe_at,
                last_success_at=row.last_success_at,
                last_failure_at=row.last_failure_at,
                last_error=row.last_error,
                has_secret=row.endpoint_id in secrets,
                pending=row.pending,
                unreachable=is_unreachable(repository.circuit_of(row), now, unreachable_after),
                retry_window=row.retry_window,
            )
            for row in rows
        ]

    async def set_retry_window(self, endpoint: str, window: timedelta | None) -> None:
        """Give an endpoint its own retry window (None: the setting's); pending deliveries follow it."""
        async with transaction(self.context.sessions) as session:
            if not await repository.set_retry_window(session, endpoint, window):
                raise UnknownRecipient(f"no callback endpoint {endpoint}")
        log.info("callback.retry_window_set", endpoint=endpoint, retry_window=str(window) if window else None)


async def _endpoints_with_secret(session: AsyncSession, endpoints: set[str], now: datetime) -> set[str]:
    if not endpoints:
        return set()
    s = callback_secrets
    rows = await session.scalars(
        select(s.c.endpoint_id)
        .where(s.c.endpoint_id.in_(sorted(endpoints)), (s.c.expires_at.is_(None)) | (s.c.expires_at > now))
        .distinct()
    )
    return set(rows.all())


def _waiting_for(row: Any, with_secret: set[str]) -> str | None:
    if row.status != "pending":
        return None
    if row.channel == "callback" and row.endpoint_id not in with_secret:
        return "secret"
    if row.circuit == "gone":
        return "endpoint_gone"
    if row.circuit != "closed":
        return "circuit_open"
    return None
