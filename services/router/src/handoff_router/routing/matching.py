"""Lead-to-account matching (CONTRACT §11), given an index of the account book built outside.

In order: the routing config's named accounts; then the book by the registrable domain of
``company.domain``, else of the e-mail (a subdomain matches its account, a personal e-mail
domain never matches by domain); then by company name, normalised (``company_names``) and
compared with rapidfuzz's ``ratio``, at least ``matching.fuzzy_name_threshold``. When the
runner-up is within ``AMBIGUOUS_WITHIN`` of the best (or two accounts share the best name),
nothing is matched and the note says so. Registrable domains come from the Public Suffix
List snapshot bundled with tldextract: nothing is fetched. Pure.

Names are blocked by their words and first letters, so a lead is compared with the few
hundred names that could reach the threshold, not with the whole book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

import tldextract
from rapidfuzz import fuzz, process

from handoff_router.routing.company_names import normalise_name
from handoff_router.routing.config import RoutingConfig
from handoff_router.routing.email_domains import email_domain, is_personal_domain

MatchedBy = Literal["named_account", "domain", "name"]
AMBIGUOUS_WITHIN = 0.02
MAX_CANDIDATES = 1500  # names compared per lead at most, smallest blocks first
_PREFIX = 3
_EMPTY: Mapping[str, Any] = MappingProxyType({})
# suffix_list_urls=() and no cache: the bundled snapshot only, never the network or the disk.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account of the book, as routing sees it."""

    id: str
    name: str
    domains: tuple[str, ...] = ()
    owner: str | None = None
    status: str | None = None
    tier: str | None = None
    attributes: Mapping[str, Any] | None = None

    def fields(self) -> dict[str, Any]:
        """The account as rules read it (``account.status``, ``account.attributes.segment``...)."""
        return {
            "id": self.id,
            "name": self.name,
            "domains": list(self.domains),
            "owner": self.owner,
            "status": self.status,
            "tier": self.tier,
            "attributes": dict(self.attributes or {}),
        }


@dataclass(frozen=True, slots=True)
class AccountMatch:
    """The account a lead belongs to (None: none), how it was found, and why."""

    account_id: str | None
    by: MatchedBy | None
    score: float | None
    note: str
    account: AccountRecord | None = None
    owner: str | None = None  # the named account's owner, or the book account's

    def to_dict(self) -> dict[str, Any]:
        """``explanation.match``: {account_id, by, score} and the note."""
        return {"account_id": self.account_id, "by": self.by, "score": self.score, "note": self.note}


NO_MATCH = AccountMatch(None, None, None, "no account matched")


@dataclass
class AccountIndex:
    """The book in memory: by id, by domain, by normalised name and name blocks."""

    version: int = 0
    by_id: dict[str, AccountRecord] = field(default_factory=dict)
    by_domain: dict[str, str] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)
    blocks: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, accounts: Iterable[AccountRecord], version: int = 0) -> AccountIndex:
        """Index ``accounts`` (the book was checked for shared domains when it was written)."""
        index = cls(version)
        for account in accounts:
            index.add(account)
        return index

    def add(self, account: AccountRecord) -> None:
        """Put one account in (replacing one of the same id is not supported: rebuild instead)."""
        self.by_id[account.id] = account
        for domain in account.domains:
            self.by_domain.setdefault(domain, account.id)
        name = normalise_name(account.name)
        if not name:
            return
        ids = self.by_name.setdefault(name, [])
        if not ids:
            for key in _block_keys(name):
                self.blocks.setdefault(key, []).append(name)
        ids.append(account.id)

    def __len__(self) -> int:
        return len(self.by_id)


EMPTY_INDEX = AccountIndex()


def host_of(text: str) -> str | None:
    """The lower-cased host of a domain or URL (``https://www.Acme.com/x`` -> ``acme.com``)."""
    host = text.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    host = host.strip(".")
    host = host.removeprefix("www.")
    return host if "." in host else None


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str | None:
    """The domain its owner registered (``eu.acme.co.uk`` -> ``acme.co.uk``), per the bundled PSL."""
    parts = _EXTRACT(host)
    return parts.top_domain_under_public_suffix or None


def match_account(lead: Mapping[str, Any], config: RoutingConfig, index: AccountIndex) -> AccountMatch:
    """The account ``lead`` belongs to, in the contract's order."""
    company = lead.get("company")
    company = company if isinstance(company, Mapping) else _EMPTY
    company_domain = company.get("domain")
    email = lead.get("email")
    hosts = [
        host
        for host in (
            host_of(company_domain) if isinstance(company_domain, str) else None,
            email_domain(email) if isinstance(email, str) else None,
        )
        if host is not None
    ]
    for host in hosts:
        named = config.account_for(host)
        if named is not None:
            note = f"{host} is named account {named.domain} of the routing config"
            return AccountMatch(named.domain, "named_account", 1.0, note, owner=named.owner)
    if not len(index):
        return NO_MATCH
    personal = [host for host in hosts if is_personal_domain(host)]
    for host in hosts:
        if host not in personal:
            found = _by_domain(host, index)
            if found is not None:
                account = index.by_id[found]
                note = f"{host} belongs to account {account.id} by domain"
                return AccountMatch(account.id, "domain", 1.0, note, account, account.owner)
    name = company.get("name")
    by_name = (
        _by_name(name, config.matching_policy.fuzzy_name_threshold, index) if isinstance(name, str) else None
    )
    if by_name is not None:
        return by_name
    if personal:
        return AccountMatch(
            None, None, None, f"{personal[0]} is a personal e-mail domain; no account by name"
        )
    return NO_MATCH


def _by_domain(host: str, index: AccountIndex) -> str | None:
    registrable = registrable_domain(host)
    if registrable is None:
        return None
    labels = host.split(".")
    stop = len(registrable.split("."))
    for start in range(len(labels) - stop + 1):  # eu.sales.acme.com, sales.acme.com, acme.com
        found = index.by_domain.get(".".join(labels[start:]))
        if found is not None:
            return found
    return None


def _by_name(name: str, threshold: float, index: AccountIndex) -> AccountMatch | None:
    wanted = normalise_name(name)
    if not wanted:
        return None
    exact = index.by_name.get(wanted)
    if exact is not None and len(exact) > 1:
        return _ambiguous(name, [(exact[0], 1.0), (exact[1], 1.0)])
    candidates = _candidates(wanted, index)
    cutoff = max(threshold - AMBIGUOUS_WITHIN, 0.0) * 100
    best = process.extract(wanted, candidates, scorer=fuzz.ratio, score_cutoff=cutoff, limit=2)
    scored = [(index.by_name[found][0], score / 100) for found, score, _ in best]
    if exact is not None:
        scored = [(exact[0], 1.0), *[(i, s) for i, s in scored if i != exact[0]]][:2]
    if not scored or scored[0][1] < threshold:
        return None
    if len(scored) > 1 and scored[0][1] - scored[1][1] <= AMBIGUOUS_WITHIN:
        return _ambiguous(name, scored)
    account = index.by_id[scored[0][0]]
    score = round(scored[0][1], 4)
    note = f"company name {name!r} matches account {account.id} ({account.name!r}) at {score}"
    return AccountMatch(account.id, "name", score, note, account, account.owner)


def _ambiguous(name: str, scored: list[tuple[str, float]]) -> AccountMatch:
    (first, one), (second, two) = scored[0], scored[1]
    note = (
        f"company name {name!r} is ambiguous: accounts {first} ({one:.3f}) and {second} ({two:.3f})"
        f" are within {AMBIGUOUS_WITHIN} of each other, so neither is matched"
    )
    return AccountMatch(None, None, round(one, 4), note)


def _block_keys(name: str) -> set[str]:
    return {word for word in name.split(" ") if len(word) > 1} | {"^" + name.replace(" ", "")[:_PREFIX]}


def _candidates(name: str, index: AccountIndex) -> list[str]:
    blocks = sorted((block for key in _block_keys(name) if (block := index.blocks.get(key))), key=len)
    if not blocks:
        return []
    if len(blocks) == 1:
        return blocks[0][:MAX_CANDIDATES]
    seen: dict[str, None] = {}
    for block in blocks:
        if seen and len(seen) + len(block) > MAX_CANDIDATES:
            break
        seen.update(dict.fromkeys(block))
    return list(seen)
