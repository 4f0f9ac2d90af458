"""Test order: pytest-randomly shuffles modules and tests (seeded, printed at the top of the
run) so hidden order dependencies surface, then this hook moves the fault tests last, in that
shuffled order. Fault tests kill and restart Kafka, PostgreSQL and the services; run between
integration tests they would break connections and consumer groups those tests rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

FAULTS = Path(__file__).parent / "faults"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.is_relative_to(FAULTS))  # stable: keeps the shuffle
