"""``python -m handoff_feedback [serve|migrate|rebuild [--force]]``."""

from __future__ import annotations

import sys

from handoff_shared import entrypoint
from handoff_shared.observability import configure_logging

from handoff_feedback.app import create_app
from handoff_feedback.settings import Settings


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["rebuild"]:
        from handoff_feedback import rebuild

        settings = entrypoint.read_settings("handoff_feedback", Settings)
        if settings is None:
            return 2
        configure_logging(settings.log_level, json=settings.log_json)
        return rebuild.main(settings, args[1:])
    return entrypoint.run(args, package="handoff_feedback", settings_factory=Settings, app_factory=create_app)


if __name__ == "__main__":
    sys.exit(main())
