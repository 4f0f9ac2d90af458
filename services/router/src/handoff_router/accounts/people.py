"""What routing remembers of people and accounts (CONTRACT §11), for one batch of leads.

``recall`` reads, in two statements, the assignments of the batch's people and accounts; each
lead then gets its ``LeadContext``: the account it matches, its person key, the person's open
assignment (no second one is made), the reps who rejected them (skipped), and the rep of the
account's open or accepted lead within ``matching.account_stickiness``. Leads of the same batch
see one another: a lead routed is remembered before the next is matched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.accounts import repository
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.engine import Decision, LeadContext
from handoff_router.routing.identity import PersonKeys, keys_of
from handoff_router.routing.matching import AccountIndex, AccountMatch, match_account

STICKY_BY = frozenset({"domain", "name"})


@dataclass(frozen=True)
class OpenAssignment:
    assignment_id: str
    lead_id: str
    rep_id: str


@dataclass
class Recall:
    """The batch's memory of people and accounts."""

    config: RoutingConfig
    index: AccountIndex
    open_by_key: dict[str, OpenAssignment] = field(default_factory=dict)
    rejected_by_key: dict[str, set[str]] = field(default_factory=dict)
    accepted_by_key: dict[str, OpenAssignment] = field(default_factory=dict)
    sticky_by_account: dict[str, OpenAssignment] = field(default_factory=dict)
    _matches: dict[str, tuple[AccountMatch, PersonKeys]] = field(default_factory=dict)

    def context_for(self, lead: Mapping[str, Any], *, fresh: bool) -> LeadContext:
        """The lead's context; ``fresh`` (a new MQL, not a reassignment) also looks for the
        person's open assignment under another lead_id."""
        match, keys = self._match(lead)
        lead_id = lead.get("lead_id")
        existing = None
        if fresh:
            existing = next(
                (
                    found
                    for key in keys.all()
                    if (found := self.open_by_key.get(key)) and found.lead_id != lead_id
                ),
                None,
            )
        rejected = frozenset().union(*(self.rejected_by_key.get(key, ()) for key in keys.all()))
        sticky = next((found for key in keys.all() if (found := self.accepted_by_key.get(key))), None)
        if sticky is None and match.account_id is not None and match.by in STICKY_BY:
            sticky = self.sticky_by_account.get(match.account_id)
        return LeadContext(
            match=match,
            person_key=keys.person_key,
            existing_assignment_id=existing.assignment_id if existing else None,
            rejected_by=rejected,
            sticky_rep=sticky.rep_id if sticky and sticky.rep_id not in rejected else None,
            sticky_assignment_id=sticky.assignment_id if sticky else None,
        )

    def existing(self, lead: Mapping[str, Any]) -> OpenAssignment | None:
        """The person's open assignment under another lead_id, if any."""
        _, keys = self._match(lead)
        lead_id = lead.get("lead_id")
        return next(
            (
                found
                for key in keys.all()
                if (found := self.open_by_key.get(key)) and found.lead_id != lead_id
            ),
            None,
        )

    def assigned(
        self, lead: Mapping[str, Any], decision: Decision, assignment_id: str, now: datetime
    ) -> dict[str, Any]:
        """Remember a new assignment for the rest of the batch; answer its ``lead_people`` row."""
        match, keys = self._match(lead)
        assert decision.rep_id is not None
        found = OpenAssignment(assignment_id, str(lead["lead_id"]), decision.rep_id)
        for key in keys.all():
            self.open_by_key[key] = found
        account_id = match.account_id if match.by in STICKY_BY else None
        if account_id is not None:
            self.sticky_by_account[account_id] = found
        return {
            "assignment_id": assignment_id,
            "lead_id": found.lead_id,
            "person_keys": list(keys.all()),
            "account_id": account_id,
            "rep_id": decision.rep_id,
            "assigned_at": now,
        }

    def _match(self, lead: Mapping[str, Any]) -> tuple[AccountMatch, PersonKeys]:
        lead_id = str(lead.get("lead_id"))
        found = self._matches.get(lead_id)
        if found is None:
            found = (match_account(lead, self.config, self.index), keys_of(lead))
            self._matches[lead_id] = found
        return found


async def recall(
    session: AsyncSession,
    leads: Sequence[Mapping[str, Any]],
    config: RoutingConfig,
    index: AccountIndex,
    now: datetime,
    assignments: Any,
) -> Recall:
    """Match the batch's leads and read what is known of their people and accounts."""
    memory = Recall(config, index)
    keys = sorted({key for lead in leads for key in memory._match(lead)[1].all()})
    for row in await repository.people_history(session, keys, assignments):
        seen = OpenAssignment(row.assignment_id, row.lead_id, row.rep_id)
        for key in row.person_keys:
            if row.status == "pending":
                memory.open_by_key[key] = seen
            elif row.status == "rejected":
                memory.rejected_by_key.setdefault(key, set()).add(row.rep_id)
            elif row.assigned_at >= now - config.matching_policy.stickiness:
                memory.accepted_by_key[key] = seen
    accounts = sorted(
        {
            match.account_id
            for match, _ in memory._matches.values()
            if match.account_id and match.by in STICKY_BY
        }
    )
    since = now - config.matching_policy.stickiness
    for row in await repository.account_history(session, accounts, since, assignments):
        memory.sticky_by_account[row.account_id] = OpenAssignment(row.assignment_id, "", row.rep_id)
    return memory
