"""The Slack feature's refusals."""

from __future__ import annotations

from handoff_shared.http import DomainError


class NotFromSlack(DomainError):
    """An interaction whose signature or timestamp does not check out (forged, stale, unsigned)."""


class SlackNotConfigured(DomainError):
    """``HANDOFF_SLACK_SIGNING_SECRET`` is not set: no interaction can be trusted."""
