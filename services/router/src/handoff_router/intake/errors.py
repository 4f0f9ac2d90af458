"""The intake feature's refusals (mapped to HTTP statuses in ``handoff_router.errors``)."""

from __future__ import annotations

from handoff_shared.http import DomainError


class UnknownSource(DomainError):
    """No source of the active routing config has this id (404)."""


class NotAuthenticatedSource(DomainError):
    """The delivery's signature or key is missing, wrong or stale, or no secret is set (401)."""


class BodyTooLarge(DomainError):
    """The body is over the limit (413), said before it is read when Content-Length tells."""


class KafkaNotReady(DomainError):
    """The producer is not connected yet: the tool retries a 503."""


class SecretsUnavailable(DomainError):
    """``HANDOFF_CALLBACK_SECRETS_KEY`` is not set: secrets can be neither set nor checked (503)."""


class InvalidImport(DomainError):
    """A CSV the import cannot read: wrong header or delimiter, or an invalid mapping (422)."""
