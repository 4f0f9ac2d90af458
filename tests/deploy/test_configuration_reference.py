"""docs/configuration.md is what the settings classes generate."""

from __future__ import annotations

import subprocess
import sys

from tests.deploy.dockerfiles import ROOT


def test_configuration_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "configuration_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_kafka_security_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for variable in ("HANDOFF_KAFKA_SECURITY_PROTOCOL", "HANDOFF_KAFKA_SASL_PASSWORD", "HANDOFF_ROLE"):
        assert f"`{variable}`" in text
