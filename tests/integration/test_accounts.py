"""Accounts and people (CONTRACT §11) through the running router: the book over HTTP, leads matched
to accounts by domain and by name, the owner and the cover, and a person who comes back."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.callback_receiver import Receiver
from tests.stack import TopicWatcher, eventually, mql_data, structured_event, unique

pytestmark = pytest.mark.integration


class Book:
    """One test's reps, config and accounts: an owner with a cover, a rotation team, and a rule
    sending customers and open opportunities to the account owner."""

    def __init__(self, receiver: Receiver) -> None:
        self.tag = unique("ac").replace("-", "")
        self.receiver = receiver
        self.owner, self.cover, self.sdr = f"{self.tag}-owner", f"{self.tag}-cover", f"{self.tag}-sdr"
        self.domain = f"{self.tag}.com"

    def config(self) -> dict[str, Any]:
        def rep(rep_id: str, **extra: Any) -> dict[str, Any]:
            return {
                "id": rep_id,
                "email": f"{rep_id}@example.com",
                "callback_url": self.receiver.url(rep_id),
                **extra,
            }

        return {
            "reps": [rep(self.owner, cover=self.cover), rep(self.cover), rep(self.sdr)],
            "teams": [
                {"id": f"{self.tag}-sdrs", "members": [self.sdr]},
                {"id": f"{self.tag}-ae", "members": [self.owner, self.cover]},
            ],
            "rules": [
                {
                    "id": "customers-to-owner",
                    "when": {"account.status": ["customer", "open_opportunity"]},
                    "account_owner": True,
                },
                {"id": "everyone", "when": {"country": {"exists": True}}, "team": f"{self.tag}-sdrs"},
            ],
            "fallback_team": f"{self.tag}-sdrs",
        }

    async def apply(self, admin: httpx.AsyncClient) -> None:
        response = await admin.put(
            "/v1/routing-config",
            content=yaml.safe_dump(self.config()),
            headers={"Content-Type": "application/yaml"},
        )
        assert response.status_code == 200, response.text
        for rep_id in (self.owner, self.cover):
            issued = await admin.post(f"/v1/reps/{rep_id}/callback-secret")
            assert issued.status_code in (200, 201), issued.text
            self.receiver.trust(rep_id, issued.json()["secret"])
        accounts = [
            {
                "id": f"{self.tag}-acme",
                "name": f"Acme {self.tag} Corp.",
                "domains": [self.domain, f"{self.tag}-acme.io"],
                "owner": self.owner,
                "status": "customer",
                "tier": "enterprise",
            }
        ]
        response = await admin.patch(
            "/v1/accounts",
            content=b"\n".join(orjson.dumps(account) for account in accounts),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1


async def _send(producer: AIOKafkaProducer, **fields: Any) -> str:
    data = mql_data(**fields)
    await producer.send_and_wait("lead.mql-created", structured_event(data), key=data["lead_id"].encode())
    return str(data["lead_id"])


async def _assignment(assigned: TopicWatcher, lead_id: str) -> dict[str, Any]:
    (data,) = await assigned.events_for([lead_id])
    return data


async def test_a_customers_contact_from_a_subdomain_goes_to_the_account_owner(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver, assigned: TopicWatcher
) -> None:
    book = Book(receiver)
    await book.apply(admin)

    lead_id = await _send(
        producer, email=f"pat@eu.{book.domain}", company={"name": "Someone", "domain": f"eu.{book.domain}"}
    )

    data = await _assignment(assigned, lead_id)
    assert data["rep_id"] == book.owner
    explanation = data["explanation"]
    assert explanation["match"]["account_id"] == f"{book.tag}-acme"
    assert explanation["match"]["by"] == "domain"
    assert explanation["matched_by"] == "account_owner"
    assert f"eu.{book.domain} belongs to account {book.tag}-acme" in explanation["summary"]
    assert explanation["identity"]["person_key"] == f"pat@eu.{book.domain}"
    load = {row["rep_id"]: row for row in (await admin.get("/v1/reps/load")).json()}
    assert (load[book.owner]["open"], load[book.owner]["open_by_account"]) == (1, 1)


async def test_a_personal_address_matches_by_company_name_and_an_unknown_company_matches_nothing(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver, assigned: TopicWatcher
) -> None:
    book = Book(receiver)
    await book.apply(admin)

    bob = await _send(
        producer, email=f"bob.{book.tag}@gmail.com", company={"name": f"ACME {book.tag} Corporation"}
    )
    carol = await _send(
        producer, email=f"carol.{book.tag}@gmail.com", company={"name": f"Nowhere {book.tag} Ltd"}
    )

    bob_data = await _assignment(assigned, bob)
    assert bob_data["rep_id"] == book.owner
    assert bob_data["explanation"]["match"]["by"] == "name"
    assert bob_data["explanation"]["match"]["score"] >= 0.9
    carol_data = await _assignment(assigned, carol)
    assert carol_data["rep_id"] == book.sdr
    assert carol_data["explanation"]["match"]["account_id"] is None
    assert "gmail.com is a personal e-mail domain" in carol_data["explanation"]["summary"]


async def test_the_same_person_again_gets_no_second_assignment_and_the_rep_hears_lead_reengaged(
    admin: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    receiver: Receiver,
    assigned: TopicWatcher,
    engine: AsyncEngine,
) -> None:
    book = Book(receiver)
    await book.apply(admin)
    first = await _send(
        producer, email=f"jane@{book.domain}", company={"name": "Acme", "domain": book.domain}
    )
    first_data = await _assignment(assigned, first)

    again = mql_data(email=f"Jane+webinar@{book.domain.upper()}", company={"name": "Acme"})
    await producer.send_and_wait("lead.mql-created", structured_event(again), key=again["lead_id"].encode())

    def reengaged() -> list[Any]:
        return [call for call in receiver.delivered(book.owner) if call.event["type"] == "lead.reengaged"]

    (call,) = await eventually(reengaged, timeout=20, what="the lead.reengaged callback")
    assert call.verified is True
    data = call.event["data"]
    assert (data["assignment_id"], data["lead_id"], data["rep_id"]) == (
        first_data["assignment_id"],
        first,
        book.owner,
    )
    assert data["mql"]["lead_id"] == again["lead_id"]
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM router.assignments WHERE lead_id = :lead"), {"lead": again["lead_id"]}
        )
    assert count == 0
    preview = await admin.post("/v1/route/preview", json=again)
    assert preview.status_code == 200, preview.text
    identity = preview.json()["explanation"]["identity"]
    assert identity == {
        "person_key": f"jane@{book.domain}",
        "existing_assignment_id": first_data["assignment_id"],
    }


async def test_an_owner_who_is_away_sends_the_lead_to_their_cover(
    admin: httpx.AsyncClient, producer: AIOKafkaProducer, receiver: Receiver, assigned: TopicWatcher
) -> None:
    book = Book(receiver)
    await book.apply(admin)
    response = await admin.put(f"/v1/reps/{book.owner}/availability", json={"available": False})
    assert response.status_code == 200, response.text

    lead_id = await _send(producer, email=f"sam@{book.tag}-acme.io", company={"name": "Acme"})

    data = await _assignment(assigned, lead_id)
    assert data["rep_id"] == book.cover
    explanation = data["explanation"]
    assert explanation["matched_by"] == "cover"
    assert {"rep_id": book.owner, "reason": "unavailable"} in explanation["skipped"]
    assert f"cover of owner {book.owner}" in explanation["summary"]


async def test_a_book_with_shared_domains_or_duplicate_ids_is_refused_listing_every_conflict(
    admin: httpx.AsyncClient, receiver: Receiver
) -> None:
    book = Book(receiver)
    await book.apply(admin)
    csv = (
        "id,name,domains,owner,status\n"
        f"{book.tag}-a,Alpha,{book.tag}-x.com,{book.owner},customer\n"
        f"{book.tag}-b,Beta,{book.tag}-x.com,{book.owner},prospect\n"
        f"{book.tag}-a,Alpha again,{book.tag}-y.com,,\n"
        f"{book.tag}-c,Gamma,{book.domain},,\n"
    )
    response = await admin.patch("/v1/accounts", content=csv, headers={"Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    conflicts = response.json()["conflicts"]
    assert {
        "account_id": f"{book.tag}-a",
        "lines": [2, 4],
        "problem": f"duplicate id '{book.tag}-a'",
    } in conflicts
    domains = {conflict.get("domain"): conflict.get("account_ids") for conflict in conflicts}
    assert domains[f"{book.tag}-x.com"] == [f"{book.tag}-a", f"{book.tag}-b"]
    assert domains[book.domain] == sorted([f"{book.tag}-acme", f"{book.tag}-c"])
    assert (await admin.get(f"/v1/accounts/{book.tag}-b")).status_code == 404
    assert (await admin.get(f"/v1/accounts/{book.tag}-acme")).json()["domains"] == [
        book.domain,
        f"{book.tag}-acme.io",
    ]


async def test_invalid_rows_are_refused_with_their_line_and_owners_who_are_not_reps_reported(
    admin: httpx.AsyncClient, receiver: Receiver
) -> None:
    book = Book(receiver)
    await book.apply(admin)
    csv = (
        "Account ID,Account Name,Website,Account Owner,Type,Industry\n"
        f"{book.tag}-sf1,Salesforce One,https://www.{book.tag}-sf1.com/,"
        f"{book.owner}@example.com,Customer - Direct,Retail\n"
        f"{book.tag}-sf2,Free Mail Inc,gmail.com,{book.owner},Prospect,\n"
        f"{book.tag}-sf3,,{book.tag}-sf3.com,,Prospect,\n"
        f"{book.tag}-sf4,Stranger Owned,{book.tag}-sf4.com,Nobody Here,Prospect,\n"
    )
    response = await admin.patch(
        "/v1/accounts", params={"preset": "salesforce"}, content=csv, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["accepted"]) == (4, 2)
    refused = {item["line"]: item["problems"] for item in report["refused"]}
    assert "gmail.com is a personal e-mail domain" in refused[3][0]
    assert refused[4] == ["name is missing"]
    assert report["owners_not_reps"] == [{"line": 5, "account_id": f"{book.tag}-sf4", "owner": "Nobody Here"}]
    account = (await admin.get(f"/v1/accounts/{book.tag}-sf1")).json()
    assert (account["owner"], account["status"], account["domains"]) == (
        book.owner,
        "customer",
        [f"{book.tag}-sf1.com"],
    )
    assert account["attributes"] == {"industry": "Retail"}
    assert (await admin.get(f"/v1/accounts/{book.tag}-sf2")).status_code == 404
