"""One identity per person: the e-mail without case or +tag, and the E.164 phone."""

from __future__ import annotations

from handoff_router.routing.identity import e164, keys_of, person_key


def test_case_and_plus_tags_are_the_same_person() -> None:
    assert person_key("Jane+webinar@ACME.com") == person_key("jane@acme.com") == "jane@acme.com"


def test_not_an_address_has_no_person_key() -> None:
    assert person_key("nobody") is None
    assert person_key("+tag@acme.com") is None


def test_phones_are_read_in_the_leads_country_into_e164() -> None:
    assert e164("(415) 555-0132", "US") == "+14155550132"
    assert e164("+49 30 901820", None) == "+4930901820"
    assert e164("not a phone", "US") is None


def test_a_leads_keys_name_the_email_and_the_phone() -> None:
    keys = keys_of({"email": "Jane+x@Acme.com", "phone": "030 901820", "country": "DE"})
    assert keys.all() == ("email:jane@acme.com", "phone:+4930901820")
