"""The account book's tables, and the people of each assignment (CONTRACT §11)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from handoff_router.metadata import metadata

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("name", Text, nullable=False),
    Column("domains", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("owner", String(200), nullable=True),
    Column("status", String(100), nullable=True),
    Column("tier", String(100), nullable=True),
    Column("attributes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("accounts_by_owner", accounts.c.owner)

# One row: the book's version, raised by every change, so each process knows when the index it
# holds in memory is stale.
account_book = Table(
    "account_book",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="0"),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Who each assignment was for: the person's keys (``email:...``, ``phone:+...``) and the account.
lead_people = Table(
    "lead_people",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("lead_id", String(200), nullable=False),
    Column("person_keys", ARRAY(Text), nullable=False),
    Column("account_id", String(200), nullable=True),
    Column("rep_id", String(200), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
)
Index("lead_people_by_person", lead_people.c.person_keys, postgresql_using="gin")
Index("lead_people_by_account", lead_people.c.account_id, lead_people.c.assigned_at)
