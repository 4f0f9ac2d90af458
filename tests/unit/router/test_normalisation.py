"""Normalisation of MQL data (CONTRACT §10): countries, regions, amounts, e-mail domains."""

from __future__ import annotations

from typing import Any

import pytest
from handoff_router.routing.normalisation import (
    as_count,
    country_code,
    normalise_mql,
    parse_quantity,
    region_code,
)
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1,200", 1200),
        ("5k", 5000),
        ("5K", 5000),
        ("25 million", 25_000_000),
        ("$2.5M", 2_500_000),
        ("1.5bn", 1_500_000_000),
        ("51-200", 51),
        ("1,000 - 5,000", 1000),
        ("10k to 50k", 10_000),
        ("10,001+", 10_001),
        ("EUR 3 million", 3_000_000),
        ("42", 42),
        ("0.5", 0.5),
    ],
)
def test_amounts_people_write_become_numbers(text: str, number: float) -> None:
    assert parse_quantity(text) == number


@pytest.mark.parametrize("text", ["", "abc", "five", "1e400", "12 apples", "200-51", "1,2,3", "-", "k"])
def test_what_is_not_an_amount_is_none(text: str) -> None:
    assert parse_quantity(text) is None


@given(st.integers(min_value=0, max_value=10**12))
def test_any_integer_written_with_thousands_separators_reads_back(number: int) -> None:
    assert parse_quantity(f"{number:,}") == number
    assert parse_quantity(str(number)) == number


@given(
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from([("k", 10**3), ("m", 10**6), (" million", 10**6)]),
)
def test_a_scaled_integer_is_the_integer_times_its_scale(number: int, scale: tuple[str, int]) -> None:
    suffix, factor = scale
    assert parse_quantity(f"{number}{suffix}") == number * factor


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_a_range_counts_as_its_lower_bound(low: int, high: int) -> None:
    expected = low if low <= high else None
    assert parse_quantity(f"{low:,}-{high:,}") == expected


@given(st.text(max_size=40))
def test_parsing_any_text_never_raises_and_is_finite(text: str) -> None:
    number = parse_quantity(text)
    assert number is None or (number == number and abs(number) < float("inf"))


def test_employee_counts_are_whole_and_in_range() -> None:
    assert as_count("1,200") == 1200
    assert as_count("2.5k") == 2500
    assert as_count("99999999999999999999") == "99999999999999999999"  # left for validation to refuse
    assert as_count(True) is True


@pytest.mark.parametrize(
    ("text", "code"),
    [("Germany", "DE"), ("DEU", "DE"), ("de", "DE"), ("United States of America", "US"), ("USA", "US"),
     ("UK", "GB"), ("Deutschland", "DE"), ("Allemagne", "DE"), ("Nowhere", None)],
)  # fmt: skip
def test_country_names_and_alpha3_become_alpha2(text: str, code: str | None) -> None:
    assert country_code(text) == code


@pytest.mark.parametrize(
    ("text", "country", "code"),
    [("California", "US", "US-CA"), ("CA", "US", "US-CA"), ("US-CA", "US", "US-CA"),
     ("Bavaria", "DE", "DE-BY"), ("Bayern", "DE", "DE-BY"), ("BY", "DE", "DE-BY"),
     ("Ontario", "CA", "CA-ON"), ("Atlantis", "US", None),
     ("California", None, None)],
)  # fmt: skip
def test_region_names_become_iso_3166_2(text: str, country: str | None, code: str | None) -> None:
    assert region_code(text, country) == code


def test_a_lead_is_normalised_and_keeps_what_the_tool_sent() -> None:
    lead = normalise_mql(
        {
            "lead_id": "l1",
            "email": "Ana@Acme.IO",
            "country": "Germany",
            "region": "Bavaria",
            "company": {"employees": "1,200", "annual_revenue": "25 million"},
            "attributes": {"segment": "smb"},
        }
    )
    assert lead["email"] == "Ana@acme.io"
    assert lead["country"] == "DE"
    assert lead["region"] == "DE-BY"
    assert lead["company"] == {"employees": 1200, "annual_revenue": 25_000_000, "domain": "acme.io"}
    assert lead["attributes"]["segment"] == "smb"
    assert lead["attributes"]["original"] == {
        "email": "Ana@Acme.IO",
        "country": "Germany",
        "region": "Bavaria",
        "company": {"employees": "1,200", "annual_revenue": "25 million"},
    }
    assert "personal_email" not in lead["attributes"]


def test_a_personal_email_gives_no_company_domain() -> None:
    lead = normalise_mql({"lead_id": "l2", "email": "someone@Gmail.com"})
    assert "company" not in lead
    assert lead["attributes"]["personal_email"] is True


def test_a_company_domain_given_is_kept_lower_cased() -> None:
    lead = normalise_mql({"lead_id": "l3", "email": "a@gmail.com", "company": {"domain": "Acme.IO"}})
    assert lead["company"]["domain"] == "acme.io"


def test_data_already_normal_is_unchanged() -> None:
    lead = {"lead_id": "l4", "email": "a@acme.io", "country": "US", "region": "US-CA", "score": 42,
            "company": {"domain": "acme.io", "employees": 10}}  # fmt: skip
    assert normalise_mql(lead) == lead


leads = st.fixed_dictionaries(
    {"lead_id": st.just("x"), "email": st.sampled_from(["A@Acme.IO", "b@gmail.com", "c@x.de"])},
    optional={
        "country": st.sampled_from(["Germany", "DEU", "us", "France", "Atlantis", "UK"]),
        "region": st.sampled_from(["Bavaria", "CA", "Texas", "nowhere"]),
        "score": st.one_of(st.integers(0, 100), st.sampled_from(["42", "1,5", "7k"])),
        "company": st.fixed_dictionaries(
            {},
            optional={
                "employees": st.sampled_from(["1,200", "5k", "51-200", 7, "many"]),
                "annual_revenue": st.sampled_from(["25 million", "$2.5M", 1000.5]),
                "domain": st.sampled_from(["Acme.IO", "acme.io"]),
            },
        ),
    },
)


@given(leads)
def test_normalising_twice_changes_nothing_more(lead: dict[str, Any]) -> None:
    once = normalise_mql(lead)
    assert normalise_mql(once) == once
