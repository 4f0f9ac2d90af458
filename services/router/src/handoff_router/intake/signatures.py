"""How each tool proves a delivery is its own, checked as its vendor documents it (CONTRACT §10).

- HubSpot (``X-HubSpot-Signature-v3``): base64 HMAC-SHA256, keyed with the app's client
  secret, of method + full URI + body + ``X-HubSpot-Request-Timestamp`` (milliseconds); the URI
  with the characters HubSpot decodes decoded. Older than 5 minutes: refused.
- Mautic (``Webhook-Signature``): base64 HMAC-SHA256 of the body.
- Segment (``X-Signature``): hex HMAC-SHA1 of the body.
- Marketo, Salesforce Flow, generic: Standard Webhooks (the spec's v1 scheme; ``webhook-id``,
  ``webhook-timestamp``, ``webhook-signature``, older than 5 minutes refused), or the shared key
  in ``X-Handoff-Intake-Key``.

``check_headers`` runs before the body is read (what is missing, stale or a wrong key is
refused then); ``check_body`` verifies the signature over the body. Each raises ``BadSignature``
saying why. Pure: the time is given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta

from handoff_router.intake.presets import Auth

TOLERANCE = timedelta(minutes=5)
SECRET_PREFIX = "whsec_"
KEY_HEADER = "x-handoff-intake-key"
HUBSPOT_SIGNATURE = "x-hubspot-signature-v3"
HUBSPOT_TIMESTAMP = "x-hubspot-request-timestamp"
MAUTIC_SIGNATURE = "webhook-signature"
SEGMENT_SIGNATURE = "x-signature"
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# HubSpot decodes these in the request URI before signing (its v3 documentation lists them).
_HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


class BadSignature(Exception):
    """A delivery that does not prove it comes from the source; the message says why."""


def check_headers(auth: Auth, headers: Mapping[str, str], secret: str, now: datetime) -> bool:
    """What can be checked before the body: the headers are there and fresh, or the key is right.

    True when the key header alone authenticated the delivery (nothing to check in the body)."""
    if auth == "hubspot_v3":
        _require(headers, HUBSPOT_SIGNATURE, HUBSPOT_TIMESTAMP)
        _fresh(_milliseconds(headers[HUBSPOT_TIMESTAMP]), now)
    elif auth == "mautic":
        _require(headers, MAUTIC_SIGNATURE)
    elif auth == "segment":
        _require(headers, SEGMENT_SIGNATURE)
    elif KEY_HEADER in headers:
        if not hmac.compare_digest(headers[KEY_HEADER].encode(), secret.encode()):
            raise BadSignature(f"{KEY_HEADER} is not this source's key")
        return True
    else:
        if not all(name in headers for name in STANDARD_HEADERS):
            raise BadSignature(
                f"no {KEY_HEADER} header and no Standard Webhooks headers ({', '.join(STANDARD_HEADERS)})"
            )
        try:
            seconds = int(headers["webhook-timestamp"])
        except ValueError:
            raise BadSignature("webhook-timestamp is not a number of seconds") from None
        _fresh(seconds * 1000, now)
    return False


def check_body(
    auth: Auth, headers: Mapping[str, str], body: bytes, secret: str, *, method: str, uri: str
) -> None:
    """Verify the delivery's signature over ``body``; ``uri`` is the full URI it was sent to."""
    if auth == "hubspot_v3":
        message = method.upper().encode() + hubspot_uri(uri).encode() + body
        message += headers[HUBSPOT_TIMESTAMP].encode()
        _same(headers[HUBSPOT_SIGNATURE], _b64_sha256(secret, message), HUBSPOT_SIGNATURE)
    elif auth == "mautic":
        _same(headers[MAUTIC_SIGNATURE], _b64_sha256(secret, body), MAUTIC_SIGNATURE)
    elif auth == "segment":
        expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        _same(headers[SEGMENT_SIGNATURE].lower(), expected, SEGMENT_SIGNATURE)
    else:
        _standard_webhooks(headers, body, secret)


def _standard_webhooks(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """``webhook-signature``: any of its space-separated ``v1,<base64>`` signatures is base64
    HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}``, keyed with the secret's bytes
    (the base64 after ``whsec_``). Checked over the raw bytes: the body need not even be JSON
    (the standardwebhooks package parses it, and what it cannot parse is dead-lettered here)."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        key = secret.encode()  # a key the other system chose, not base64: its bytes as they are
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    given = [part.partition(",") for part in headers["webhook-signature"].split()]
    if not any(
        version == "v1" and hmac.compare_digest(value.encode(), expected) for version, _, value in given
    ):
        raise BadSignature("webhook-signature does not match the body signed with this source's secret")


def hubspot_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the characters it lists decoded, the rest left encoded."""
    for encoded, character in _HUBSPOT_DECODED.items():
        uri = uri.replace(encoded, character).replace(encoded.lower(), character)
    return uri


def _b64_sha256(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _same(given: str, expected: str, header: str) -> None:
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise BadSignature(f"{header} does not match the body signed with this source's secret")


def _require(headers: Mapping[str, str], *names: str) -> None:
    missing = [name for name in names if not headers.get(name)]
    if missing:
        raise BadSignature(f"missing header {', '.join(missing)}")


def _milliseconds(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadSignature(f"{HUBSPOT_TIMESTAMP} is not a number of milliseconds") from None


def _fresh(milliseconds: int, now: datetime) -> None:
    age = now.timestamp() * 1000 - milliseconds
    if abs(age) > TOLERANCE.total_seconds() * 1000:
        raise BadSignature(
            f"the signature's timestamp is {abs(age) / 1000:.0f}s {'old' if age > 0 else 'ahead'};"
            " more than 5 minutes is refused"
        )
