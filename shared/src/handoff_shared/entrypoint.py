"""``python -m handoff_<service> [serve|migrate]``: the commands every service answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import structlog
import uvicorn
from fastapi import FastAPI

from handoff_shared import migrations
from handoff_shared.observability import configure_logging
from handoff_shared.settings import ServiceSettings

Settings = TypeVar("Settings", bound=ServiceSettings)
USAGE = "usage: python -m {name} [serve|migrate]"


def run(
    argv: Sequence[str],
    *,
    name: str,
    settings_factory: Callable[[], Settings],
    app_factory: Callable[[Settings], FastAPI],
    migrations_dir: Path,
) -> int:
    """Serve the app (the default) or apply the service's migrations."""
    command = argv[0] if argv else "serve"
    settings = settings_factory()
    configure_logging(settings.log_level, json=settings.log_json)
    log = structlog.get_logger(name)
    if command == "migrate":
        migrations.upgrade(migrations_dir, settings.database_url.get_secret_value())
        log.info("migrations.applied", service=settings.service_name)
        return 0
    if command != "serve":
        return 2
    log.info("service.starting", service=settings.service_name, port=settings.http_port)
    uvicorn.run(
        app_factory(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    return 0
