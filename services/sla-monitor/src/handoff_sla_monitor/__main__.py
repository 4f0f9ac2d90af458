"""``python -m handoff_sla_monitor [serve|migrate]``."""

from __future__ import annotations

import sys
from pathlib import Path

from handoff_shared import entrypoint

from handoff_sla_monitor.app import create_app
from handoff_sla_monitor.settings import Settings


def main(argv: list[str] | None = None) -> int:
    return entrypoint.run(
        sys.argv[1:] if argv is None else argv,
        name="handoff_sla_monitor",
        settings_factory=Settings,
        app_factory=create_app,
        migrations_dir=Path(__file__).parent / "migrations",
    )


if __name__ == "__main__":
    sys.exit(main())
