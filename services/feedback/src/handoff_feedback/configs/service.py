"""The routing config's alert thresholds, learnt from ``routing.config_applied`` (topic
``routing.config``): the router publishes one per version it makes active.

Each version is kept (a repeat changes nothing, any order gives the same result); alerts are
judged by the newest by ``applied_at``, and by the ``HANDOFF_ALERT_*`` settings before any
version is seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord
from handoff_shared import db, events, kafka
from handoff_shared.outbox import add as add_to_outbox
from handoff_shared.runtime import Runtime
from sqlalchemy import text

from handoff_feedback import tables
from handoff_feedback.settings import Settings

log = structlog.get_logger(__name__)
CONSUMED_TYPES = frozenset({events.ROUTING_CONFIG_APPLIED})


class ConfigEvents:
    """Consumes ``routing.config``: one row per applied version; unreadable records are dead-lettered."""

    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self.runtime = runtime
        self.settings = settings

    async def on_records(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        valid, dead = kafka.decode_batch(
            records, CONSUMED_TYPES, self.runtime.dead_letter_topic, service=self.settings.service_name
        )
        applied = [item.data for item in valid if isinstance(item.data, events.RoutingConfigApplied)]
        async with db.transaction(self.runtime.sessions) as session:
            await add_to_outbox(session, tables.outbox, dead)
            if applied:
                await session.execute(
                    text(
                        "INSERT INTO feedback.routing_configs (version, sha256, applied_at,"
                        " acceptance_below, acceptance_above, min_decisions) SELECT * FROM"
                        " unnest(CAST(:v AS bigint[]), CAST(:h AS text[]), CAST(:t AS timestamptz[]),"
                        " CAST(:b AS float8[]), CAST(:a AS float8[]), CAST(:n AS int[]))"
                        " ON CONFLICT DO NOTHING"
                    ),
                    {
                        "v": [c.version for c in applied],
                        "h": [c.sha256 for c in applied],
                        "t": [c.applied_at for c in applied],
                        "b": [c.alerts.acceptance_below for c in applied],
                        "a": [c.alerts.acceptance_above for c in applied],
                        "n": [c.alerts.min_decisions for c in applied],
                    },
                )
        for config in applied:
            log.info(
                "routing_config.applied",
                version=config.version,
                acceptance_below=config.alerts.acceptance_below,
                acceptance_above=config.alerts.acceptance_above,
                min_decisions=config.alerts.min_decisions,
            )
        if dead:
            self.runtime.relay.wake()
