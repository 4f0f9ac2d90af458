"""Reading an account book file row by row: a JSON array, NDJSON, or CSV with a header row.

The file is read from disk in pieces, so a book of any size is never held whole. Each row comes
with the line it starts on. CSV columns are mapped to account fields by a preset (a Salesforce
or a HubSpot company export loads as exported) and any ``field=column`` overrides; columns
``attributes.<key>`` (or those a mapping names) become attributes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from typing import IO, Any, Literal

Format = Literal["json", "ndjson", "csv"]
FIELDS = ("id", "name", "domains", "owner", "status", "tier")
_LONGEST_ITEM = 1 << 20

# Column names of each CRM's export, in the order they are tried (labels of a report export,
# then API names of a Data Loader or API export).
PRESETS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "salesforce": {
        "id": ("Account ID", "Id", "ID"),
        "name": ("Account Name", "Name"),
        "domains": ("Website",),
        "owner": ("Account Owner Email", "Owner Email", "Account Owner", "Owner", "OwnerId"),
        "status": ("Type",),
        "tier": ("Tier", "Tier__c", "Account Tier", "Rating"),
        "attributes.industry": ("Industry",),
        "attributes.country": ("Billing Country", "BillingCountry"),
        "attributes.employees": ("Employees", "NumberOfEmployees"),
    },
    "hubspot": {
        "id": ("Record ID", "Company ID", "hs_object_id"),
        "name": ("Company name", "Name", "name"),
        "domains": ("Company Domain Name", "domain", "Website URL", "website"),
        "extra_domains": ("Additional Domains", "hs_additional_domains"),
        "owner": ("Company owner", "HubSpot Owner", "hubspot_owner_id"),
        "status": ("Lifecycle Stage", "lifecyclestage"),
        "tier": ("Ideal Customer Profile Tier", "hs_ideal_customer_profile", "Tier"),
        "attributes.industry": ("Industry", "industry"),
        "attributes.country": ("Country/Region", "country"),
        "attributes.employees": ("Number of Employees", "numberofemployees"),
    },
}


class BookFileInvalid(ValueError):
    """A file that cannot be read as rows at all (not its rows' content)."""


def rows(
    file: IO[bytes], kind: Format, mapping: Mapping[str, str] | None = None, preset: str | None = None
) -> Iterator[tuple[int, Any]]:
    """(line, row) for each row of the file; a row is a dict (or, in JSON, whatever was written)."""
    if kind == "csv":
        yield from _csv_rows(file, mapping or {}, preset)
    elif kind == "ndjson":
        yield from _ndjson_rows(file)
    else:
        yield from _json_rows(file)


def _text_lines(file: IO[bytes]) -> Iterator[str]:
    for number, raw in enumerate(file, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise BookFileInvalid(f"line {number} is not UTF-8 text") from None


def _ndjson_rows(file: IO[bytes]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(_text_lines(file), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                yield number, _Unreadable(f"not JSON: {error.msg}")


def _json_rows(file: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """The items of one JSON array, decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    buffer, line, started, ended = "", 1, False, False
    lines = _text_lines(file)
    exhausted = False
    while True:
        stripped = buffer.lstrip(" \t\r\n,")
        line += buffer[: len(buffer) - len(stripped)].count("\n")
        buffer = stripped
        if not started and buffer:
            if buffer[0] != "[":
                raise BookFileInvalid("a JSON book is an array of accounts ([{...}, ...])")
            buffer, started = buffer[1:], True
            continue
        if started and buffer.startswith("]"):
            ended = True
            break
        if buffer:
            try:
                item, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError as error:
                if exhausted:
                    raise BookFileInvalid(
                        f"line {line + buffer[: error.pos].count(chr(10))}: {error.msg}"
                    ) from None
            else:
                if end < len(buffer) or exhausted:
                    yield line, item
                    line += buffer[:end].count("\n")
                    buffer = buffer[end:]
                    continue
        if exhausted:
            break
        if len(buffer) > _LONGEST_ITEM:
            raise BookFileInvalid(f"line {line}: an item longer than {_LONGEST_ITEM} characters, or not JSON")
        chunk = "".join(_take(lines, 256))
        exhausted = not chunk
        buffer += chunk
    if not ended:
        raise BookFileInvalid("the JSON array is not closed (]): the file ends early")


def _take(lines: Iterator[str], count: int) -> Iterator[str]:
    for _ in range(count):
        line = next(lines, None)
        if line is None:
            return
        yield line


def _csv_rows(file: IO[bytes], mapping: Mapping[str, str], preset: str | None) -> Iterator[tuple[int, Any]]:
    reader = csv.reader(_text_lines(file))
    try:
        header = next(reader)
    except StopIteration:
        return
    columns = _columns(header, mapping, preset)
    start = reader.line_num + 1
    for values in reader:
        line, start = start, reader.line_num + 1
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(header):
            yield line, _Unreadable(f"{len(values)} values for {len(header)} columns")
            continue
        yield line, _mapped(values, columns)


def _columns(header: list[str], mapping: Mapping[str, str], preset: str | None) -> dict[str, int]:
    """Field (``id``, ``attributes.segment``...) -> column index."""
    position = {name.strip(): index for index, name in enumerate(header)}
    columns: dict[str, int] = {}
    if preset is not None:
        for target, names in PRESETS[preset].items():
            found = next((position[name] for name in names if name in position), None)
            if found is not None:
                columns[target] = found
    for name, index in position.items():
        if name in FIELDS or name.startswith("attributes."):
            columns.setdefault(name, index)
    for target, column in mapping.items():
        if column not in position:
            raise BookFileInvalid(f"mapping {target}={column}: the file has no column {column!r}")
        columns[target] = position[column]
    return columns


def _mapped(values: list[str], columns: Mapping[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for target, index in columns.items():
        value = values[index].strip() if index < len(values) else ""
        if not value:
            continue
        if target.startswith("attributes."):
            attributes[target.removeprefix("attributes.")] = value
        elif target in ("domains", "extra_domains"):
            row.setdefault("domains", []).extend(part for part in _split_domains(value))
        else:
            row[target] = value
    if attributes:
        row["attributes"] = attributes
    return row


def _split_domains(value: str) -> list[str]:
    return [part for part in value.replace(";", " ").replace(",", " ").split() if part]


class _Unreadable(str):
    """A row that could not even be parsed: the text says why."""


def unreadable(row: Any) -> str | None:
    """Why a row could not be parsed, or None."""
    return str(row) if isinstance(row, _Unreadable) else None
