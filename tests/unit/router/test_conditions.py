"""Rule conditions over any lead field by dotted path."""

from __future__ import annotations

from typing import Any

import pytest
from handoff_router.routing.conditions import matches

LEAD: dict[str, Any] = {
    "country": "de",
    "region": "BY",
    "score": 71.5,
    "source": "Webinar",
    "company": {"employees": 1200, "industry": "Software"},
    "product_interest": ["routing", "sla"],
    "attributes": {"segment": "enterprise", "trial": True},
}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"country": ["DE", "AT"]}, True),
        ({"country": ["FR"]}, False),
        ({"country": "DE"}, True),
        ({"source": "webinar"}, True),
        ({"company.employees": {"gte": 1000}}, True),
        ({"company.employees": {"gte": 1000, "lt": 1200}}, False),
        ({"company.employees": {"gt": 1199, "lte": 1200}}, True),
        ({"score": {"gte": 70}}, True),
        ({"company.industry": {"in": ["software", "fintech"]}}, True),
        ({"attributes.segment": "enterprise"}, True),
        ({"attributes.trial": True}, True),
        ({"country": {"not": ["FR", "GB"]}}, True),
        ({"country": {"not": "DE"}}, False),
        ({"company.employees": {"not": {"lt": 500}}}, True),
        ({"product_interest": {"contains": "SLA"}}, True),
        ({"product_interest": ["analytics", "routing"]}, True),
        ({"product_interest": {"contains": "analytics"}}, False),
        ({"country": "DE", "company.employees": {"gte": 5000}}, False),
        ({"region": {"exists": True}}, True),
        ({"postal_code": {"exists": False}}, True),
        ({"source": {"contains": "BINAR"}}, True),
        ({"source": {"contains": "seminar"}}, False),
        ({"score": {"eq": 71.5}}, True),
        ({"score": 71.5}, True),
        ({"company.employees": 1200.0}, True),
        ({"company.employees": {"in": [100, 1200]}}, True),
        ({"country": {"in": ["DE"], "not": {"in": ["AT"]}}}, True),
        ({"country": {"not": {"not": "DE"}}}, True),
        ({"attributes.trial": {"not": False}}, True),
        ({"attributes.trial": "true"}, False),
        ({"company": {"exists": True}}, True),
    ],
)
def test_condition(when: dict[str, Any], expected: bool) -> None:
    assert matches(when, LEAD) is expected


@pytest.mark.parametrize(
    "when",
    [
        {"postal_code": ["80331"]},
        {"company.revenue": {"gte": 0}},
        {"attributes.tier": "gold"},
        {"country.code": "DE"},
    ],
)
def test_missing_field_never_matches_a_positive_test(when: dict[str, Any]) -> None:
    assert matches(when, LEAD) is False


def test_missing_field_satisfies_not() -> None:
    assert matches({"postal_code": {"not": ["80331"]}}, LEAD) is True


def test_strings_are_not_numbers() -> None:
    assert matches({"company.employees": {"gte": 10}}, {"company": {"employees": "1200"}}) is False
    assert matches({"score": 1}, {"score": True}) is False


def test_a_rule_without_conditions_in_a_when_holds_trivially() -> None:
    assert matches({}, LEAD) is True  # config validation refuses an empty when; matching stays total


def test_null_field_counts_as_missing() -> None:
    lead = {"region": None}
    assert matches({"region": {"exists": False}}, lead) is True
    assert matches({"region": {"not": "BY"}}, lead) is True
    assert matches({"region": ["BY"]}, lead) is False


def test_a_path_through_a_non_object_is_missing() -> None:
    assert matches({"company.employees": {"exists": False}}, {"company": "Acme"}) is True
    assert matches({"attributes.segment": "smb"}, {"attributes": ["smb"]}) is False


def test_lists_match_case_insensitively_and_numbers_exactly() -> None:
    assert matches({"country": ["de"]}, {"country": "DE"}) is True
    assert matches({"company.employees": [1200]}, {"company": {"employees": "1200"}}) is False
