"""The callbacks' domain errors; ``handoff_router.errors`` maps each to its HTTP status."""

from __future__ import annotations

from handoff_shared.http import DomainError


class DeliveryNotFound(DomainError):
    """No delivery with that id."""


class UnknownRecipient(DomainError):
    """No rep or manager with that id in the active config."""


class SecretsNotConfigured(DomainError):
    """No ``HANDOFF_CALLBACK_SECRETS_KEY``: secrets cannot be issued."""
