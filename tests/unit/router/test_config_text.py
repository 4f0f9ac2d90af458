"""Reading a configuration's text: YAML as RevOps means it, JSON as JSON, keys written twice."""

from __future__ import annotations

import json

import pytest
import yaml
from handoff_router.routing.config import ConfigInvalid, parse_config
from handoff_router.routing.config_text import read_config_text

from tests.unit.router.sample import config, config_data

HEAD = """
reps:
  - {id: ana, email: ana@example.com, callback_url: "https://x.example.com/ana"}
teams:
  - {id: all, members: [ana]}
fallback_team: all
"""


def test_country_no_is_norway_not_false() -> None:
    data, problems = read_config_text("when: {country: [NO, SE, DK, FI, IS]}\n")
    assert data == {"when": {"country": ["NO", "SE", "DK", "FI", "IS"]}}
    assert problems == []


def test_yes_on_off_stay_text_and_true_false_are_booleans() -> None:
    data, _ = read_config_text("a: [yes, no, on, off, y, n, true, false, True, FALSE]\n")
    assert data == {"a": ["yes", "no", "on", "off", "y", "n", True, False, True, False]}


def test_unquoted_times_of_day_stay_text() -> None:
    data, _ = read_config_text("business_hours: {start: 09:00, end: 17:00, days: [mon]}\n")
    assert data == {"business_hours": {"start": "09:00", "end": "17:00", "days": ["mon"]}}


def test_numbers_are_decimal_and_leading_zeros_stay_text() -> None:
    data, _ = read_config_text("a: [1000, -3, 0, 2.5, 1e3, .5, 01067, 0x1F, 1_000, 12:30:00]\n")
    assert data == {"a": [1000, -3, 0, 2.5, 1000.0, 0.5, "01067", "0x1F", "1_000", "12:30:00"]}


def test_unquoted_config_with_norway_and_times_validates() -> None:
    text = HEAD + (
        "sla: {accept_within: 4h, business_hours: {start: 08:30, end: 17:00, days: [mon, fri]}}\n"
        "rules:\n  - {id: nordics, when: {country: [NO, SE]}, team: all}\n"
    )
    parsed = parse_config(text)
    assert parsed.rules[0].when == {"country": ["NO", "SE"]}
    assert parsed.sla.business_hours is not None
    assert parsed.sla.business_hours.end == "17:00"


def test_key_written_twice_is_a_problem_with_its_line() -> None:
    text = HEAD.replace("fallback_team: all", "fallback_team: all\nfallback_team: all")
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(text)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("line 7, column 1", "key 'fallback_team' is written twice")
    ]


def test_duplicate_keys_are_listed_with_the_other_problems() -> None:
    text = HEAD.replace("members: [ana]", "members: [ana, ghost]").replace(
        "email: ana@example.com", "email: ana@example.com, email: ana@example.org"
    )
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(text)
    messages = {p.message for p in caught.value.problems}
    assert messages == {"key 'email' is written twice", "unknown rep 'ghost'"}


def test_yaml_merge_keys_are_not_duplicates() -> None:
    data, problems = read_config_text("base: &b {weight: 1, active: true}\nrep: {<<: *b, weight: 2}\n")
    assert data["rep"] == {"weight": 2, "active": True}
    assert problems == []


def test_json_with_tabs_is_read_as_json() -> None:
    text = json.dumps(config_data(), indent="\t")
    assert parse_config(text) == config()


def test_json_key_written_twice_is_a_problem() -> None:
    _, problems = read_config_text('{"fallback_team": "a", "fallback_team": "b"}')
    assert [p.message for p in problems] == ["key 'fallback_team' is written twice in one object"]


def test_yaml_flow_mapping_starting_with_a_brace_still_reads() -> None:
    data, _ = read_config_text("{fallback_team: overflow, rules: []}")
    assert data == {"fallback_team": "overflow", "rules": []}


def test_bytes_are_utf8_with_or_without_bom() -> None:
    text = yaml.safe_dump(config_data())
    assert parse_config(text.encode()) == parse_config(b"\xef\xbb\xbf" + text.encode()) == config()


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(b"reps: \xff\xfe")
    assert caught.value.problems[0].message == "not UTF-8 text"


def test_empty_text_is_not_a_config() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config("")
    assert caught.value.problems[0].path == ""
