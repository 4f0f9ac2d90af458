"""Who is called back for an event: the assigned rep for ``lead.assigned`` and reminders, the rep's
manager for ``escalate`` and ``reassign``. The body is the event exactly as published.

An escalation whose rep has no manager still gets its delivery row, written ``failed`` with
the reason ``no_recipient`` to the endpoint ``manager:_none`` (no config id starts with an
underscore): ``GET /v1/deliveries?status=failed`` shows it, so it is never dropped silently."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import structlog
from handoff_shared import cloudevents
from handoff_shared.cloudevents import CloudEvent

from handoff_router.callbacks.repository import NewDelivery, OwnerKind
from handoff_router.facts import LeadReengaged
from handoff_router.routing.config import RoutingConfig

log = structlog.get_logger(__name__)
NO_RECIPIENT = "_none"


class Escalated(Protocol):
    """What a callback of ``lead.escalated`` needs to know of its data."""

    @property
    def level(self) -> str: ...
    @property
    def rep_id(self) -> str: ...
    @property
    def manager_id(self) -> str | None: ...


def to_rep(
    config: RoutingConfig, rep_id: str, event: CloudEvent, body: bytes, now: datetime
) -> NewDelivery | None:
    """The callback of ``lead.assigned`` (``body``: as published) to the rep's tool; None for a rep
    without ``callback_url`` (reached through their other channels)."""
    url = config.rep(rep_id).callback_url
    if url is None:
        return None
    return NewDelivery(
        kind="rep",
        owner_id=rep_id,
        url=url,
        event_id=event.id,
        event_type=event.type,
        lead_id=event.subject,
        body=body,
        created_at=event.time or now,
    )


LEAD_REENGAGED = "lead.reengaged"


def for_reengaged(
    config: RoutingConfig | None, fact: LeadReengaged, source: str, now: datetime
) -> NewDelivery:
    """The callback of ``lead.reengaged`` (CONTRACT §11) to the rep of the person's open assignment."""
    data = {
        "assignment_id": fact.assignment_id,
        "lead_id": fact.lead_id,
        "rep_id": fact.rep_id,
        "mql": dict(fact.mql),
    }
    event = cloudevents.new_event(LEAD_REENGAGED, source, fact.lead_id, data, time=now)
    body, _ = cloudevents.encode(event)
    url = _rep_url(config, fact.rep_id)
    return NewDelivery(
        kind="rep",
        owner_id=fact.rep_id,
        url=url,
        event_id=event.id,
        event_type=event.type,
        lead_id=fact.lead_id,
        body=body,
        created_at=now,
        failure_reason=None if url else "no_recipient",
    )


def for_escalation(
    config: RoutingConfig | None, event: CloudEvent, data: Escalated, now: datetime
) -> NewDelivery | None:
    """``remind`` goes to the rep; ``escalate`` and ``reassign`` to the manager (``no_recipient``:
    the rep has none). None when the recipient is in the config without a ``callback_url``
    (they are reached through Slack or e-mail)."""
    kind: OwnerKind
    if data.level == "remind":
        kind, owner = "rep", data.rep_id
        url = _rep_url(config, owner)
    else:
        kind = "manager"
        owner = data.manager_id or _manager_of(config, data.rep_id) or ""
        url = _manager_url(config, owner)
    failure = None
    if owner and url is None and _in_config(config, kind, owner):
        return None
    if not owner:
        log.warning("callback.no_manager", event_id=event.id, rep_id=data.rep_id, level=data.level)
        owner, failure = NO_RECIPIENT, "no_recipient"
    body, _ = cloudevents.encode(event)
    return NewDelivery(
        kind=kind,
        owner_id=owner,
        url=url,
        event_id=event.id,
        event_type=event.type,
        lead_id=event.subject,
        body=body,
        created_at=event.time or now,
        failure_reason=failure,
    )


def _rep_url(config: RoutingConfig | None, rep_id: str) -> str | None:
    rep = next((rep for rep in config.reps if rep.id == rep_id), None) if config is not None else None
    return rep.callback_url if rep is not None else None


def _manager_of(config: RoutingConfig | None, rep_id: str) -> str | None:
    rep = next((rep for rep in config.reps if rep.id == rep_id), None) if config is not None else None
    return rep.manager if rep is not None else None


def _manager_url(config: RoutingConfig | None, manager_id: str) -> str | None:
    if config is None:
        return None
    manager = next((manager for manager in config.managers if manager.id == manager_id), None)
    return manager.callback_url if manager is not None else None


def _in_config(config: RoutingConfig | None, kind: OwnerKind, owner: str) -> bool:
    if config is None:
        return False
    people = config.reps if kind == "rep" else config.managers
    return any(person.id == owner for person in people)
