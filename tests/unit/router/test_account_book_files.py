"""Account book files read row by row: JSON arrays, NDJSON, CSV exports of Salesforce and HubSpot."""

from __future__ import annotations

import io

import pytest
from handoff_router.accounts.book_files import BookFileInvalid, rows, unreadable
from handoff_router.accounts.rows import checked, status_code


def read(text: str, kind: str, **options: object) -> list[tuple[int, object]]:
    return list(rows(io.BytesIO(text.encode()), kind, **options))  # type: ignore[arg-type]


def test_a_json_array_is_read_item_by_item_with_the_line_each_starts_on() -> None:
    text = '[\n  {"id": "a", "name": "A"},\n  {"id": "b",\n   "name": "B"},\n  {"id": "c", "name": "C"}\n]\n'
    assert [(line, row["id"]) for line, row in read(text, "json")] == [(2, "a"), (3, "b"), (5, "c")]  # type: ignore[index]


def test_a_long_json_array_is_read_whole_across_pieces() -> None:
    text = "[" + ",\n".join(f'{{"id": "a{i}", "name": "N {i}"}}' for i in range(3000)) + "]"
    found = read(text, "json")
    assert len(found) == 3000
    assert found[-1][0] == 3000


def test_a_json_book_that_is_not_an_array_or_not_closed_is_unreadable() -> None:
    with pytest.raises(BookFileInvalid):
        read('{"id": "a"}', "json")
    with pytest.raises(BookFileInvalid):
        read('[{"id": "a", "name": "A"}', "json")


def test_ndjson_lines_that_are_not_json_are_refused_with_their_line() -> None:
    found = read('{"id": "a", "name": "A"}\n\nnot json\n', "ndjson")
    assert found[0][0] == 1
    assert found[1][0] == 3
    assert "not JSON" in (unreadable(found[1][1]) or "")


def test_a_hubspot_company_export_loads_as_exported() -> None:
    text = (
        "Record ID,Company name,Company Domain Name,Additional Domains,Company owner,"
        "Lifecycle Stage,Industry\n"
        '123,"Acme, Inc.",acme.com,"acme.io;acme.de",ana@example.com,Opportunity,Software\n'
    )
    ((line, row),) = read(text, "csv", preset="hubspot")
    account, problems = checked(row)
    assert line == 2
    assert problems == []
    assert account is not None
    assert (account.id, account.name, account.domains, account.owner, account.status) == (
        "123",
        "Acme, Inc.",
        ("acme.com", "acme.io", "acme.de"),
        "ana@example.com",
        "open_opportunity",
    )
    assert account.attributes == {"industry": "Software"}


def test_a_mapping_names_any_column() -> None:
    ((_, row),) = read(
        "Key,Org,Rep\nk1,Org One,ana\n", "csv", mapping={"id": "Key", "name": "Org", "owner": "Rep"}
    )
    assert row == {"id": "k1", "name": "Org One", "owner": "ana"}


def test_a_mapping_to_a_missing_column_is_unreadable() -> None:
    with pytest.raises(BookFileInvalid):
        read("id,name\n1,A\n", "csv", mapping={"owner": "Sales Rep"})


def test_csv_lines_count_quoted_newlines() -> None:
    found = read('id,name\n1,"Multi\nline"\n2,Two\n', "csv")
    assert [line for line, _ in found] == [2, 4]


def test_personal_domains_and_missing_fields_are_each_named() -> None:
    account, problems = checked({"id": "x", "domains": ["gmail.com", "not a domain"]})
    assert account is None
    assert problems[0] == "name is missing"
    assert any("gmail.com is a personal e-mail domain" in problem for problem in problems)
    assert any("'not a domain' is not a domain" in problem for problem in problems)


def test_crm_statuses_become_the_contracts_codes() -> None:
    assert status_code("Customer - Direct") == "customer"
    assert status_code("Opportunity") == "open_opportunity"
    assert status_code("Technology Partner") == "technology_partner"
