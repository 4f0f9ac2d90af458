"""What a log line or a dead letter's reason may say of a failure: no statement parameters,
no e-mail address, whatever key or exception carries them."""

from __future__ import annotations

import io
import json
import logging
from contextlib import redirect_stdout

import structlog
from handoff_shared.db import make_engine
from handoff_shared.kafka import handler_error_message
from handoff_shared.observability import configure_logging, hide_emails
from sqlalchemy.exc import DBAPIError

LEAD = {"email": "zelda.q@lead.example.org", "last_name": "Quimby"}


def test_database_errors_never_render_their_parameters() -> None:
    engine = make_engine("postgresql+asyncpg://u:p@127.0.0.1:1/d")
    assert engine.sync_engine.hide_parameters
    error = DBAPIError.instance(
        "INSERT INTO leads VALUES ($1)", [LEAD["email"]], ValueError("bad\nDETAIL: Key (email)=(x@y.org)"),
        Exception, hide_parameters=True,
    )  # fmt: skip
    assert LEAD["email"] not in str(error)


def test_a_dead_letter_reason_keeps_the_first_line_without_addresses() -> None:
    error = ValueError(f"row of {LEAD['email']} refused\nDETAIL: Key (last_name)=({LEAD['last_name']})")
    message = handler_error_message(error)
    assert message == "ValueError: row of [email] refused"


def test_logs_hide_email_addresses_in_any_value_and_in_exceptions() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        configure_logging("info")
        log = structlog.get_logger("test")
        log.info("lead.seen", contact=f"mail {LEAD['email']} now", company="Corp", note="call me")
        try:
            raise RuntimeError(f"failed for {LEAD['email']}")
        except RuntimeError:
            log.exception("batch.failed")
            logging.getLogger("handoff.tests.stdlib").exception("stdlib too")
    text = out.getvalue()
    assert LEAD["email"] not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["contact"] == "mail [email] now"
    assert (lines[0]["company"], lines[0]["note"]) == ("[redacted]", "[redacted]")
    assert "[email]" in lines[1]["exception"]
    assert "[email]" in lines[2]["exception"]
    assert hide_emails("no address here") == "no address here"
