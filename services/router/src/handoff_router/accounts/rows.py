"""One row of an account book: checked and put in the stored form, or refused with every problem."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handoff_router.routing.email_domains import is_personal_domain
from handoff_router.routing.matching import AccountRecord, host_of, registrable_domain

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}")
_CODE = re.compile(r"[^a-z0-9]+")
# What CRMs call the two statuses the contract names.
_STATUSES = {
    "opportunity": "open_opportunity",
    "open_opportunity": "open_opportunity",
    "salesqualifiedlead": "open_opportunity",
    "customer": "customer",
    "prospect": "prospect",
}
MAX_DOMAINS = 100
MAX_ATTRIBUTES = 100


@dataclass(frozen=True)
class OwnerNames:
    """The reps of the active config an export may name an owner by: id, e-mail or name."""

    by_key: Mapping[str, str]

    @classmethod
    def of(cls, reps: Any) -> OwnerNames:
        keys: dict[str, str] = {}
        for rep in reps:
            for key in (rep.name, rep.email, rep.id):
                if key:
                    keys[key.strip().casefold()] = rep.id
        return cls(keys)

    def resolve(self, owner: str) -> str | None:
        """The rep id ``owner`` names, or None when it names no rep."""
        return self.by_key.get(owner.strip().casefold())


def checked(row: Any) -> tuple[AccountRecord | None, list[str]]:
    """The account of a row, or None and every problem found."""
    if not isinstance(row, Mapping):
        return None, ["an account must be an object with id and name"]
    problems: list[str] = []
    account_id = _text(row.get("id"), "id", problems, required=True)
    if account_id is not None and not _ID.fullmatch(account_id):
        problems.append(f"id {account_id!r}: letters, digits and . _ : @ / - only, at most 200")
    name = _text(row.get("name"), "name", problems, required=True)
    domains = _domains(row.get("domains", row.get("domain")), problems)
    owner = _text(row.get("owner"), "owner", problems)
    status = _text(row.get("status"), "status", problems)
    tier = _text(row.get("tier"), "tier", problems)
    attributes = row.get("attributes") or {}
    if not isinstance(attributes, Mapping) or len(attributes) > MAX_ATTRIBUTES:
        problems.append(f"attributes must be an object of at most {MAX_ATTRIBUTES} fields")
        attributes = {}
    unknown = sorted(set(row) - {"id", "name", "domains", "domain", "owner", "status", "tier", "attributes"})
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)} (put extra fields under attributes)")
    if problems or account_id is None or name is None:
        return None, problems
    return AccountRecord(
        id=account_id,
        name=name,
        domains=domains,
        owner=owner,
        status=status_code(status) if status else None,
        tier=tier,
        attributes=dict(attributes),
    ), []


def status_code(status: str) -> str:
    """``Customer - Direct`` -> ``customer``; ``Opportunity`` -> ``open_opportunity``; else a code."""
    code = _CODE.sub("_", status.casefold()).strip("_")
    if code.startswith("customer"):
        return "customer"
    return _STATUSES.get(code.replace("_", ""), _STATUSES.get(code, code))


def _text(value: Any, field: str, problems: list[str], *, required: bool = False) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(f"{field} is missing")
        return None
    if not isinstance(value, str):
        problems.append(f"{field} must be text")
        return None
    if len(value) > 1000:
        problems.append(f"{field} is longer than 1000 characters")
        return None
    return value.strip()


def _domains(value: Any, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.replace(";", " ").replace(",", " ").split()
    if not isinstance(value, list) or len(value) > MAX_DOMAINS:
        problems.append(f"domains must be a list of at most {MAX_DOMAINS} domains")
        return ()
    found: list[str] = []
    for item in value:
        host = host_of(item) if isinstance(item, str) else None
        if host is None or not _DOMAIN.fullmatch(host) or registrable_domain(host) is None:
            problems.append(f"{item!r} is not a domain (e.g. acme.com)")
        elif is_personal_domain(host):
            problems.append(
                f"{host} is a personal e-mail domain: anyone can have an address there, so it cannot"
                " identify an account"
            )
        elif host not in found:
            found.append(host)
    return tuple(found)
