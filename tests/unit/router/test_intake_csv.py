"""CSV imports: presets of list exports, the contract's names, mappings, refusals with lines."""

from __future__ import annotations

import io

import pytest
from handoff_router.intake.csv_import import CsvRefused, read_mapping, read_rows
from handoff_router.intake.records import Accepted, Refused


def rows(text: str, mapping: str | None = None) -> list[tuple[int, object]]:
    preset, fields = read_mapping(mapping)
    return list(read_rows(io.StringIO(text), preset, fields))


def test_a_hubspot_export_is_read_by_its_columns() -> None:
    text = (
        "Record ID,First Name,Email,Number of Employees,Country/Region,State/Region\n"
        '51,Ana,ana@Acme.io,"1,200",Germany,Bavaria\n'
    )
    ((line, outcome),) = rows(text)
    assert line == 2
    assert isinstance(outcome, Accepted)
    assert outcome.mql.lead_id == "hubspot:51"
    assert (outcome.mql.country, outcome.mql.region) == ("DE", "DE-BY")
    assert outcome.mql.company is not None
    assert outcome.mql.company.employees == 1200


def test_a_salesforce_export_is_read_by_its_columns() -> None:
    text = (
        "Lead ID,First Name,Last Name,Email,Company / Account,Country\n00Q1,Kathy,Snyder,k@tnr.net,TNR,USA\n"
    )
    ((_, outcome),) = rows(text)
    assert isinstance(outcome, Accepted)
    assert (outcome.mql.lead_id, outcome.mql.country) == ("salesforce:00Q1", "US")


def test_contract_column_names_and_a_mapping() -> None:
    assert isinstance(rows("email,company.employees\na@acme.io,5k\n")[0][1], Accepted)
    ((_, mapped),) = rows(
        "E-mail Address,Firm\na@acme.io,Acme\n", "email: E-mail Address\ncompany.name: Firm\n"
    )
    assert isinstance(mapped, Accepted)
    assert mapped.mql.company is not None
    assert mapped.mql.company.name == "Acme"


def test_refused_rows_keep_their_line_numbers() -> None:
    found = rows('email,first_name\ngood@acme.io,A\nbad,B\n\nok@acme.io,"multi\nline"\nx@acme.io\n')
    assert [line for line, _ in found] == [2, 3, 6, 7]
    assert [type(outcome) for _, outcome in found] == [Accepted, Refused, Accepted, Refused]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("email;first_name\na@b.io;A\n", "delimited by ';'"), ("mail,name\na@b.io,A\n", "no column 'email'"),
     ("", "empty")],
)  # fmt: skip
def test_a_wrong_header_or_delimiter_is_refused_saying_what_was_expected(text: str, expected: str) -> None:
    with pytest.raises(CsvRefused, match=expected):
        rows(text)


def test_a_mapping_naming_unknown_fields_or_columns_is_refused() -> None:
    with pytest.raises(CsvRefused, match="not fields"):
        read_mapping("emial: Email\n")
    with pytest.raises(CsvRefused, match="lacks"):
        rows("email,x\na@b.io,1\n", "company.name: Firm\n")
