"""The callbacks' rows: write deliveries with the work that causes them, claim due ones, record tries.

Functions take the caller's session and never commit: the unit of work does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from handoff_shared.db import one_of
from sqlalchemy import Integer, String, and_, any_, bindparam, delete, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.callbacks.circuit import Circuit, CircuitStatus
from handoff_router.callbacks.signing import SecretBox, SecretsKeyMissing, new_webhook_id
from handoff_router.callbacks.tables import (
    callback_attempts,
    callback_deliveries,
    callback_endpoints,
    callback_secrets,
)
from handoff_router.channels import Channel, ChannelMessage

OwnerKind = Literal["rep", "manager"]


def endpoint_id(kind: OwnerKind, owner_id: str, channel: Channel = "callback") -> str:
    """The endpoint of a rep or a manager: ``rep:rep-ana``, ``manager:mgr-bob`` for callbacks;
    ``slack:rep:rep-ana``, ``email:rep:rep-ana`` for the other channels."""
    if channel == "callback":
        return f"{kind}:{owner_id}"
    return f"{channel}:{kind}:{owner_id}"


@dataclass(frozen=True)
class NewDelivery:
    """A callback to make: this event's body, to this rep's or manager's endpoint."""

    kind: OwnerKind
    owner_id: str
    url: str | None
    event_id: str
    event_type: str
    lead_id: str | None
    body: bytes
    created_at: datetime
    # Set when the callback cannot be made at all (``no_recipient``): the row is written
    # ``failed`` with this reason, so the event is visible rather than dropped.
    failure_reason: str | None = None
    channel: Channel = "callback"

    @property
    def endpoint(self) -> str:
        return endpoint_id(self.kind, self.owner_id, self.channel)


def from_message(message: ChannelMessage) -> NewDelivery:
    """A Slack or e-mail message as a delivery of its channel's endpoint."""
    return NewDelivery(
        kind=message.owner_kind,
        owner_id=message.owner_id,
        url=None,
        event_id=message.event_id,
        event_type=message.event_type,
        lead_id=message.lead_id,
        body=message.body,
        created_at=message.created_at,
        channel=message.channel,
    )


async def enqueue_messages(session: AsyncSession, messages: Sequence[ChannelMessage]) -> None:
    """Deliver these Slack or e-mail messages durably, in the caller's transaction."""
    await enqueue(session, [from_message(message) for message in messages])


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds until ``lease_until``: send it, then record what happened."""

    delivery_id: str
    endpoint_id: str
    url: str | None
    body: bytes
    attempts: int
    created_at: datetime
    sealed_secrets: tuple[bytes, ...]
    probe: bool
    lease_until: datetime
    retry_window: timedelta | None = None  # the endpoint's own, when it has one
    channel: Channel = "callback"


async def enqueue(session: AsyncSession, deliveries: Sequence[NewDelivery]) -> None:
    """One delivery row per (event, endpoint), in the caller's transaction; repeats are no-ops."""
    if not deliveries:
        return
    endpoints = {
        item.endpoint: {
            "endpoint_id": item.endpoint,
            "channel": item.channel,
            "owner_kind": item.kind,
            "owner_id": item.owner_id,
            "url": item.url,
        }
        for item in deliveries
    }
    # One statement whatever the count, the endpoints with the deliveries (one round trip): the
    # columns travel as arrays (routing writes one delivery per lead, and a multi-row INSERT's
    # per-value parameter handling cost more than the routing). DO NOTHING takes no lock on an
    # existing endpoint row, so routing never waits on a worker.
    await session.execute(
        _INSERT_DELIVERIES,
        {
            "e_ids": list(endpoints),
            "e_channels": [row["channel"] for row in endpoints.values()],
            "e_kinds": [row["owner_kind"] for row in endpoints.values()],
            "e_owners": [row["owner_id"] for row in endpoints.values()],
            "e_urls": [row["url"] for row in endpoints.values()],
            "delivery_ids": [new_webhook_id() for _ in deliveries],
            "endpoint_ids": [item.endpoint for item in deliveries],
            "channels": [item.channel for item in deliveries],
            "event_ids": [item.event_id for item in deliveries],
            "event_types": [item.event_type for item in deliveries],
            "lead_ids": [item.lead_id for item in deliveries],
            "bodies": [item.body for item in deliveries],
            "created_ats": [item.created_at for item in deliveries],
            "statuses": ["failed" if item.failure_reason else "pending" for item in deliveries],
            "reasons": [item.failure_reason for item in deliveries],
        },
    )


_INSERT_DELIVERIES = text(
    f"WITH endpoints AS (INSERT INTO {callback_endpoints.schema}.{callback_endpoints.name} "
    "(endpoint_id, channel, owner_kind, owner_id, url) SELECT * FROM unnest("
    "CAST(:e_ids AS text[]), CAST(:e_channels AS text[]), CAST(:e_kinds AS text[]), "
    "CAST(:e_owners AS text[]), CAST(:e_urls AS text[])) ON CONFLICT DO NOTHING) "
    f"INSERT INTO {callback_deliveries.schema}.{callback_deliveries.name} "
    "(delivery_id, endpoint_id, channel, event_id, event_type, lead_id, body, next_attempt_at, "
    "created_at, status, failure_reason, finished_at) "
    "SELECT d, e, h, i, t, l, b, c, c, s, r, CASE WHEN r IS NULL THEN NULL ELSE c END FROM unnest("
    "CAST(:delivery_ids AS text[]), CAST(:endpoint_ids AS text[]), CAST(:channels AS text[]), "
    "CAST(:event_ids AS text[]), "
    "CAST(:event_types AS text[]), CAST(:lead_ids AS text[]), CAST(:bodies AS bytea[]), "
    "CAST(:created_ats AS timestamptz[]), CAST(:statuses AS text[]), CAST(:reasons AS text[])) "
    "AS d(d, e, h, i, t, l, b, c, s, r) "
    "ON CONFLICT DO NOTHING"
)


async def sync_urls(session: AsyncSession, urls: dict[tuple[OwnerKind, str], str]) -> None:
    """A config was applied: each endpoint calls its new URL, and a gone one whose URL changed reopens."""
    if not urls:
        return
    rows = [
        {"endpoint_id": endpoint_id(kind, owner), "owner_kind": kind, "owner_id": owner, "url": url}
        for (kind, owner), url in urls.items()
    ]
    statement = insert(callback_endpoints)
    changed = callback_endpoints.c.url.is_distinct_from(statement.excluded.url)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[callback_endpoints.c.endpoint_id],
            set_={"url": statement.excluded.url, "status": "closed", "down_since": None, "failure_streak": 0},
            where=changed & (callback_endpoints.c.status == "gone"),
        ),
        rows,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[callback_endpoints.c.endpoint_id],
            set_={"url": statement.excluded.url},
            where=changed,
        ),
        rows,
    )


def _valid_secret(now: datetime) -> Any:
    return or_(callback_secrets.c.expires_at.is_(None), callback_secrets.c.expires_at > now)


# The class half of the two-key advisory locks that serialise claims per endpoint (the
# one-key locks other parts take live in another key space).
CLAIM_LOCK_CLASS = 0x43_42  # "CB"


def _claimable() -> Any:
    """Due deliveries whose endpoint may be called now, oldest due first, rows locked (SKIP LOCKED).

    Built once with parameters: a worker claims after every commit that wrote deliveries, and
    building this statement anew cost more CPU than the POST it leads to.
    """
    d, e = callback_deliveries, callback_endpoints
    now = bindparam("now", type_=d.c.next_attempt_at.type)
    has_secret = exists().where(
        callback_secrets.c.endpoint_id == d.c.endpoint_id,
        or_(callback_secrets.c.expires_at.is_(None), callback_secrets.c.expires_at > now),
    )
    may_call = or_(
        e.c.status == "closed",
        and_(e.c.status == "open", e.c.probe_at <= now),
        and_(
            e.c.status == "half_open",
            e.c.probe_started_at <= bindparam("probe_since", type_=e.c.probe_started_at.type),
        ),
    )
    leased = d.alias("leased")
    full = (
        select(leased.c.endpoint_id)
        .where(leased.c.status == "pending", leased.c.leased_until > now)
        .group_by(leased.c.endpoint_id)
        .having(func.count() >= bindparam("per_endpoint", type_=Integer))
    )
    return (
        select(
            d.c.delivery_id,
            d.c.endpoint_id,
            d.c.body,
            d.c.attempts,
            d.c.created_at,
            e.c.url,
            e.c.status,
            e.c.retry_window,
            d.c.channel,
        )
        .join(e, e.c.endpoint_id == d.c.endpoint_id)
        .where(
            d.c.status == "pending",
            d.c.next_attempt_at <= now,
            or_(e.c.hold_until.is_(None), e.c.hold_until <= now),
            may_call,
            or_(d.c.channel != "callback", has_secret),  # Slack and e-mail are not signed by us
            d.c.endpoint_id.not_in(full),
        )
        .order_by(d.c.next_attempt_at)
        .limit(bindparam("window", type_=Integer))
        .with_for_update(of=d, skip_locked=True)
    )


_CLAIMABLE = _claimable()
_LEASE = (
    update(callback_deliveries)
    .where(callback_deliveries.c.delivery_id == any_(bindparam("ids", type_=ARRAY(String))))
    .values(
        next_attempt_at=bindparam("until", type_=callback_deliveries.c.next_attempt_at.type),
        leased_until=bindparam("until", type_=callback_deliveries.c.next_attempt_at.type),
    )
)


@dataclass(frozen=True)
class Claims:
    """What one claim took; ``cut``: due deliveries were left (endpoints full, or past the window)."""

    items: list[Claimed]
    cut: bool = False


async def claim(
    session: AsyncSession,
    now: datetime,
    limit: int,
    per_endpoint: int,
    lease: timedelta,
    probe_lease: timedelta,
) -> Claims:
    """Take up to ``limit`` due deliveries whose endpoint may be called (``FOR UPDATE SKIP LOCKED``).

    An endpoint never has more than ``per_endpoint`` deliveries leased at once, counted in the
    database over every router replica: claims of one endpoint are serialised by a
    transaction-scoped advisory lock (a replica that cannot take it leaves that endpoint to
    the one that holds it), and the leases are counted after the lock is held, so the count
    sees every claim committed before. Endpoints already full are skipped by the query, so
    their backlog never fills a batch meant for the others. An open circuit whose probe is
    due gives exactly one delivery, as the probe. Claimed rows are leased: they come due
    again at ``now + lease`` unless the try is recorded first (a crashed worker loses nothing).
    """
    window = limit * 2
    rows = (
        await session.execute(
            _CLAIMABLE,
            {"now": now, "probe_since": now - probe_lease, "per_endpoint": per_endpoint, "window": window},
        )
    ).all()
    if not rows:
        return Claims([])
    room = await _room(session, sorted({row.endpoint_id for row in rows}), now, per_endpoint)
    chosen: list[Any] = []
    probes: set[str] = set()
    for row in rows:
        if len(chosen) >= limit:
            break
        if room.get(row.endpoint_id, 0) <= 0:
            continue
        if row.status != "closed":
            if row.endpoint_id in probes or not await _take_probe(session, row.endpoint_id, now, probe_lease):
                continue
            probes.add(row.endpoint_id)
            room[row.endpoint_id] = 1  # a probe goes alone
        room[row.endpoint_id] -= 1
        chosen.append(row)
    cut = len(rows) == window or len(chosen) < len(rows)
    if not chosen:
        return Claims([], cut)
    await session.execute(_LEASE, {"ids": [row.delivery_id for row in chosen], "until": now + lease})
    secrets = await _sealed_secrets(session, {row.endpoint_id for row in chosen}, now)
    items = [
        Claimed(
            delivery_id=row.delivery_id,
            endpoint_id=row.endpoint_id,
            url=row.url,
            body=row.body,
            attempts=row.attempts,
            created_at=row.created_at,
            sealed_secrets=secrets.get(row.endpoint_id, ()),
            probe=row.endpoint_id in probes,
            lease_until=now + lease,
            retry_window=row.retry_window,
            channel=row.channel,
        )
        for row in chosen
    ]
    return Claims(items, cut)


async def _room(
    session: AsyncSession, endpoints: list[str], now: datetime, per_endpoint: int
) -> dict[str, int]:
    """How many more each endpoint may take now; 0 for one another replica is claiming.

    The leases are counted in a statement after the locks are taken: READ COMMITTED gives it
    a snapshot that holds every claim committed before its lock was released.
    """
    locked = (
        await session.scalars(
            text(
                "SELECT key FROM unnest(CAST(:endpoints AS text[])) AS key"
                " WHERE pg_try_advisory_xact_lock(:lock_class, hashtext(key))"
            ),
            {"endpoints": endpoints, "lock_class": CLAIM_LOCK_CLASS},
        )
    ).all()
    if not locked:
        return {}
    d = callback_deliveries
    counted = await session.execute(
        select(d.c.endpoint_id, func.count().label("leased"))
        .where(one_of(d.c.endpoint_id, list(locked)), d.c.status == "pending", d.c.leased_until > now)
        .group_by(d.c.endpoint_id)
    )
    busy = {row.endpoint_id: row.leased for row in counted}
    return {endpoint: per_endpoint - busy.get(endpoint, 0) for endpoint in locked}


async def _take_probe(session: AsyncSession, endpoint: str, now: datetime, probe_lease: timedelta) -> bool:
    """Half-open the circuit for exactly one probe; False when another worker took it first."""
    e = callback_endpoints
    due = or_(
        and_(e.c.status == "open", e.c.probe_at <= now),
        and_(e.c.status == "half_open", e.c.probe_started_at <= now - probe_lease),
    )
    result = await session.execute(
        update(e)
        .where(e.c.endpoint_id == endpoint, due)
        .values(status="half_open", probe_started_at=now, updated_at=now)
        .returning(e.c.endpoint_id)
    )
    return result.first() is not None


async def _sealed_secrets(
    session: AsyncSession, endpoints: set[str], now: datetime
) -> dict[str, tuple[bytes, ...]]:
    s = callback_secrets
    rows = await session.execute(
        select(s.c.endpoint_id, s.c.sealed)
        .where(one_of(s.c.endpoint_id, sorted(endpoints)), _valid_secret(now))
        .order_by(s.c.endpoint_id, s.c.created_at.desc(), s.c.id.desc())
    )
    found: dict[str, list[bytes]] = {}
    for row in rows:
        found.setdefault(row.endpoint_id, []).append(row.sealed)
    return {key: tuple(value) for key, value in found.items()}


async def lock_circuits(session: AsyncSession, endpoints: list[str]) -> dict[str, Circuit]:
    """The circuits of these endpoints, locked in id order (no deadlock between replicas)."""
    e = callback_endpoints
    rows = await session.execute(
        select(e).where(one_of(e.c.endpoint_id, endpoints)).order_by(e.c.endpoint_id).with_for_update()
    )
    found = {row.endpoint_id: circuit_of(row) for row in rows}
    return {endpoint: found.get(endpoint, Circuit()) for endpoint in endpoints}


async def lock_circuit(session: AsyncSession, endpoint: str) -> Circuit:
    """The endpoint's circuit, locked until the transaction ends."""
    e = callback_endpoints
    row = (await session.execute(select(e).where(e.c.endpoint_id == endpoint).with_for_update())).first()
    return circuit_of(row) if row is not None else Circuit()


def circuit_of(row: Any) -> Circuit:
    """The circuit held in an endpoint row."""
    status: CircuitStatus = row.status
    return Circuit(
        status=status,
        failure_streak=row.failure_streak,
        down_since=row.down_since,
        probe_at=row.probe_at,
        open_for=row.open_for,
        probe_started_at=row.probe_started_at,
        hold_until=row.hold_until,
        last_success_at=row.last_success_at,
        last_failure_at=row.last_failure_at,
    )


async def save_circuit(
    session: AsyncSession, endpoint: str, circuit: Circuit, now: datetime, error: str | None = None
) -> None:
    """Write the circuit back (with the last error, when there was one)."""
    values: dict[str, Any] = {
        "status": circuit.status,
        "failure_streak": circuit.failure_streak,
        "down_since": circuit.down_since,
        "probe_at": circuit.probe_at,
        "open_for": circuit.open_for,
        "probe_started_at": circuit.probe_started_at,
        "hold_until": circuit.hold_until,
        "last_success_at": circuit.last_success_at,
        "last_failure_at": circuit.last_failure_at,
        "updated_at": now,
    }
    if error is not None:
        values["last_error"] = error
    await session.execute(
        update(callback_endpoints).where(callback_endpoints.c.endpoint_id == endpoint).values(**values)
    )


CIRCUIT_FIELDS = (
    "status",
    "failure_streak",
    "down_since",
    "probe_at",
    "open_for",
    "probe_started_at",
    "hold_until",
    "last_success_at",
    "last_failure_at",
)


async def save_circuits(
    session: AsyncSession, circuits: dict[str, tuple[Circuit, str | None]], now: datetime
) -> None:
    """``save_circuit`` for many endpoints in one statement (circuit and last error by endpoint)."""
    if not circuits:
        return
    e = callback_endpoints
    statement = (
        update(e)
        .where(e.c.endpoint_id == bindparam("c_id"))
        .values(
            {
                **{name: bindparam(f"c_{name}", type_=e.c[name].type) for name in CIRCUIT_FIELDS},
                "updated_at": now,
                "last_error": func.coalesce(
                    bindparam("c_last_error", type_=e.c.last_error.type), e.c.last_error
                ),
            }
        )
    )
    await session.execute(
        statement,
        [
            {
                "c_id": endpoint,
                "c_last_error": error,
                **{f"c_{name}": getattr(circuit, name) for name in CIRCUIT_FIELDS},
            }
            for endpoint, (circuit, error) in sorted(circuits.items())
        ],
    )


async def record_attempts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Keep what each try got: status, latency, error class, an excerpt of the answer."""
    if rows:
        await session.execute(insert(callback_attempts), rows)


DELIVERY_FIELDS = ("attempts", "last_status_code", "last_error", "status", "next_attempt_at", "finished_at")


async def update_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Move deliveries on after their tries; ``b_id`` names each (one statement for all)."""
    if not rows:
        return
    d = callback_deliveries
    fields = (*DELIVERY_FIELDS, "failure_reason")
    statement = (
        update(d)
        .where(d.c.delivery_id == bindparam("b_id"), d.c.status == "pending")
        .values({**{name: bindparam(f"b_{name}") for name in fields}, "leased_until": None})
    )
    await session.execute(
        statement, [{"b_id": row["b_id"], **{f"b_{n}": row[n] for n in fields}} for row in rows]
    )


async def unreachable_reps(session: AsyncSession, now: datetime, after: timedelta) -> frozenset[str]:
    """Reps whose endpoint has been down (not closed) for at least ``after``: routing skips them."""
    e = callback_endpoints
    rows = await session.scalars(
        select(e.c.owner_id).where(
            e.c.owner_kind == "rep",
            e.c.channel == "callback",
            e.c.status != "closed",
            e.c.down_since <= now - after,
        )
    )
    return frozenset(rows.all())


async def expire_overdue(session: AsyncSession, now: datetime, window: timedelta) -> int:
    """Pending deliveries older than their endpoint's retry window (else ``window``) fail,
    visibly (never silently dropped)."""
    d, e = callback_deliveries, callback_endpoints
    own_window = select(e.c.retry_window).where(e.c.endpoint_id == d.c.endpoint_id).scalar_subquery()
    result = await session.execute(
        update(d)
        .where(
            d.c.status == "pending",
            d.c.created_at + func.coalesce(own_window, window) <= now,
            d.c.next_attempt_at <= now,
        )
        .values(status="failed", failure_reason="window_passed", finished_at=now, leased_until=None)
        .returning(d.c.delivery_id)
    )
    return len(result.all())


async def set_retry_window(session: AsyncSession, endpoint: str, window: timedelta | None) -> bool:
    """Give the endpoint a retry window of its own (None: the setting's again); False if unknown."""
    e = callback_endpoints
    result = await session.execute(
        update(e).where(e.c.endpoint_id == endpoint).values(retry_window=window).returning(e.c.endpoint_id)
    )
    return result.first() is not None


async def reseal_secrets(session: AsyncSession, box: SecretBox) -> tuple[int, int]:
    """Seal again with the current key every stored secret sealed with an older one (after a
    key rotation); answer how many were resealed and how many open with no configured key."""
    s = callback_secrets
    resealed = unreadable = 0
    for row_id, sealed in (await session.execute(select(s.c.id, s.c.sealed))).all():
        if box.is_current(sealed):
            continue
        try:
            fresh = box.reseal(sealed)
        except SecretsKeyMissing:
            unreadable += 1
            continue
        await session.execute(update(s).where(s.c.id == row_id).values(sealed=fresh))
        resealed += 1
    return resealed, unreadable


async def store_secret(
    session: AsyncSession, endpoint: str, sealed: bytes, now: datetime, grace: timedelta
) -> None:
    """A new current secret; the ones it replaces keep signing until ``now + grace``."""
    s = callback_secrets
    await session.execute(
        update(s)
        .where(s.c.endpoint_id == endpoint, or_(s.c.expires_at.is_(None), s.c.expires_at > now + grace))
        .values(expires_at=now + grace)
    )
    await session.execute(delete(s).where(s.c.endpoint_id == endpoint, s.c.expires_at <= now))
    await session.execute(insert(s).values(endpoint_id=endpoint, sealed=sealed, created_at=now))
