"""``python -m handoff_router [serve|migrate]``, and the ``handoff-router`` CLI."""

from __future__ import annotations

import sys

from handoff_shared import entrypoint

from handoff_router.app import create_app
from handoff_router.settings import RouterSettings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in {"config", "preview", "simulate", "import"}:
        from handoff_router.cli import main as cli_main

        return cli_main(args)
    return entrypoint.run(
        args, package="handoff_router", settings_factory=RouterSettings, app_factory=create_app
    )


if __name__ == "__main__":
    sys.exit(main())
