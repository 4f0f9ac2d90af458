"""The routing config's ``alerts`` key (CONTRACT §9): validated, with the contract's defaults."""

from __future__ import annotations

import pytest
from handoff_router.routing.config import AlertPolicy, ConfigInvalid, validate_config

from tests.unit.router.sample import config, config_data


def problems_of(data: object) -> dict[str, str]:
    with pytest.raises(ConfigInvalid) as caught:
        validate_config(data)
    return {problem.path: problem.message for problem in caught.value.problems}


def test_absent_alerts_are_the_contracts_defaults_and_are_left_out_of_the_stored_form() -> None:
    plain = config()
    assert plain.alerts is None
    assert plain.alert_policy == AlertPolicy(acceptance_below=0.5, acceptance_above=0.9, min_decisions=20)
    assert "alerts" not in plain.model_dump(mode="json", exclude_none=True)
    assert config(alerts={"min_decisions": 5}).model_dump(mode="json", exclude_none=True)["alerts"] == {
        "acceptance_below": 0.5,
        "acceptance_above": 0.9,
        "min_decisions": 5,
    }


def test_alerts_are_read_with_defaults_for_what_is_left_out() -> None:
    policy = config(alerts={"acceptance_below": 0.6, "min_decisions": 5}).alert_policy
    assert (policy.acceptance_below, policy.acceptance_above, policy.min_decisions) == (0.6, 0.9, 5)
    assert config(alerts={"acceptance_below": 0, "acceptance_above": 1}).alert_policy.acceptance_above == 1.0


@pytest.mark.parametrize(
    ("alerts", "path", "message"),
    [
        ({"acceptance_below": 1.5}, "alerts.acceptance_below", "less than or equal to 1"),
        ({"acceptance_above": -0.1}, "alerts.acceptance_above", "greater than or equal to 0"),
        ({"min_decisions": 0}, "alerts.min_decisions", "greater than or equal to 1"),
        ({"min_decisions": "20"}, "alerts.min_decisions", "integer"),
        ({"acceptance_below": 0.9, "acceptance_above": 0.5}, "alerts", "must be under acceptance_above"),
        ({"acceptance_blow": 0.4}, "alerts.acceptance_blow", "unknown key"),
    ],
)
def test_bad_alerts_are_refused_with_their_path(alerts: object, path: str, message: str) -> None:
    found = problems_of(config_data(alerts=alerts))
    assert message in found[path], found
