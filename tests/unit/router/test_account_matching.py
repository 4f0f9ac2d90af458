"""Lead-to-account matching in the routing core: domains, personal addresses, names, ambiguity."""

from __future__ import annotations

from typing import Any

import pytest
from handoff_router.routing.company_names import normalise_name
from handoff_router.routing.config import validate_config
from handoff_router.routing.matching import (
    AccountIndex,
    AccountRecord,
    host_of,
    match_account,
    registrable_domain,
)

from tests.unit.router.sample import config_data

CONFIG = validate_config(config_data())
BOOK = AccountIndex.build(
    [
        AccountRecord("acme", "Acme Corp.", ("acme.com", "acme-labs.io"), owner="ben", status="customer"),
        AccountRecord("globex", "Globex GmbH", ("globex.co.uk",), owner="ana"),
        AccountRecord("vandelay-s", "Vandelay Ones, Inc.", ()),
        AccountRecord("vandelay-x", "Vandelay Onex LLC", ()),
        AccountRecord("jj", "Johnson & Johnson", ()),
    ],
    version=1,
)


def lead(email: str, **company: Any) -> dict[str, Any]:
    return {"lead_id": "l1", "email": email, "company": company}


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("ACME Corporation", "acme"),
        ("Acme Corp.", "acme"),
        ("acme, inc", "acme"),
        ("Globex GmbH", "globex"),
        ("Banco Santander S.A.", "banco santander"),
        ("Widgets Ltd", "widgets"),
        ("Johnson and Johnson", "johnson johnson"),
        ("Johnson & Johnson", "johnson johnson"),
        ("Müller-Lüdenscheid AG", "mullerludenscheid"),
    ],
)
def test_company_names_lose_legal_suffixes_case_punctuation_and_ampersands(name: str, normal: str) -> None:
    assert normalise_name(name) == normal


def test_registrable_domains_come_from_the_bundled_public_suffix_list() -> None:
    assert registrable_domain("eu.sales.globex.co.uk") == "globex.co.uk"
    assert registrable_domain("acme.com") == "acme.com"
    assert host_of("https://www.Acme.com/about?x=1") == "acme.com"


def test_a_subdomain_of_an_accounts_domain_matches_it() -> None:
    match = match_account(lead("pat@eu.acme.com", domain="eu.acme.com"), CONFIG, BOOK)
    assert (match.account_id, match.by, match.score) == ("acme", "domain", 1.0)
    assert match.owner == "ben"


def test_the_email_domain_matches_when_the_company_has_none() -> None:
    match = match_account(lead("pat@uk.globex.co.uk", name="Whatever"), CONFIG, BOOK)
    assert (match.account_id, match.by) == ("globex", "domain")


def test_a_public_suffix_alone_never_matches() -> None:
    book = AccountIndex.build([AccountRecord("x", "X", ("co.uk",))])
    assert match_account(lead("pat@globex.co.uk"), CONFIG, book).account_id is None


def test_a_personal_address_matches_by_company_name_not_by_domain() -> None:
    match = match_account(lead("bob@gmail.com", name="ACME Corporation"), CONFIG, BOOK)
    assert (match.account_id, match.by, match.score) == ("acme", "name", 1.0)


def test_a_personal_address_at_an_unknown_company_matches_nothing_and_says_why() -> None:
    match = match_account(lead("carol@gmail.com", name="Unknown Widgets"), CONFIG, BOOK)
    assert match.account_id is None
    assert "gmail.com is a personal e-mail domain" in match.note


def test_a_near_name_above_the_threshold_matches_with_its_score() -> None:
    match = match_account(lead("x@example.org", name="Globexx"), CONFIG, BOOK)
    assert (match.account_id, match.by) == ("globex", "name")
    assert match.score is not None
    assert 0.9 <= match.score < 1


def test_two_candidates_within_two_hundredths_are_not_matched_and_the_note_says_so() -> None:
    match = match_account(lead("x@example.org", name="Vandelay One"), CONFIG, BOOK)
    assert match.account_id is None
    assert "ambiguous" in match.note
    assert "vandelay-s" in match.note
    assert "vandelay-x" in match.note


def test_two_accounts_of_the_same_name_are_ambiguous() -> None:
    book = AccountIndex.build([AccountRecord("a", "Same Name Inc"), AccountRecord("b", "Same Name LLC")])
    match = match_account(lead("x@example.org", name="same name"), CONFIG, book)
    assert match.account_id is None
    assert "ambiguous" in match.note


def test_below_the_threshold_nothing_matches() -> None:
    strict = validate_config(config_data(matching={"fuzzy_name_threshold": 0.99}))
    assert match_account(lead("x@example.org", name="Globexx"), strict, BOOK).account_id is None


def test_named_accounts_of_the_config_come_first() -> None:
    book = AccountIndex.build([AccountRecord("other", "Other", ("acme.io",), owner="ana")])
    match = match_account(lead("pat@acme.io"), CONFIG, book)
    assert (match.account_id, match.by, match.owner) == ("acme.io", "named_account", "ben")
