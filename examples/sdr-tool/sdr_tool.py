"""A reference SDR tool: receives Handoff's callbacks, verifies them, shows the leads, accepts
or rejects them and qualifies accepted ones (SQL or disqualified) through the router's API.
Small enough to copy.

    HANDOFF_ROUTER_URL=http://127.0.0.1:8081 SDR_TOOL_REPS=reps.json \\
        uv run uvicorn sdr_tool:app --app-dir examples/sdr-tool --port 8099

``reps.json`` maps each rep (or manager) to the secret and token the admin issued:
``{"rep-ana": {"secret": "whsec_...", "token": "hrep_..."}, "mgr-bob": {"secret": "whsec_..."}}``.
Callbacks arrive at ``POST /hooks/{rep_id}``; the page at ``/`` lists what arrived.
"""

from __future__ import annotations

import html
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


def load_keys() -> dict[str, dict[str, str]]:
    """The secrets and tokens of the reps this tool serves (re-read on each call: rotation-friendly)."""
    path = os.environ.get("SDR_TOOL_REPS", "reps.json")
    return json.loads(Path(path).read_text()) if Path(path).exists() else {}


app = FastAPI(title="Reference SDR tool for Handoff")
ROUTER = os.environ.get("HANDOFF_ROUTER_URL", "http://127.0.0.1:8081")
# webhook-id -> what arrived; a retried callback has the same webhook-id, so it is kept once.
inbox: OrderedDict[str, dict[str, Any]] = OrderedDict()
down: set[str] = set()  # reps whose "tool" is switched off (for the demo)


@app.post("/hooks/{owner_id}", status_code=204)
async def hook(owner_id: str, request: Request) -> None:
    """Verify the Standard Webhooks signature, then keep the event (once per webhook-id)."""
    if owner_id in down:
        raise HTTPException(503, "this tool is down")
    keys = load_keys().get(owner_id)
    if keys is None:
        raise HTTPException(404, f"no rep {owner_id} here")
    body = await request.body()
    try:
        event = Webhook(keys["secret"]).verify(body, dict(request.headers))
    except WebhookVerificationError as error:
        raise HTTPException(401, f"bad signature: {error}") from None
    webhook_id = request.headers["webhook-id"]
    if webhook_id not in inbox:  # the same delivery again: already have it, answer 2xx again
        inbox[webhook_id] = {"owner": owner_id, "event": event, "decision": None}


@app.post("/tools/{owner_id}/down", status_code=204)
async def switch_off(owner_id: str) -> None:
    """Make this rep's hook answer 503 (to watch retries, the circuit and routing around them)."""
    down.add(owner_id)


@app.post("/tools/{owner_id}/up", status_code=204)
async def switch_on(owner_id: str) -> None:
    down.discard(owner_id)


# action -> the router's assignment call, its body, and what the page shows afterwards
DECISIONS: dict[str, tuple[str, dict[str, str] | None, str]] = {
    "accept": ("accept", None, "accepted"),
    "reject": ("reject", {"reason": ""}, "rejected"),
    "sql": ("qualify", {"outcome": "sql"}, "accepted, sql"),
    "disqualified": ("qualify", {"outcome": "disqualified", "reason": ""}, "accepted, disqualified"),
}


@app.post("/decide/{webhook_id}")
async def decide(webhook_id: str, action: str = Form(...), reason: str = Form("")) -> RedirectResponse:
    """Accept or reject the assignment of a received lead, then qualify an accepted one (``sql``
    or ``disqualified`` with a reason), with the rep's token."""
    item = inbox.get(webhook_id)
    if item is None:
        raise HTTPException(404, f"no callback {webhook_id} here")
    if action not in DECISIONS:
        raise HTTPException(422, f"action is one of {', '.join(DECISIONS)}")
    token = load_keys().get(item["owner"], {}).get("token")
    if token is None:
        raise HTTPException(
            409, f"no token for {item['owner']} in {os.environ.get('SDR_TOOL_REPS', 'reps.json')}"
        )
    data = item["event"]["data"]
    path, body, done = DECISIONS[action]
    if body is not None and "reason" in body:
        body = {**body, "reason": reason}
    async with httpx.AsyncClient(base_url=ROUTER, headers={"Authorization": f"Bearer {token}"}) as router:
        response = await router.post(f"/v1/assignments/{data['assignment_id']}/{path}", json=body)
    item["decision"] = done if response.status_code == 200 else f"{action}: {response.status_code}"
    return RedirectResponse("/", status_code=303)


def qualify_form(webhook_id: str) -> str:
    """After accepting: what the lead became (SAL -> SQL)."""
    return (
        f"accepted <form method=post action='/decide/{webhook_id}'>"
        "<button name=action value=sql>SQL</button> "
        "<select name=reason><option>no_budget</option><option>no_authority</option>"
        "<option>no_need</option><option>bad_timing</option><option>unresponsive</option>"
        "<option>chose_competitor</option></select> "
        "<button name=action value=disqualified>Disqualify</button></form>"
    )


@app.get("/api/inbox")
async def api_inbox() -> list[dict[str, Any]]:
    """What arrived, oldest first (for scripts)."""
    return [{"webhook_id": key, **value} for key, value in inbox.items()]


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    rows = []
    for webhook_id, item in reversed(inbox.items()):
        event, data = item["event"], item["event"]["data"]
        lead = data.get("lead", {})
        company = html.escape(str(lead.get("company", {}).get("name", "")))
        what = event["type"] if event["type"] != "lead.escalated" else f"escalated ({data['level']})"
        actions = (qualify_form(webhook_id) if item["decision"] == "accepted" else item["decision"]) or (
            f"<form method=post action='/decide/{webhook_id}'>"
            "<button name=action value=accept>Accept</button> "
            "<select name=reason><option>not_icp</option><option>wrong_persona</option>"
            "<option>no_intent</option></select> "
            "<button name=action value=reject>Reject</button></form>"
            if event["type"] == "lead.assigned"
            else ""
        )
        rows.append(
            f"<tr><td>{html.escape(item['owner'])}</td><td>{html.escape(what)}</td>"
            f"<td>{html.escape(data['lead_id'])}</td><td>{company}</td><td>{actions}</td></tr>"
        )
    return (
        "<html><head><title>SDR tool</title><meta http-equiv=refresh content=3></head><body>"
        f"<h1>Incoming leads</h1><p>Tools down: {', '.join(sorted(down)) or 'none'}</p>"
        "<table border=1 cellpadding=4><tr><th>for</th><th>event</th><th>lead</th><th>company</th>"
        f"<th>decide</th></tr>{''.join(rows)}</table></body></html>"
    )
