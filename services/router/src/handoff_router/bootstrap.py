"""The router's composition root: the one module that knows every feature. It builds each
feature's service on the shared context and wires the bus: which handlers act on each fact
(in the publishing unit of work, in the order given), which feature answers each question, and
which wakeup each background worker waits on. ``app.py`` puts the result into FastAPI and the
runtime; scripts and tests that need the router without HTTP call :func:`bootstrap` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handoff_shared.wakeup import Wakeup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_router.accounts.handlers import AccountMemory, remember_people
from handoff_router.accounts.service import Accounts
from handoff_router.assignments import repository as assignments_store
from handoff_router.assignments import state as routing_state
from handoff_router.assignments.draining import Drainer
from handoff_router.assignments.reassignment import Reassignments
from handoff_router.assignments.service import Assignments
from handoff_router.assignments.tables import assignments as assignments_table
from handoff_router.auth import Authentication
from handoff_router.bus import Bus
from handoff_router.callbacks.handlers import CallbackHandlers
from handoff_router.callbacks.service import Callbacks
from handoff_router.callbacks.worker import DeliveryWorker
from handoff_router.configs import repository as configs_store
from handoff_router.configs.repository import ConfigCache
from handoff_router.configs.service import RoutingConfigs
from handoff_router.context import RouterContext, Wakeable
from handoff_router.facts import (
    AnyLeadWaiting,
    AssignmentsDecided,
    AssignmentStatuses,
    AvailabilitySet,
    ConfigApplied,
    ConfigProblems,
    CurrentAccountIndex,
    CurrentRoutingState,
    EscalationsReceived,
    LeadReleased,
    LeadsAssigned,
    LeadsReengaged,
    LeadsWaiting,
    OldestWaitingForCapacity,
    OpenByAccount,
    RecallPeople,
    RepOffboarded,
    StoredSlaSetting,
    UnreachableReps,
    WaitingAmongStatement,
)
from handoff_router.queue import handlers as queue_handlers
from handoff_router.queue.service import Queue
from handoff_router.reps.service import Reps
from handoff_router.routing.engine import RoutingState
from handoff_router.settings import RouterSettings

QUEUE_CHANNEL = "handoff_router_queue"
"""Capacity may have freed (a decision, a rep back, a new config, a lead released): drain the queue."""
CALLBACKS_CHANNEL = "handoff_router_callbacks"
"""Deliveries were written (an assignment, an escalation, a secret, a redelivery): send them."""


@dataclass(frozen=True)
class Router:
    """Every feature's service and background worker, built on one context and wired."""

    context: RouterContext
    assignments: Assignments
    reps: Reps
    configs: RoutingConfigs
    queue: Queue
    callbacks: Callbacks
    accounts: Accounts
    memory: AccountMemory
    authentication: Authentication
    drainer: Drainer
    deliveries: DeliveryWorker
    queue_wakeup: Wakeup
    callback_wakeup: Wakeup


def bootstrap(
    settings: RouterSettings, sessions: async_sessionmaker[AsyncSession], relay: Wakeable
) -> Router:
    """Build the router's features on one context and wire the bus between them."""
    bus = Bus()
    context = RouterContext(settings=settings, sessions=sessions, configs=ConfigCache(), relay=relay, bus=bus)
    queue_wakeup, callback_wakeup = Wakeup(QUEUE_CHANNEL), Wakeup(CALLBACKS_CHANNEL)

    async def circuit_closed() -> None:
        queue_wakeup.wake()  # the rep is routable again: the leads that waited for someone reachable go now

    deliveries = DeliveryWorker(sessions, settings, context.clock, circuit_closed, callback_wakeup)
    callbacks = CallbackHandlers(settings, context.clock, callback_wakeup)
    reassignments = Reassignments(context)
    reps = Reps(context)
    memory = AccountMemory(sessions, bus)

    async def capacity_may_have_freed(session: AsyncSession, fact: object) -> None:
        await queue_wakeup.notify(session)

    async def capacity_freed_by(session: AsyncSession, fact: AssignmentsDecided) -> None:
        if fact.status != "qualified":  # qualifying an accepted lead frees nothing
            await queue_wakeup.notify(session)

    async def availability_set(session: AsyncSession, fact: AvailabilitySet) -> None:
        await routing_state.set_availability(session, fact.rep_id, fact.available, fact.until, now=fact.at)
        if fact.available:
            await queue_wakeup.notify(session)

    async def lock_routing_state(session: AsyncSession, fact: RepOffboarded) -> None:
        await routing_state.lock(session)

    async def current_state(session: AsyncSession, question: CurrentRoutingState) -> RoutingState:
        return await routing_state.read(session)

    async def assignment_statuses(session: AsyncSession, question: AssignmentStatuses) -> Any:
        return assignments_table

    async def open_by_account(session: AsyncSession, question: OpenByAccount) -> dict[str, int]:
        return await assignments_store.open_by_account(session)

    async def stored_sla_setting(session: AsyncSession, question: StoredSlaSetting) -> int | None:
        return await configs_store.sla_setting(session, question.version, question.key)

    bus.on(LeadsAssigned, callbacks.deliver_assigned, queue_handlers.let_go_of_assigned, remember_people)
    bus.on(LeadsReengaged, callbacks.tell_reengaged)
    bus.on(LeadsWaiting, queue_handlers.keep_waiting)
    bus.on(AssignmentsDecided, capacity_freed_by)
    bus.on(EscalationsReceived, callbacks.deliver_escalations, reassignments.reassign)
    bus.on(ConfigApplied, callbacks.keep_urls, capacity_may_have_freed)
    bus.on(AvailabilitySet, availability_set)
    bus.on(RepOffboarded, lock_routing_state)  # first: the lock order of every routing unit of work
    bus.on(LeadReleased, capacity_may_have_freed)

    bus.answer(UnreachableReps, callbacks.unreachable_reps)
    bus.contribute(ConfigProblems, callbacks.url_problems)
    bus.answer(WaitingAmongStatement, queue_handlers.waiting_among)
    bus.answer(AnyLeadWaiting, queue_handlers.any_waiting)
    bus.answer(OldestWaitingForCapacity, queue_handlers.oldest_waiting)
    bus.answer(CurrentRoutingState, current_state)
    bus.answer(StoredSlaSetting, stored_sla_setting)
    bus.answer(AssignmentStatuses, assignment_statuses)
    bus.answer(OpenByAccount, open_by_account)
    bus.answer(RecallPeople, memory.recall)
    bus.answer(CurrentAccountIndex, memory.index)

    return Router(
        context=context,
        assignments=Assignments(context),
        reps=reps,
        configs=RoutingConfigs(context),
        queue=Queue(context),
        callbacks=Callbacks(context, callback_wakeup),
        accounts=Accounts(context, memory.book),
        memory=memory,
        authentication=Authentication(settings.admin_token, reps.authenticate),
        drainer=Drainer(context, queue_wakeup),
        deliveries=deliveries,
        queue_wakeup=queue_wakeup,
        callback_wakeup=callback_wakeup,
    )
