"""Reading files of past leads (JSON Lines or CSV) for simulations."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from handoff_shared.events import MqlCreated
from pydantic import ValidationError

NUMERIC_COLUMNS = frozenset({"company.employees", "company.annual_revenue", "score"})
LIST_COLUMNS = frozenset({"product_interest"})


class LeadFileInvalid(ValueError):
    """A lead file that cannot be read; ``problems`` names each bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:20]))
        self.problems = problems


def read_leads(text: str) -> list[dict[str, Any]]:
    """Leads from JSON Lines (one MQL data object a line) or CSV (dotted column names)."""
    stripped = text.lstrip()
    raw = _json_lines(text) if stripped.startswith("{") else _csv_rows(text)
    leads: list[dict[str, Any]] = []
    problems: list[str] = []
    for line, item in raw:
        try:
            leads.append(MqlCreated.model_validate(item).model_dump(mode="json", exclude_none=True))
        except ValidationError as error:
            problems += [
                f"line {line}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
            ]
    if problems:
        raise LeadFileInvalid(problems)
    return leads


def _json_lines(text: str) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            problems.append(f"line {number}: not JSON ({error.msg})")
    if problems:
        raise LeadFileInvalid(problems)
    return rows


def _csv_rows(text: str) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    problems: list[str] = []
    reader = csv.DictReader(io.StringIO(text))
    try:
        records = list(enumerate(reader, start=2))
    except csv.Error as error:  # e.g. a newline inside an unquoted field
        raise LeadFileInvalid([f"line {reader.line_num}: not valid CSV: {error}"]) from None
    for number, record in records:
        lead: dict[str, Any] = {}
        for column, value in record.items():
            if column is None or value is None or value == "":
                continue
            try:
                _put(lead, column.strip(), _cell(column.strip(), value))
            except ValueError:
                problems.append(f"line {number}: {column}: not a number: {value!r}")
        rows.append((number, lead))
    if problems:
        raise LeadFileInvalid(problems)
    return rows


def _cell(column: str, value: str) -> Any:
    if column in NUMERIC_COLUMNS:
        number = float(value)
        return int(number) if number.is_integer() else number
    if column in LIST_COLUMNS:
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def _put(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
