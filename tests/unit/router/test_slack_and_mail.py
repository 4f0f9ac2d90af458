"""Slack's request signature as Slack documents it, the clicks read from Slack's payloads, the
assignment DM built with Block Kit, and the assignment e-mail."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from email import message_from_bytes, policy
from urllib.parse import urlencode

import orjson
from handoff_router.mail.messages import assignment_email
from handoff_router.slack.interactions import is_signed_by_slack, read_click
from handoff_router.slack.messages import assignment_message, decided_message, escalation_message

# Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = "1531420618"
BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
ROW = {
    "assignment_id": "a-1",
    "lead_id": "lead-1",
    "rep_id": "ana",
    "assigned_at": datetime(2026, 3, 2, 15, tzinfo=UTC),
    "sla_due_at": datetime(2026, 3, 2, 19, tzinfo=UTC),
    "explanation": {"rule_id": "na", "strategy": "round_robin", "summary": "rule na: team na chose ana"},
    "lead": {"lead_id": "lead-1", "email": "pat@acme.io", "first_name": "Pat", "title": "<b>CTO</b>",
             "company": {"name": "Acme", "employees": 500}, "country": "US", "score": 80},
}  # fmt: skip


def test_slacks_documented_example_signature_checks_out_within_five_minutes_only() -> None:
    now = int(TIMESTAMP) + 60
    assert is_signed_by_slack(SECRET, BODY, TIMESTAMP, SIGNATURE, now)
    assert not is_signed_by_slack(SECRET, BODY, TIMESTAMP, SIGNATURE, int(TIMESTAMP) + 301)
    assert not is_signed_by_slack(SECRET, BODY + b"x", TIMESTAMP, SIGNATURE, now)
    assert not is_signed_by_slack("other", BODY, TIMESTAMP, SIGNATURE, now)
    assert not is_signed_by_slack(SECRET, BODY, "not-a-number", SIGNATURE, now)
    assert not is_signed_by_slack(SECRET, BODY, None, SIGNATURE, now)
    computed = (
        "v0=" + hmac.new(SECRET.encode(), f"v0:{TIMESTAMP}:".encode() + BODY, hashlib.sha256).hexdigest()
    )
    assert computed == SIGNATURE


def test_the_dm_shows_the_lead_why_the_due_time_on_the_reps_clock_and_both_decisions() -> None:
    call = assignment_message(ROW, "U123", "America/New_York", ["not_icp", "other"], "http://r/inbox")
    assert call["method"] == "chat.postMessage"
    assert call["args"]["channel"] == "U123"
    text = orjson.dumps(call["args"]["blocks"]).decode()
    assert "Pat" in text
    assert "&lt;b&gt;CTO&lt;/b&gt;" in text
    assert "rule na: team na chose ana" in text
    assert "Mon 2 Mar 14:00 (America/New_York)" in text
    assert '"a-1|not_icp"' in text
    assert "a-1|other" not in text
    assert "http://r/inbox" in text


def test_a_click_is_read_from_slacks_block_actions_payload_and_the_update_drops_the_buttons() -> None:
    call = assignment_message(ROW, "U123", "UTC", ["not_icp"], "http://r/inbox")
    message = {"ts": "1.2", "blocks": call["args"]["blocks"]}
    payload = {
        "type": "block_actions",
        "user": {"id": "U123"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "D1"},
        "channel": {"id": "D1"},
        "message": message,
        "actions": [{"action_id": "handoff_reject", "selected_option": {"value": "a-1|not_icp"}}],
    }
    click = read_click(urlencode({"payload": orjson.dumps(payload).decode()}).encode())
    assert (click.action, click.assignment_id, click.reason, click.user_id) == (
        "reject",
        "a-1",
        "not_icp",
        "U123",
    )
    update = decided_message("D1", "1.2", click.blocks, "Rejected (not_icp) by <@U123>")
    assert update["method"] == "chat.update"
    assert not [block for block in update["args"]["blocks"] if block["type"] == "actions"]


def test_the_assignment_email_has_text_and_html_and_the_inbox_link() -> None:
    raw = assignment_email(ROW, "ana@x.io", "Handoff <h@x.io>", "Europe/Berlin", "http://r/inbox", "<m@x>")
    message = message_from_bytes(raw, policy=policy.default)
    assert message["To"] == "ana@x.io"
    assert "pat@acme.io" in message["Subject"]
    plain = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "http://r/inbox" in plain
    assert "Mon 2 Mar 20:00 (Europe/Berlin)" in plain
    assert "&lt;b&gt;CTO&lt;/b&gt;" in html
    assert "href='http://r/inbox'" in html


def test_an_escalation_and_a_parked_lead_reach_the_managers_channel_with_what_happened() -> None:
    data = {"lead_id": "lead-1", "rep_id": "ana", "level": "escalate", "overdue_seconds": 600,
            "summary": "parked: reassigned 2 time(s) for the SLA (limit 2)"}  # fmt: skip
    call = escalation_message(data, "C024BE91L", "U123")
    assert call["args"]["channel"] == "C024BE91L"
    assert "<@U123>" in call["args"]["text"]
    assert "10 min overdue" in call["args"]["text"]
    assert "parked: reassigned 2 time(s)" in call["args"]["text"]
