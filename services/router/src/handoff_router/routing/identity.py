"""One identity per person (CONTRACT §11): the e-mail lower-cased with a ``+tag`` removed, and the
E.164 phone when there is one. Pure: phonenumbers' metadata ships with the package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers


@dataclass(frozen=True, slots=True)
class PersonKeys:
    """The keys that say two leads are the same person: ``person_key`` (the e-mail's) and the phone's."""

    person_key: str | None
    phone: str | None

    def all(self) -> tuple[str, ...]:
        """Every key, as stored: ``email:...`` and ``phone:+...``."""
        keys = []
        if self.person_key is not None:
            keys.append(f"email:{self.person_key}")
        if self.phone is not None:
            keys.append(f"phone:{self.phone}")
        return tuple(keys)


def person_key(email: str) -> str | None:
    """``Jane+webinar@ACME.com`` -> ``jane@acme.com``; None when it is not an address."""
    local, at, domain = email.strip().lower().rpartition("@")
    if not at or not local or not domain:
        return None
    local = local.split("+", 1)[0]
    return f"{local}@{domain.rstrip('.')}" if local else None


def e164(phone: str, country: str | None = None) -> str | None:
    """The phone number in E.164 (``+14155550100``), read in the lead's country when it has no
    ``+``; None when it is not a valid number."""
    try:
        number = phonenumbers.parse(phone, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def keys_of(lead: Mapping[str, Any]) -> PersonKeys:
    """The identity keys of a lead (``email``, ``phone`` and ``country`` of its MQL data)."""
    email, phone, country = lead.get("email"), lead.get("phone"), lead.get("country")
    return PersonKeys(
        person_key(email) if isinstance(email, str) else None,
        e164(phone, country if isinstance(country, str) else None)
        if isinstance(phone, str) and phone
        else None,
    )
