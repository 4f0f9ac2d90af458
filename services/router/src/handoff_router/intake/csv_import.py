"""CSV lists of MQLs (``POST /v1/mqls/import``, ``handoff-router import``): a header row, then
one lead a row, comma-separated, UTF-8. Columns are mapped to contract fields by a mapping
(field -> column), a preset's (HubSpot's and Salesforce's list exports), or, when the header
uses the contract's own names (``email``, ``company.employees``...), by name.

Rows are read one at a time from the stream they are handed, so a file of any length takes
the same memory. Each row becomes an accepted MQL (its event id derived from its content: a
file imported twice emits nothing new) or a refused row with its line and problems.
Pure: the caller opens the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from handoff_router.intake.records import Refused, accept_data, content_id
from handoff_router.routing.intake_sources import MQL_FIELDS

IMPORT_SOURCE = "import"
MAX_FIELD = 100_000

HUBSPOT_COLUMNS: Mapping[str, str] = {
    "lead_id": "Record ID",
    "email": "Email",
    "first_name": "First Name",
    "last_name": "Last Name",
    "title": "Job Title",
    "phone": "Phone Number",
    "company.name": "Company Name",
    "company.employees": "Number of Employees",
    "company.industry": "Industry",
    "company.annual_revenue": "Annual Revenue",
    "country": "Country/Region",
    "region": "State/Region",
    "postal_code": "Postal Code",
    "source": "Original Source",
    "score": "HubSpot Score",
    "attributes.lifecyclestage": "Lifecycle Stage",
}
SALESFORCE_COLUMNS: Mapping[str, str] = {
    "lead_id": "Lead ID",
    "email": "Email",
    "first_name": "First Name",
    "last_name": "Last Name",
    "title": "Title",
    "phone": "Phone",
    "company.name": "Company / Account",
    "company.employees": "No. of Employees",
    "company.industry": "Industry",
    "company.annual_revenue": "Annual Revenue",
    "country": "Country",
    "region": "State/Province",
    "postal_code": "Zip/Postal Code",
    "source": "Lead Source",
    "attributes.status": "Lead Status",
}
COLUMN_PRESETS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "hubspot": ("hubspot:", HUBSPOT_COLUMNS),
    "salesforce": ("salesforce:", SALESFORCE_COLUMNS),
}


class CsvRefused(ValueError):
    """A file or mapping the import cannot read at all; the message says what was expected."""


@dataclass(frozen=True)
class Columns:
    """Which column holds which field, and the prefix of lead ids read from the file."""

    fields: Mapping[str, int]
    lead_prefix: str


def read_mapping(text: str | None) -> tuple[str | None, dict[str, str]]:
    """A mapping YAML: ``preset: hubspot`` and/or ``field: column`` lines (CONTRACT §10)."""
    if text is None or not text.strip():
        return None, {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CsvRefused(f"the mapping is not YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CsvRefused("the mapping is YAML of field: column (e.g. email: E-mail Address)")
    preset = data.pop("preset", None)
    if preset is not None and preset not in COLUMN_PRESETS:
        raise CsvRefused(f"unknown column preset {preset!r}; expected one of {', '.join(COLUMN_PRESETS)}")
    unknown = [
        f for f in data if f not in MQL_FIELDS and not (str(f).startswith("attributes.") and len(f) > 11)
    ]
    if unknown:
        raise CsvRefused(f"not fields of mql.created: {', '.join(map(str, unknown))}")
    return preset, {str(k): v for k, v in data.items()}


def columns_of(header: list[str], preset: str | None, mapping: Mapping[str, str]) -> Columns:
    """Where each field is in a file with this header; CsvRefused saying what was expected."""
    names = [name.strip() for name in header]
    if len(names) == 1 and any(sep in names[0] for sep in (";", "\t", "|")):
        found = next(sep for sep in (";", "\t", "|") if sep in names[0])
        raise CsvRefused(
            f"the header is one column delimited by {found!r}: a comma-separated file was expected"
            f" (with a header row such as email,first_name,company.name)"
        )
    if preset is None and not mapping:
        preset = _guess_preset(names)
    prefix, known = COLUMN_PRESETS[preset] if preset else ("", {})
    if not known:  # the contract's own names
        known = {name: name for name in names if name in MQL_FIELDS or name.startswith("attributes.")}
    wanted = {**known, **mapping}
    index = {name: i for i, name in enumerate(names)}
    if wanted.get("email") not in index:
        expected = wanted.get("email", "email")
        raise CsvRefused(
            f"no column {expected!r} for the e-mail address in the header ({', '.join(names)[:500]});"
            " expected the contract's field names (email, first_name, company.name, ...), a HubSpot"
            " or Salesforce list export, or a mapping of field: column"
        )
    missing = [column for column in wanted.values() if column not in index and column in mapping.values()]
    if missing:
        raise CsvRefused(f"the mapping names columns the header lacks: {', '.join(missing)}")
    fields = {field: index[column] for field, column in wanted.items() if column in index}
    return Columns(fields, prefix if "lead_id" not in mapping else "")


def _guess_preset(names: list[str]) -> str | None:
    for preset, (_, columns) in COLUMN_PRESETS.items():
        if columns["lead_id"] in names and columns["email"] in names:
            return preset
    return None


def read_rows(
    lines: Iterable[str], preset: str | None, mapping: Mapping[str, str]
) -> Iterator[tuple[int, Any]]:
    """(line, Accepted or Refused) for each row after the header; CsvRefused for the header."""
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvRefused("the file is empty: a header row was expected") from None
    except csv.Error as error:
        raise CsvRefused(f"line 1: not CSV ({error})") from None
    columns = columns_of(header, preset, mapping)
    width = len(header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, Refused(reader.line_num, "not_csv", str(error))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            yield (
                reader.line_num,
                Refused(reader.line_num, "not_csv", f"{len(row)} columns where the header has {width}"),
            )
            continue
        yield reader.line_num, _row(reader.line_num, row, columns)


def _row(line: int, row: list[str], columns: Columns) -> Any:
    data: dict[str, Any] = {}
    for field, at in columns.fields.items():
        value = row[at].strip()
        if not value:
            continue
        if field == "product_interest":
            data[field] = [item.strip() for item in value.split(";") if item.strip()]
            continue
        target = data
        parts = field.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    if "lead_id" in data:
        data["lead_id"] = columns.lead_prefix + data["lead_id"]
    elif isinstance(data.get("email"), str):
        data["lead_id"] = content_id(IMPORT_SOURCE, data["email"].strip().lower())
    return accept_data(line, data, content_id(IMPORT_SOURCE, data))
