"""Each preset's authentication, with signatures computed here as the vendor documents them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from handoff_router.intake.signatures import BadSignature, check_body, check_headers, hubspot_uri

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BODY = b'{"vid": 901, "properties": {"email": {"value": "a@acme.io"}}}'
URI = "https://handoff.example.com/v1/intake/hubspot-mql"


def hubspot_headers(secret: str, body: bytes, *, at: datetime = NOW, uri: str = URI) -> dict[str, str]:
    # HubSpot v3: base64 HMAC-SHA256 (client secret) of method + URI + body + timestamp (ms).
    timestamp = str(int(at.timestamp() * 1000))
    signed = ("POST" + uri).encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    return {"x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": timestamp}


def test_hubspot_v3_signature_is_accepted() -> None:
    headers = hubspot_headers("client-secret", BODY)
    assert check_headers("hubspot_v3", headers, "client-secret", NOW) is False
    check_body("hubspot_v3", headers, BODY, "client-secret", method="POST", uri=URI)


def test_hubspot_signature_over_another_uri_is_refused() -> None:
    headers = hubspot_headers(
        "client-secret", BODY, uri="https://elsewhere.example.com/v1/intake/hubspot-mql"
    )
    with pytest.raises(BadSignature, match="does not match"):
        check_body("hubspot_v3", headers, BODY, "client-secret", method="POST", uri=URI)


def test_hubspot_signs_its_listed_characters_decoded() -> None:
    encoded = URI + "?a=%3A%2Fx%20y"
    headers = hubspot_headers("s3cret-key", BODY, uri=URI + "?a=:/x%20y")
    check_body("hubspot_v3", headers, BODY, "s3cret-key", method="POST", uri=encoded)
    assert hubspot_uri(encoded) == URI + "?a=:/x%20y"


@pytest.mark.parametrize("age", [timedelta(minutes=5, seconds=1), timedelta(hours=2), -timedelta(minutes=6)])
def test_a_hubspot_timestamp_older_than_five_minutes_is_refused(age: timedelta) -> None:
    headers = hubspot_headers("client-secret", BODY, at=NOW - age)
    with pytest.raises(BadSignature, match="5 minutes"):
        check_headers("hubspot_v3", headers, "client-secret", NOW)


def test_a_missing_hubspot_signature_is_refused_before_the_body() -> None:
    with pytest.raises(BadSignature, match="missing header x-hubspot-signature-v3"):
        check_headers("hubspot_v3", {"x-hubspot-request-timestamp": "1"}, "s", NOW)


def test_mautic_signature_is_base64_hmac_sha256_of_the_body() -> None:
    signature = base64.b64encode(hmac.new(b"mautic-secret", BODY, hashlib.sha256).digest()).decode()
    headers = {"webhook-signature": signature}
    check_headers("mautic", headers, "mautic-secret", NOW)
    check_body("mautic", headers, BODY, "mautic-secret", method="POST", uri=URI)
    with pytest.raises(BadSignature):
        check_body("mautic", headers, BODY + b" ", "mautic-secret", method="POST", uri=URI)


def test_segment_signature_is_hex_hmac_sha1_of_the_body() -> None:
    headers = {"x-signature": hmac.new(b"segment-secret", BODY, hashlib.sha1).hexdigest()}
    check_headers("segment", headers, "segment-secret", NOW)
    check_body("segment", headers, BODY, "segment-secret", method="POST", uri=URI)
    with pytest.raises(BadSignature):
        check_body("segment", headers, BODY, "another-secret", method="POST", uri=URI)


def standard_headers(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    # Standard Webhooks: v1,base64 HMAC-SHA256 (key: the base64 after whsec_) of "id.timestamp.body".
    key = base64.b64decode(secret.removeprefix("whsec_"))
    timestamp = str(int(at.timestamp()))
    signed = f"msg_1.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": "msg_1", "webhook-timestamp": timestamp, "webhook-signature": f"v1,{signature}"}


SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_standard_webhooks_signature_is_accepted() -> None:
    now = datetime.now(UTC)  # the standardwebhooks package checks the timestamp against its own clock
    headers = standard_headers(SECRET, BODY, now)
    assert check_headers("key_or_standard_webhooks", headers, SECRET, now) is False
    check_body("key_or_standard_webhooks", headers, BODY, SECRET, method="POST", uri=URI)


def test_a_stale_standard_webhooks_timestamp_is_refused() -> None:
    headers = standard_headers(SECRET, BODY, NOW - timedelta(minutes=10))
    with pytest.raises(BadSignature, match="5 minutes"):
        check_headers("key_or_standard_webhooks", headers, SECRET, NOW)


def test_the_key_header_authenticates_alone() -> None:
    assert check_headers("key_or_standard_webhooks", {"x-handoff-intake-key": SECRET}, SECRET, NOW) is True
    with pytest.raises(BadSignature, match="not this source's key"):
        check_headers("key_or_standard_webhooks", {"x-handoff-intake-key": "guess"}, SECRET, NOW)


def test_no_key_and_no_signature_is_refused_saying_what_was_expected() -> None:
    with pytest.raises(BadSignature, match="x-handoff-intake-key"):
        check_headers("key_or_standard_webhooks", {}, SECRET, NOW)
