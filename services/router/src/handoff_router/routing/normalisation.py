"""Normalising an MQL's data before routing (CONTRACT §10), whichever way it came in.

- ``country``: names ("Germany", "United States of America") and alpha-3 codes ("DEU") become
  ISO 3166-1 alpha-2 ("DE"), from pycountry's tables;
- ``region``: a subdivision's name ("California", "Bavaria") or its short code ("CA" with
  country US) becomes its ISO 3166-2 code ("US-CA"), when the country is known;
- ``company.employees`` and ``company.annual_revenue`` (and ``score``): "1,200", "5k",
  "25 million", "$2.5M", "51-200" (a range counts as its lower bound, as a bucket's name
  does) become numbers;
- the e-mail's domain is lower-cased; ``company.domain`` is taken from it when missing, unless
  the address is personal (a free e-mail provider's): then ``attributes.personal_email`` is true.

What changed keeps its original value under ``attributes.original`` (the lead's own shape:
``attributes.original.company.employees``), so rules can still test what the tool sent.
Normalising twice changes nothing more. Pure: no I/O beyond reading pycountry's tables once.
"""

from __future__ import annotations

import gettext
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pycountry

from handoff_router.routing.email_domains import email_domain, is_personal_domain

MAX_EMPLOYEES = 100_000_000
MAX_AMOUNT = 1e15
_SCALES = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "mn": 1e6,
    "mio": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "billions": 1e9,
}
_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*([a-z]+)?"
_QUANTITY = re.compile(rf"[~≈]?\s*[$€£]?\s*{_NUMBER}\s*\+?")
_RANGE = re.compile(rf"[$€£]?\s*{_NUMBER}\s*(?:-|\u2013|to)\s*[$€£]?\s*{_NUMBER}\s*\+?")
_CURRENCY_WORDS = re.compile(r"\b(usd|eur|gbp|dollars?|euros?)\b")
TRANSLATED_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "sv", "pl")
# Codes people write that ISO 3166-1 reserves for another use.
_RESERVED_ALIASES = {"UK": "GB", "EL": "GR"}


def parse_quantity(text: str) -> float | None:
    """A number from how people write amounts: "1,200", "5k", "25 million", "$2.5M", "51-200"
    (the lower bound), "10,001+"; None when the text is not one, or not finite."""
    cleaned = _CURRENCY_WORDS.sub("", text.strip().lower()).strip()
    if not cleaned or len(cleaned) > 64:
        return None
    match = _RANGE.fullmatch(cleaned)
    if match is not None:
        low = _value(match[1], match[2], match[3] or match[6])
        high = _value(match[4], match[5], match[6])
        if low is None or high is None or low > high:
            return None
        return low
    match = _QUANTITY.fullmatch(cleaned)
    if match is None:
        return None
    return _value(match[1], match[2], match[3])


def _value(whole: str, fraction: str | None, scale: str | None) -> float | None:
    factor = 1.0
    if scale:
        if scale not in _SCALES:
            return None
        factor = _SCALES[scale]
    number = float(whole.replace(",", "") + (f".{fraction}" if fraction else "")) * factor
    return number if math.isfinite(number) else None


def as_count(value: Any) -> Any:
    """An employee count as an int when ``value`` reads as one in range; else ``value`` unchanged."""
    number = _number(value)
    if number is None or not 0 <= number <= MAX_EMPLOYEES:
        return value
    return round(number)


def as_amount(value: Any) -> Any:
    """A revenue or score as a number when ``value`` reads as one in range; else unchanged."""
    if not isinstance(value, str):
        return value  # a number already (a huge or non-finite one is for validation to refuse)
    number = _number(value)
    if number is None or abs(number) > MAX_AMOUNT:
        return value
    return int(number) if number.is_integer() else number


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and abs(value) <= 1e300 else None
    if isinstance(value, str):
        return parse_quantity(value)
    return None


@lru_cache(maxsize=4096)
def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country name or code; None when unknown."""
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 100:
        return None
    alias = _RESERVED_ALIASES.get(cleaned.upper())
    if alias is not None:
        return alias
    try:
        country = pycountry.countries.lookup(cleaned)
    except LookupError:
        return _translated_countries().get(cleaned.lower())
    return str(country.alpha_2)


@lru_cache(maxsize=1)
def _translated_countries() -> dict[str, str]:
    """Country names in the languages of most leads' forms (Deutschland, Allemagne, Alemania...),
    from pycountry's translations of ISO 3166-1."""
    names: dict[str, str] = {}
    catalogues = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
        for language in TRANSLATED_LANGUAGES
    ]
    for country in pycountry.countries:
        for catalogue in catalogues:
            for name in (country.name, getattr(country, "official_name", None)):
                if name:
                    names.setdefault(catalogue.gettext(name).lower(), str(country.alpha_2))
    return names


@lru_cache(maxsize=1)
def _english() -> gettext.NullTranslations:
    """pycountry's English names of subdivisions (its tables hold local ones: Bayern, Bavaria)."""
    return gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["en"], fallback=True)


@lru_cache(maxsize=512)
def _subdivisions(country: str) -> dict[str, str]:
    """A country's subdivisions by lower-cased local and English name, full code and short code."""
    found: dict[str, str] = {}
    english = _english()
    for subdivision in pycountry.subdivisions.get(country_code=country) or ():  # type: ignore[no-untyped-call]
        code = str(subdivision.code)
        found.setdefault(str(subdivision.name).lower(), code)
        found.setdefault(english.gettext(str(subdivision.name)).lower(), code)
        found[code.lower()] = code
        found.setdefault(code.split("-", 1)[1].lower(), code)
    return found


def region_code(text: str, country: str | None) -> str | None:
    """The ISO 3166-2 code of a subdivision of ``country`` by name or code; None when unknown."""
    cleaned = text.strip()
    if not country or not cleaned or len(cleaned) > 100:
        return None
    return _subdivisions(country.upper()).get(cleaned.lower())


def normalise_email(email: str) -> str:
    """The address with its domain lower-cased (the local part is the owner's to spell)."""
    local, at, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if at else email.strip()


def normalise_mql(data: Mapping[str, Any]) -> dict[str, Any]:
    """The MQL data normalised (see the module's docstring); ``data`` itself is left as it was."""
    lead = dict(data)
    company = dict(lead["company"]) if isinstance(lead.get("company"), Mapping) else None
    changed: dict[str, Any] = {}

    def change(where: dict[str, Any], key: str, value: Any, original_path: tuple[str, ...]) -> None:
        if value != where.get(key) or type(value) is not type(where.get(key)):
            _put(changed, original_path, where.get(key))
            where[key] = value

    email = lead.get("email")
    if isinstance(email, str):
        change(lead, "email", normalise_email(email), ("email",))
    country = lead.get("country")
    if isinstance(country, str):
        code = country_code(country)
        if code is not None:
            change(lead, "country", code, ("country",))
    region, country = lead.get("region"), lead.get("country")
    if isinstance(region, str) and isinstance(country, str):
        code = region_code(region, country)
        if code is not None:
            change(lead, "region", code, ("region",))
    if "score" in lead and lead["score"] is not None:
        change(lead, "score", as_amount(lead["score"]), ("score",))
    personal = False
    domain = email_domain(lead["email"]) if isinstance(lead.get("email"), str) else None
    if domain is not None and is_personal_domain(domain):
        personal = True
    if company is not None:
        for key, convert in (("employees", as_count), ("annual_revenue", as_amount)):
            if company.get(key) is not None:
                change(company, key, convert(company[key]), ("company", key))
        if isinstance(company.get("domain"), str):
            change(company, "domain", company["domain"].strip().lower(), ("company", "domain"))
    if domain is not None and not personal and not (company or {}).get("domain"):
        company = company if company is not None else {}
        company["domain"] = domain
    if company is not None:
        lead["company"] = company
    attributes = dict(lead["attributes"]) if isinstance(lead.get("attributes"), Mapping) else None
    if changed or personal:
        attributes = attributes if attributes is not None else {}
        if personal:
            attributes["personal_email"] = True
        if changed:
            earlier = attributes.get("original")
            attributes["original"] = _merged(changed, earlier) if isinstance(earlier, Mapping) else changed
    if attributes is not None:
        lead["attributes"] = attributes
    return lead


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _merged(fresh: Mapping[str, Any], earlier: Mapping[str, Any]) -> dict[str, Any]:
    """Originals recorded earlier win: they are what the tool sent."""
    merged = dict(fresh)
    for key, value in earlier.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged
