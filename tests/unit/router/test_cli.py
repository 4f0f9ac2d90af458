"""The handoff-router command line, offline parts (validate, simulate --offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from handoff_router.__main__ import main

from tests.unit.router.sample import config_data


def test_config_validate_accepts_the_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", "deploy/local/sample-routing.yaml"]) == 0
    assert capsys.readouterr().out.startswith("ok: 11 reps, 6 teams, 5 rules")


def test_config_validate_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = config_data()
    data["teams"][0]["members"].append("ghost")
    data["fallback_team"] = "nowhere"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))

    assert main(["config", "validate", str(path)]) == 1

    err = capsys.readouterr().err
    assert "teams[0].members[2]: unknown rep 'ghost'" in err
    assert "fallback_team: unknown team 'nowhere'" in err


def test_offline_simulation_compares_a_candidate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leads = tmp_path / "leads.jsonl"
    leads.write_text(
        "\n".join(json.dumps({"lead_id": f"l{i}", "email": "a@x.io", "country": "DE"}) for i in range(4))
    )
    active, candidate = tmp_path / "active.yaml", tmp_path / "candidate.yaml"
    active.write_text(yaml.safe_dump(config_data()))
    changed = config_data()
    changed["rules"][0]["team"] = "overflow"
    candidate.write_text(yaml.safe_dump(changed))

    assert main(["simulate", str(leads), "--offline", str(active), "--candidate", str(candidate)]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["active"]["by_rep"] == {"ana": 3, "ben": 1}
    assert result["candidate"]["by_rep"] == {"fb": 4}
    assert result["difference"]["leads_moved"] == 4
