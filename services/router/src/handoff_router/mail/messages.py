"""The assignment e-mail: plain text and HTML, with a link to the inbox. Pure."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo


def _due(row: Mapping[str, Any], timezone: str) -> str:
    due = row.get("sla_due_at")
    if not isinstance(due, datetime):
        return "no SLA"
    local = due.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b %H:%M} ({timezone})"


def _facts(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    lead = row["lead"]
    company = lead.get("company") or {}
    name = " ".join(str(lead[key]) for key in ("first_name", "last_name") if lead.get(key))
    explanation = row.get("explanation") or {}
    why = explanation.get("summary") or f"rule {explanation.get('rule_id', '?')}"
    facts = [
        ("Lead", name or str(lead.get("email", row["lead_id"]))),
        ("E-mail", str(lead.get("email", ""))),
        ("Title", str(lead.get("title") or "")),
        ("Company", str(company.get("name") or company.get("domain") or "")),
        ("Country", str(lead.get("country") or "")),
        ("Score", "" if lead.get("score") is None else str(lead["score"])),
        ("Why you", str(why)),
    ]
    return [(label, value) for label, value in facts if value]


def assignment_email(
    row: Mapping[str, Any], to: str, sender: str, timezone: str, inbox_url: str, message_id: str
) -> bytes:
    """The e-mail to a rep for a new assignment (RFC 5322 bytes, multipart/alternative)."""
    lead = row["lead"]
    due = _due(row, timezone)
    facts = _facts(row)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"New lead: {lead.get('email', row['lead_id'])} (accept by {due})"
    message["Message-ID"] = message_id
    assigned_at = row.get("assigned_at")
    if isinstance(assigned_at, datetime):
        message["Date"] = format_datetime(assigned_at)
    text = "\n".join(
        [
            "A new lead was assigned to you.",
            "",
            *(f"{label}: {value}" for label, value in facts),
            f"Accept by: {due}",
            "",
            f"Accept or reject it in your inbox: {inbox_url}",
        ]
    )
    message.set_content(text)
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in facts
    )
    message.add_alternative(
        "<!doctype html><html><body>"
        "<p>A new lead was assigned to you.</p>"
        f"<table>{rows}<tr><th align='left'>Accept by</th><td>{html.escape(due)}</td></tr></table>"
        f"<p><a href='{html.escape(inbox_url, quote=True)}'>Accept or reject it in your inbox</a></p>"
        "</body></html>",
        subtype="html",
    )
    return message.as_bytes()
