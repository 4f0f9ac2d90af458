"""The acceptance alert thresholds in force: the newest routing config's (as ``configs/`` learnt
them from ``routing.config_applied``), else the ``HANDOFF_ALERT_*`` settings. Read by the
reports and the snapshots; the configs feature writes them."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from handoff_feedback.outcomes.alerts import AlertRule
from handoff_feedback.settings import Settings


def fallback_rule(settings: Settings) -> AlertRule:
    """The thresholds before any routing config is known."""
    return AlertRule(
        settings.alert_acceptance_below, settings.alert_acceptance_above, settings.alert_min_decisions
    )


async def rule_in_force(session: AsyncSession, settings: Settings) -> tuple[AlertRule, int | None]:
    """The newest applied routing config's thresholds and its version; else the settings' and None."""
    row = (
        await session.execute(
            text(
                "SELECT acceptance_below, acceptance_above, min_decisions, version"
                " FROM feedback.routing_configs ORDER BY applied_at DESC, version DESC LIMIT 1"
            )
        )
    ).first()
    if row is None:
        return fallback_rule(settings), None
    return AlertRule(float(row[0]), float(row[1]), int(row[2])), int(row[3])


async def alert_rule(session: AsyncSession, settings: Settings) -> AlertRule:
    """The thresholds alerts are judged by now."""
    return (await rule_in_force(session, settings))[0]
