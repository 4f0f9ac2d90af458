"""How a Kafka client authenticates and encrypts: PLAINTEXT (the local stack), TLS, and
SASL/SCRAM-SHA-512 over TLS (production, as Strimzi's `scram-sha-512` listeners expect).

Every client a service builds (producer, consumers, admin, the dead-letter tool) takes its
options from here, so one set of ``HANDOFF_KAFKA_*`` settings secures them all.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


@dataclass(frozen=True)
class KafkaSecurity:
    """The security settings of every Kafka client of a process."""

    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)  # never in a log line
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    check_hostname: bool = True

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in {"SSL", "SASL_SSL"}

    def problems(self) -> list[str]:
        """What is missing for this protocol (empty when the settings hang together)."""
        found = []
        if self.uses_sasl and not (self.username and self.password):
            found.append(f"{self.protocol} needs HANDOFF_KAFKA_SASL_USERNAME and HANDOFF_KAFKA_SASL_PASSWORD")
        if (self.certfile is None) != (self.keyfile is None):
            found.append("HANDOFF_KAFKA_SSL_CERTFILE and HANDOFF_KAFKA_SSL_KEYFILE go together")
        return found

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the broker against ``cafile`` (or the system's CAs); a client certificate if given."""
        context = ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)
        context.check_hostname = self.check_hostname
        if self.certfile is not None and self.keyfile is not None:
            context.load_cert_chain(str(self.certfile), str(self.keyfile))
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options.update(
                sasl_mechanism=self.mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return options


PLAINTEXT = KafkaSecurity()
