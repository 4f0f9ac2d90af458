"""``python -m handoff_sla_monitor [serve|migrate]``."""

from __future__ import annotations

import sys

from handoff_shared import entrypoint

from handoff_sla_monitor.app import create_app
from handoff_sla_monitor.settings import Settings


def main(argv: list[str] | None = None) -> int:
    return entrypoint.run(
        argv, package="handoff_sla_monitor", settings_factory=Settings, app_factory=create_app
    )


if __name__ == "__main__":
    sys.exit(main())
