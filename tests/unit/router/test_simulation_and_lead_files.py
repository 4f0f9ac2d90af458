"""What-if simulation over a file of leads, and reading those files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from handoff_router.configs.lead_files import LeadFileInvalid, read_leads
from handoff_router.routing.config import validate_config
from handoff_router.routing.engine import RoutingState
from handoff_router.routing.simulation import compare, simulate

from tests.unit.router.sample import config, config_data, lead

NOW = datetime(2026, 11, 24, 14, tzinfo=UTC)


def test_simulation_counts_reps_teams_rules_and_queue() -> None:
    leads = [lead(f"l{i}", country="DE") for i in range(8)] + [
        lead("f1", country="FR"),
        lead("f2", country="FR"),
    ]

    report = simulate(leads, config(), RoutingState(), NOW)

    assert report.by_rep == {"ana": 6, "ben": 2, "cy": 1, "fb": 1}
    assert report.by_team == {"dach": 8, "fr": 1, "overflow": 1}
    assert report.by_rule == {"dach": 8, "france": 2}
    assert report.queued == 0
    assert report.by_match == {"rule": 9, "fallback": 1}
    assert report.to_dict()["by_match"] == {"fallback": 1, "rule": 9}


def test_simulation_counts_the_queue_and_how_each_lead_matched() -> None:
    data = config_data()
    data["reps"][4]["max_open"] = 1
    leads = [lead("a1", company={"domain": "acme.io"}), *(lead(f"b{i}", country="BR") for i in range(3))]

    report = simulate(leads, validate_config(data), RoutingState(), NOW)

    assert (report.leads, report.queued) == (4, 2)
    assert report.by_match == {"named_account": 1, "fallback": 1, "none": 2}
    assert report.by_rule == {"account:acme.io": 1, "fallback": 3}
    assert report.choices == ("ben", "fb", None, None)


def test_compare_shows_what_a_territory_change_moves() -> None:
    leads = [lead(f"l{i}", country="DE") for i in range(4)]
    candidate = config_data()
    candidate["rules"][0]["team"] = "overflow"

    difference = compare(
        simulate(leads, config(), RoutingState(), NOW),
        simulate(leads, validate_config(candidate), RoutingState(), NOW),
    )

    assert difference.by_rep == {"ana": -3, "ben": -1, "fb": 4}
    assert difference.by_team == {"dach": -4, "overflow": 4}
    assert difference.leads_moved == 4
    assert difference.by_match == {}  # still matched by the rule, now naming another team
    assert difference.to_dict()["queued"] == 0


def test_csv_with_dotted_columns_becomes_nested_leads() -> None:
    text = (
        "lead_id,email,country,company.employees,company.domain,product_interest\n"
        "l1,a@x.io,de,1200,x.io,routing;sla\n"
    )

    (parsed,) = read_leads(text)

    assert parsed["company"] == {"employees": 1200, "domain": "x.io"}
    assert parsed["country"] == "DE"
    assert parsed["product_interest"] == ["routing", "sla"]


def test_json_lines_with_a_bad_line_names_the_line() -> None:
    text = '{"lead_id": "l1", "email": "a@x.io"}\n{"lead_id": "l2"}\nnot json\n'

    with pytest.raises(LeadFileInvalid) as caught:
        read_leads(text)

    assert caught.value.problems == ["line 3: not JSON (Expecting value)"]


def test_json_lines_missing_field_is_reported_by_line() -> None:
    with pytest.raises(LeadFileInvalid) as caught:
        read_leads('{"lead_id": "l1", "email": "a@x.io"}\n{"lead_id": "l2"}\n')
    assert caught.value.problems == ["line 2: email: Field required"]
