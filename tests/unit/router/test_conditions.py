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
