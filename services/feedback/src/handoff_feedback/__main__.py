"""``python -m handoff_feedback [serve|migrate]``."""

from __future__ import annotations

import sys
from pathlib import Path

from handoff_shared import entrypoint

from handoff_feedback.app import create_app
from handoff_feedback.settings import Settings


def main(argv: list[str] | None = None) -> int:
    return entrypoint.run(
        sys.argv[1:] if argv is None else argv,
        name="handoff_feedback",
        settings_factory=Settings,
        app_factory=create_app,
        migrations_dir=Path(__file__).parent / "migrations",
    )


if __name__ == "__main__":
    sys.exit(main())
