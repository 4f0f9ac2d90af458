"""The delivery worker: claim due deliveries, sign, POST, record every try, move circuits.

Bounded concurrency overall (``callback_concurrency`` tries in flight per process) and per
endpoint (``callback_per_endpoint`` leased at once over all router replicas, counted in the
database), so one slow endpoint holds at most its own slots and never delays the others.
Claims are leased in the database, so any number of router processes deliver each event
once, and a process killed mid-try loses nothing: the lease runs out and another try goes
with the same ``webhook-id`` and the same body.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from handoff_shared import tracing
from handoff_shared.db import transaction
from handoff_shared.stopping import wait_or_stop
from handoff_shared.wakeup import Wakeup
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.callbacks import circuit as circuits
from handoff_router.callbacks import metrics, repository
from handoff_router.callbacks.circuit import CircuitPolicy
from handoff_router.callbacks.retries import (
    Attempt,
    NextStep,
    RetryPolicy,
    counts_against_endpoint,
    next_step,
    verdict,
)
from handoff_router.callbacks.sender import Sender, Sent
from handoff_router.callbacks.signing import SecretBox, signed_headers
from handoff_router.callbacks.tables import callback_deliveries, callback_endpoints
from handoff_router.channels import ChannelSender
from handoff_router.settings import RouterSettings

log = structlog.get_logger(__name__)
STATS_EVERY = 5.0
RECORD_BATCH = 500
RECORD_LINGER = 0.005  # seconds, while due deliveries wait for the leases a record frees
RECORD_LINGER_IDLE = 0.025  # seconds, when none wait: fewer, larger record transactions
EXPIRE_EVERY = 60.0


@dataclass(frozen=True)
class Policies:
    """The retry and circuit policies, from the settings."""

    retry: RetryPolicy
    circuit: CircuitPolicy

    @classmethod
    def of(cls, settings: RouterSettings) -> Policies:
        return cls(
            RetryPolicy(
                base=settings.callback_retry_base,
                max_delay=settings.callback_retry_max_delay,
                min_delay=min(timedelta(seconds=1), settings.callback_retry_base),
                window=settings.callback_retry_window,
            ),
            CircuitPolicy(
                failure_threshold=settings.callback_failure_threshold,
                open_for=settings.callback_open_for,
                max_open_for=settings.callback_max_open_for,
                probe_lease=settings.callback_timeout + timedelta(seconds=15),
            ),
        )


class DeliveryWorker:
    """Delivers callbacks until stopped; whoever writes deliveries notifies its ``wakeup`` in the
    same transaction, so they are sent at once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: RouterSettings,
        clock: Callable[[], datetime],
        on_circuit_closed: Callable[[], Awaitable[Any]],
        wakeup: Wakeup,
        channels: Mapping[str, ChannelSender] | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.policies = Policies.of(settings)
        self.box = SecretBox(settings.callback_secrets_key)
        self.on_circuit_closed = on_circuit_closed
        self.channels: dict[str, ChannelSender] = dict(channels or {})  # slack, email: their senders
        # Longer than any try can take (the total timeout bounds it), so a lease only lapses
        # when its worker died; then the delivery is simply due again.
        self.lease = settings.callback_timeout + timedelta(seconds=5)
        self._wake = wakeup.event  # set by whoever commits deliveries (``Wakeup.notify``), in any process
        self._opened: dict[bytes, SecretStr] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: asyncio.Queue[tuple[repository.Claimed, Sent]] = asyncio.Queue()
        self._leases: Counter[str] = Counter()  # leases this process holds, by endpoint
        # Due deliveries were left by the last claim (this process or an endpoint full): a
        # record, which frees leases, then wakes the claimer. Otherwise nothing due is waiting,
        # and only new deliveries (a wake) or the poll (retries coming due) make a claim worth it.
        self._backlog = False

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until ``stop``; then let the tries under way finish."""
        settings = self.settings
        sender = Sender(
            connect_timeout=settings.callback_connect_timeout.total_seconds(),
            total_timeout=settings.callback_timeout.total_seconds(),
            per_url_connections=settings.callback_per_endpoint,
            addresses=settings.outbound_addresses,
        )
        housekeeping = asyncio.create_task(self._housekeeping(stop), name="callback-stats")
        recorder = asyncio.create_task(self._recorder(stop), name="callback-recorder")
        try:
            while not stop.is_set():
                self._wake.clear()
                free = settings.callback_concurrency - len(self._tasks)
                claims = await self._claim(free) if free > 0 else repository.Claims([], cut=True)
                for item in claims.items:
                    self._start(sender, item)
                per_endpoint = settings.callback_per_endpoint
                self._backlog = (
                    claims.cut
                    or len(claims.items) == free
                    or any(held >= per_endpoint for held in self._leases.values())
                )
                # Everything due was taken, or the rest waits for leases: a claim now would find
                # nothing. Wait for new deliveries, the recorder freeing leases, or the poll.
                await self._idle(stop)
        finally:
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.settings.callback_timeout.total_seconds() + 5)
            await asyncio.wait([recorder], timeout=10)  # records what was sent (stop is set)
            recorder.cancel()
            housekeeping.cancel()
            await asyncio.gather(housekeeping, return_exceptions=True)
            await sender.close()
            for channel in self.channels.values():
                await channel.close()

    async def _claim(self, free: int) -> repository.Claims:
        async with transaction(self.sessions) as session:
            return await repository.claim(
                session,
                self.clock(),
                free,
                self.settings.callback_per_endpoint,
                self.lease,
                self.policies.circuit.probe_lease,
            )

    def _start(self, sender: Sender, item: repository.Claimed) -> None:
        task = asyncio.create_task(self._deliver(sender, item), name=f"callback:{item.delivery_id}")
        self._tasks.add(task)
        self._leases[item.endpoint_id] += 1

        # A finished try frees a place in this process, not its endpoint's lease (that goes
        # when the try is recorded): the recorder wakes the claimer, so a claim is not run
        # per finished try only to find every endpoint still full.
        task.add_done_callback(self._tasks.discard)

    async def _idle(self, stop: asyncio.Event) -> None:
        if self._wake.is_set() or stop.is_set():
            return
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        try:
            await asyncio.wait(
                waiters,
                timeout=self.settings.callback_poll.total_seconds(),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:  # both: a stop waiter left behind per round would pile up
                waiter.cancel()

    async def _deliver(self, sender: Sender, item: repository.Claimed) -> None:
        try:
            sent = await self._send(sender, item)
        except Exception as exc:  # the lease brings the delivery back; the worker goes on
            log.exception("callback.send_failed", delivery_id=item.delivery_id, error=type(exc).__name__)
            sent = None
        if sent is not None:
            self._results.put_nowait((item, sent))
        else:
            self._release([item])

    def _release(self, items: list[repository.Claimed]) -> None:
        for item in items:
            self._leases[item.endpoint_id] -= 1
            if self._leases[item.endpoint_id] <= 0:
                del self._leases[item.endpoint_id]

    async def _send(self, sender: Sender, item: repository.Claimed) -> Sent | None:
        if self.clock() + self.settings.callback_timeout >= item.lease_until:
            return None  # claimed too long ago to finish inside the lease: it comes due again
        if item.channel != "callback":
            return await self._send_on_channel(item)
        if item.url is None:
            return Sent(Attempt(None, error="no_url"), 0.0, "the endpoint has no callback_url")
        secrets = [self._open(sealed) for sealed in item.sealed_secrets]
        headers = signed_headers(secrets, item.delivery_id, self.clock(), item.body)
        if not tracing.ENABLED:
            return await sender.post(item.url, headers, item.body)
        # The callback continues the trace of the event it carries; httpx adds ``traceparent``.
        with tracing.span(
            "deliver callback",
            parent=tracing.context_of_body(item.body),
            attributes={"handoff.delivery_id": item.delivery_id, "handoff.attempt": item.attempts + 1},
        ):
            return await sender.post(item.url, headers, item.body)

    async def _send_on_channel(self, item: repository.Claimed) -> Sent:
        """A Slack or e-mail message, through its channel's sender (kept while it is off)."""
        channel = self.channels.get(item.channel)
        if channel is None:
            return Sent(Attempt(None, error="channel_off"), 0.0, f"{item.channel} is not configured")
        started = time.perf_counter()
        answer = await channel.send(item.body)
        latency = (time.perf_counter() - started) * 1000
        return Sent(Attempt(answer.status, answer.error, answer.retry_after), latency, answer.excerpt)

    def _open(self, sealed: bytes) -> SecretStr:
        """A secret, unsealed once per housekeeping round rather than once per try."""
        secret = self._opened.get(sealed)
        if secret is None:
            secret = self._opened[sealed] = self.box.open(sealed)
        return secret

    async def _recorder(self, stop: asyncio.Event) -> None:
        """Record finished tries in batches: one transaction for many, on one connection."""
        while not (stop.is_set() and self._results.empty() and not self._tasks):
            try:
                batch = [await asyncio.wait_for(self._results.get(), timeout=0.2)]
            except TimeoutError:
                continue
            if self._results.qsize() < RECORD_BATCH and not stop.is_set():
                # A moment's wait records the tries finishing meanwhile in the same transaction
                # (each is a round of statements); short while deliveries wait for the leases.
                await asyncio.sleep(RECORD_LINGER if self._backlog else RECORD_LINGER_IDLE)
            while not self._results.empty() and len(batch) < RECORD_BATCH:
                batch.append(self._results.get_nowait())
            try:
                closed = await self._record_each_once(batch)
            finally:
                self._release([item for item, _ in batch])
            if self._backlog or closed:
                # The leases of these tries are free, or a circuit closed: claim what waited.
                self._wake.set()
            for endpoint in closed:
                log.info("callback.circuit_closed", endpoint=endpoint)
            if closed:
                await self.on_circuit_closed()

    async def _record_each_once(self, batch: list[tuple[repository.Claimed, Sent]]) -> list[str]:
        """Record the batch; if that fails, each try alone, so an odd answer never costs its
        neighbours their record (unrecorded, a try is sent again when its lease runs out: a
        duplicate for an endpoint that did answer). A try that cannot be recorded even alone
        is recorded without what its endpoint sent (the excerpt, ``Retry-After``)."""
        try:
            return await self._record(batch)
        except Exception as exc:
            log.exception("callback.record_failed", tries=len(batch), error=type(exc).__name__)
            if len(batch) == 1 and not _has_answer_details(batch[0][1]):
                return []  # the database is the trouble: the lease brings the delivery back
        closed: list[str] = []
        for item, sent in batch:
            for attempt in (sent, _without_answer_details(sent)):
                try:
                    closed += await self._record([(item, attempt)])
                    break
                except Exception as exc:
                    log.warning(
                        "callback.record_alone_failed", delivery_id=item.delivery_id, error=type(exc).__name__
                    )
        return closed

    async def _record(self, batch: list[tuple[repository.Claimed, Sent]]) -> list[str]:
        """Record the tries, move deliveries and circuits on; answer the circuits this closed."""
        now = self.clock()
        endpoints = sorted({item.endpoint_id for item, _ in batch})
        attempts: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        errors: dict[str, str | None] = {}
        steps: list[NextStep] = []
        async with transaction(self.sessions) as session:
            before = await repository.lock_circuits(session, endpoints)
            circuits = dict(before)
            for item, sent in batch:
                attempt, number = sent.attempt, item.attempts + 1
                policy = self.policies.retry
                if item.retry_window is not None:
                    policy = replace(policy, window=item.retry_window)
                step = next_step(attempt, number, item.created_at, now, random.random(), policy)
                steps.append(step)
                circuits[item.endpoint_id] = _next_circuit(
                    circuits[item.endpoint_id], attempt, step, now, self.policies.circuit
                )
                errors[item.endpoint_id] = _error_text(sent)
                attempts.append(
                    {
                        "delivery_id": item.delivery_id,
                        "number": number,
                        "started_at": now - timedelta(milliseconds=sent.latency_ms),
                        "latency_ms": sent.latency_ms,
                        "status_code": attempt.status,
                        "error_class": attempt.error,
                        "response_excerpt": sent.excerpt,
                        "outcome": verdict(attempt) if step.status != "failed" else "failed",
                        "probe": item.probe,
                    }
                )
                deliveries.append({"b_id": item.delivery_id, **_delivery_values(step, sent, number, now)})
            await repository.save_circuits(
                session, {endpoint: (circuits[endpoint], errors[endpoint]) for endpoint in endpoints}, now
            )
            await repository.record_attempts(session, attempts)
            await repository.update_deliveries(session, deliveries)
        for (item, sent), step in zip(batch, steps, strict=True):
            _observe(item, sent, step, now)
        return [e for e in endpoints if before[e].status != "closed" and circuits[e].status == "closed"]

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        since_expiry = EXPIRE_EVERY
        while not stop.is_set():
            self._opened.clear()  # a rotated-out secret is not kept in memory past a round
            try:
                async with transaction(self.sessions) as session:
                    await _refresh_gauges(session, self.clock())
                    if since_expiry >= EXPIRE_EVERY:
                        since_expiry = 0.0
                        expired = await repository.expire_overdue(
                            session, self.clock(), self.policies.retry.window
                        )
                        if expired:
                            log.warning("callback.deliveries_expired", count=expired)
                        if self.box.is_configured:
                            resealed, unreadable = await repository.reseal_secrets(session, self.box)
                            if resealed or unreadable:
                                log.warning(
                                    "callback.secrets_resealed", count=resealed, unreadable=unreadable
                                )
            except Exception as exc:  # gauges are best effort; the next round tries again
                log.warning("callback.stats_failed", error=type(exc).__name__)
            since_expiry += STATS_EVERY
            await wait_or_stop(stop, STATS_EVERY)


def _has_answer_details(sent: Sent) -> bool:
    return sent.excerpt is not None or sent.attempt.retry_after is not None


def _without_answer_details(sent: Sent) -> Sent:
    """The try as recorded when what the endpoint sent cannot be: its status or error only."""
    return Sent(replace(sent.attempt, retry_after=None), sent.latency_ms, None)


def _next_circuit(
    before: circuits.Circuit, attempt: Attempt, step: NextStep, now: datetime, policy: CircuitPolicy
) -> circuits.Circuit:
    outcome = verdict(attempt)
    if outcome == "delivered":
        return circuits.record_success(before, now)
    if outcome == "gone":
        return circuits.record_gone(before, now)
    if counts_against_endpoint(attempt):
        return circuits.record_failure(before, now, policy)
    # A 429: the endpoint is alive and asks every delivery to it to wait.
    wait = (step.retry_at - now) if step.retry_at is not None else policy.open_for
    return circuits.record_throttle(before, now, wait)


def _delivery_values(step: NextStep, sent: Sent, number: int, now: datetime) -> dict[str, Any]:
    pending = step.status == "pending"
    return {
        "attempts": number,
        "last_status_code": sent.attempt.status,
        "last_error": sent.attempt.error,
        "status": step.status,
        "next_attempt_at": step.retry_at if pending else now,
        "finished_at": None if pending else now,
        "failure_reason": None if pending else step.reason,
    }


def _error_text(sent: Sent) -> str | None:
    attempt = sent.attempt
    if verdict(attempt) == "delivered":
        return None
    return attempt.error or f"HTTP {attempt.status}"


def _observe(item: repository.Claimed, sent: Sent, step: NextStep, now: datetime) -> None:
    outcome = verdict(sent.attempt) if step.status != "failed" else "failed"
    metrics.ATTEMPTS.labels(outcome, sent.attempt.error or str(sent.attempt.status)).inc()
    if step.status == "delivered":
        metrics.DELIVERY_SECONDS.observe((now - item.created_at).total_seconds())
    elif step.status == "pending":
        metrics.RETRIES.inc()
    (log.debug if step.status == "delivered" else log.info)(
        "callback.attempt",
        delivery_id=item.delivery_id,
        endpoint=item.endpoint_id,
        attempt=item.attempts + 1,
        status_code=sent.attempt.status,
        error=sent.attempt.error,
        outcome=step.status,
        latency_ms=round(sent.latency_ms, 1),
        probe=item.probe,
    )


async def _refresh_gauges(session: AsyncSession, now: datetime) -> None:
    d, e = callback_deliveries, callback_endpoints
    pending, oldest = (
        await session.execute(select(func.count(), func.min(d.c.created_at)).where(d.c.status == "pending"))
    ).one()
    open_circuits = await session.scalar(select(func.count()).where(e.c.status != "closed"))
    metrics.PENDING.set(pending)
    metrics.OLDEST_PENDING.set((now - oldest).total_seconds() if oldest is not None else 0)
    metrics.OPEN_CIRCUITS.set(open_circuits or 0)
