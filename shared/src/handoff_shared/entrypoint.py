"""``python -m handoff_<service> [serve|migrate]``: the commands every service answers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import TypeVar

import structlog
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from handoff_shared import garbage_collection, migrations
from handoff_shared.observability import configure_logging
from handoff_shared.settings import ServiceSettings

Settings = TypeVar("Settings", bound=ServiceSettings)
USAGE = """usage: python -m {name} [serve|migrate|--help]

  serve     run the service: HTTP API, consumers and outbox relay (the default);
            HANDOFF_ROLE=api or worker runs one half of it (see docs/configuration.md)
  migrate   apply the service's database migrations, then exit
"""


def run(
    argv: Sequence[str] | None,
    *,
    package: str,
    settings_factory: Callable[[], Settings],
    app_factory: Callable[[Settings], FastAPI],
) -> int:
    """Serve the app (the default) or apply the migrations of ``package/migrations``."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "serve"
    if command in {"-h", "--help", "help"}:
        sys.stdout.write(USAGE.format(name=package))
        return 0
    if command not in {"serve", "migrate"}:
        sys.stderr.write(USAGE.format(name=package))
        return 2
    settings = read_settings(package, settings_factory)
    if settings is None:
        return 2
    configure_logging(settings.log_level, json=settings.log_json)
    log = structlog.get_logger(package)
    if command == "migrate":
        migrations.upgrade(migrations_dir(package), settings.database_url.get_secret_value())
        log.info("migrations.applied", service=settings.service_name)
        return 0
    log.info("service.starting", service=settings.service_name, role=settings.role, port=settings.http_port)
    garbage_collection.tune_thresholds()
    uvicorn.run(
        app_factory(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        loop="uvloop",  # libuv's loop: less CPU per socket read and callback than asyncio's
    )
    return 0


def read_settings(package: str, settings_factory: Callable[[], Settings]) -> Settings | None:
    """The settings from the environment; None, after naming each wrong variable, when they are not valid."""
    try:
        return settings_factory()
    except ValidationError as error:
        print(f"{package}: cannot start, the settings are not valid:", file=sys.stderr)
        for problem in error.errors():
            variable = "HANDOFF_" + "_".join(str(part) for part in problem["loc"]).upper()
            why = "is not set" if problem["type"] == "missing" else f"is not valid: {problem['msg']}"
            print(f"  {variable} {why}", file=sys.stderr)
        return None


def migrations_dir(package: str) -> Path:
    """The Alembic folder beside a service package's modules."""
    spec = find_spec(package)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(package)
    return Path(spec.origin).parent / "migrations"
