"""The e-mail feature: an assignment e-mail (plain text and HTML, a link to the inbox) for each
new assignment, through the durable delivery the root hands in. Off without ``HANDOFF_SMTP_URL``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import make_msgid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handoff_router.channels import ChannelMessage, Deliver
from handoff_router.context import RouterContext
from handoff_router.mail.messages import assignment_email
from handoff_router.mail.sender import MailSender


@dataclass
class Email:
    """Writes the assignment e-mails in the unit of work that assigns."""

    context: RouterContext
    deliver: Deliver
    inbox_url: str

    async def on_assigned(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        version = await self.context.configs.active(session)
        if version is None:
            return
        reps = {rep.id: rep for rep in version.config.reps}
        sender = self.context.settings.smtp_from
        out = []
        for row in rows:
            rep = reps.get(row["rep_id"])
            if rep is None:
                continue
            message_id = make_msgid(idstring=str(row["assignment_id"]), domain="handoff.invalid")
            body = assignment_email(row, rep.email, sender, rep.timezone, self.inbox_url, message_id)
            out.append(
                ChannelMessage(
                    channel="email",
                    owner_kind="rep",
                    owner_id=rep.id,
                    event_id=f"assigned:{row['assignment_id']}",
                    event_type="email.assignment",
                    lead_id=row["lead_id"],
                    body=body,
                    created_at=row["assigned_at"],
                )
            )
        await self.deliver(session, out)


def install(context: RouterContext, deliver: Deliver, inbox_url: str) -> tuple[Email, MailSender] | None:
    """When ``HANDOFF_SMTP_URL`` is set: the e-mail of each assignment (the root wires its
    ``on_assigned``) and its sender."""
    settings = context.settings
    if not settings.smtp_url:
        return None
    return Email(context, deliver, inbox_url), MailSender(
        settings.smtp_url, settings.callback_timeout.total_seconds()
    )
