"""Slack messages, built with the SDK's Block Kit models: the assignment DM with Accept and
Reject-with-reason, the message once decided, and escalations for a manager's channel.

Pure: each function takes what it shows (the assignment row, the rep's time zone, ``now``) and
answers the Web API call to make, as ``{"method": ..., "args": {...}}`` (what the delivery keeps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

ACCEPT = "handoff_accept"
REJECT = "handoff_reject"
REASON_SEPARATOR = "|"
NOTE_NEEDED = frozenset({"other"})  # a reason that needs a note is left to the inbox and the API


def _escape(text: object) -> str:
    """Slack's mrkdwn escaping (&, <, >), so a lead's data cannot forge a mention or a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def local_time(moment: datetime, timezone: str) -> str:
    """``moment`` on the rep's clock: ``Tue 8 Dec 14:30 (America/New_York)``."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b %H:%M} ({timezone})"


def why_them(explanation: Mapping[str, Any]) -> str:
    """One line on why the lead came to this rep, from the assignment's explanation."""
    summary = explanation.get("summary") or ""
    if summary:
        return str(summary)
    rule = explanation.get("rule_id") or "?"
    strategy = explanation.get("strategy") or "routing"
    return f"rule {rule}, {strategy}"


def lead_lines(lead: Mapping[str, Any]) -> list[str]:
    """The lead as a few lines: who, which company, where, how warm."""
    name = " ".join(str(lead[key]) for key in ("first_name", "last_name") if lead.get(key)) or lead.get(
        "email", "?"
    )
    company = lead.get("company") or {}
    lines = [f"*{_escape(name)}*" + (f", {_escape(lead['title'])}" if lead.get("title") else "")]
    if company.get("name") or company.get("domain"):
        size = f" · {company['employees']} employees" if company.get("employees") else ""
        lines.append(f"{_escape(company.get('name') or company.get('domain'))}{size}")
    where = ", ".join(str(lead[key]) for key in ("region", "country") if lead.get(key))
    if where:
        lines.append(_escape(where))
    if lead.get("score") is not None:
        lines.append(
            f"score {_escape(lead['score'])}"
            + (f" · {_escape(lead['source'])}" if lead.get("source") else "")
        )
    return lines


def assignment_message(
    row: Mapping[str, Any], slack_user_id: str, timezone: str, reasons: Sequence[str], inbox_url: str
) -> dict[str, Any]:
    """The DM to the rep: the lead, why them, the SLA due time on their clock, Accept / Reject."""
    assignment_id = str(row["assignment_id"])
    lead = row["lead"]
    due = row.get("sla_due_at")
    due_text = f"Accept by *{local_time(due, timezone)}*" if isinstance(due, datetime) else "No SLA"
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text="New lead for you\n" + "\n".join(lead_lines(lead)))),
        ContextBlock(
            elements=[
                MarkdownTextObject(text=f"Why you: {_escape(why_them(row.get('explanation') or {}))}"),
                MarkdownTextObject(text=due_text),
            ]
        ),
        ActionsBlock(block_id=f"decide:{assignment_id}", elements=decision_elements(assignment_id, reasons)),
        ContextBlock(elements=[MarkdownTextObject(text=f"<{inbox_url}|Open your inbox>")]),
    ]
    return {
        "method": "chat.postMessage",
        "args": {
            "channel": slack_user_id,
            "text": f"New lead for you: {lead.get('email', row['lead_id'])}",
            "blocks": [block.to_dict() for block in blocks],
            "unfurl_links": False,
            "metadata": {
                "event_type": "handoff_assignment",
                "event_payload": {"assignment_id": assignment_id},
            },
        },
    }


def decision_elements(assignment_id: str, reasons: Sequence[str]) -> list[Any]:
    """Accept, and a menu of rejection reasons (choosing one rejects with it)."""
    options = [
        Option(value=f"{assignment_id}{REASON_SEPARATOR}{reason}", text=reason.replace("_", " "))
        for reason in reasons
        if reason not in NOTE_NEEDED
    ][:100]
    elements: list[Any] = [
        ButtonElement(text="Accept", action_id=ACCEPT, value=assignment_id, style="primary")
    ]
    if options:
        elements.append(
            StaticSelectElement(placeholder="Reject with reason…", action_id=REJECT, options=options)
        )
    return elements


def decided_message(
    channel: str, ts: str, blocks: Sequence[Mapping[str, Any]], outcome: str
) -> dict[str, Any]:
    """The same message with its buttons replaced by the decision."""
    kept = [dict(block) for block in blocks if block.get("type") != "actions"]
    kept.append(ContextBlock(elements=[MarkdownTextObject(text=_escape(outcome))]).to_dict())
    return {"method": "chat.update", "args": {"channel": channel, "ts": ts, "text": outcome, "blocks": kept}}


def ephemeral(channel: str, user: str, text: str) -> dict[str, Any]:
    """A note only the clicking user sees."""
    return {"method": "chat.postEphemeral", "args": {"channel": channel, "user": user, "text": text}}


def escalation_message(
    data: Mapping[str, Any], slack_channel: str, rep_slack_user: str | None
) -> dict[str, Any]:
    """An escalation (or a lead parked for people) in the manager's channel."""
    who = f"<@{rep_slack_user}>" if rep_slack_user else _escape(data.get("rep_id", "?"))
    level = str(data.get("level", "escalate"))
    overdue = float(data.get("overdue_seconds") or 0)
    late = f"{overdue / 60:.0f} min overdue" if overdue > 0 else "not yet due"
    text = f"Lead {_escape(data.get('lead_id'))} assigned to {who}: {level} ({late})"
    if data.get("summary"):  # the router's notice of a lead parked or a rep paused says what it did
        text += f"\n{_escape(data['summary'])}"
    return {
        "method": "chat.postMessage",
        "args": {
            "channel": slack_channel,
            "text": text,
            "blocks": [SectionBlock(text=MarkdownTextObject(text=text)).to_dict()],
            "unfurl_links": False,
        },
    }
