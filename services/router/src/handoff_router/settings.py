"""The router's settings (environment, prefix ``HANDOFF_``)."""

from __future__ import annotations

from datetime import timedelta

from handoff_shared.addresses import AddressPolicy
from handoff_shared.settings import Duration, ServiceSettings
from pydantic import Field, SecretStr, field_validator


class RouterSettings(ServiceSettings):
    service_name: str = "router"
    http_port: int = 8081
    consumer_group: str = "handoff-router"
    reassign_group: str = "handoff-router-reassign"
    event_source: str = "handoff/router"
    queue_drain_interval: Duration = timedelta(seconds=30)
    # Retention (handoff_router/retention.py). Idempotency keys outlive the dead letters that
    # can be replayed (the *.dlq topics keep 30 days).
    processed_events_retention: Duration = timedelta(days=35)
    callback_deliveries_retention: Duration = timedelta(days=30)
    assignments_retention: Duration = timedelta(days=400)

    # Callbacks (README "Callbacks"): secrets, address safety, concurrency, timeouts, retries, circuit.
    # Fernet keys, comma-separated: the first seals secrets, every one opens them (rotation).
    callback_secrets_key: SecretStr = SecretStr("")
    callback_secret_grace: Duration = timedelta(hours=24)
    rep_token_ttl: Duration | None = None  # a rep token stops working this long after it was issued
    callback_allow_private: bool = False
    callback_allowed_networks: str = ""  # comma-separated, e.g. 10.20.0.0/16
    callback_delivery: bool = True  # run the delivery worker in this process
    callback_concurrency: int = Field(default=128, ge=1, le=10_000)
    callback_per_endpoint: int = Field(default=8, ge=1, le=1000)
    callback_connect_timeout: Duration = timedelta(seconds=5)
    callback_timeout: Duration = timedelta(seconds=15)
    callback_poll: Duration = timedelta(milliseconds=200)
    callback_retry_base: Duration = timedelta(seconds=5)
    callback_retry_max_delay: Duration = timedelta(hours=6)
    callback_retry_window: Duration = timedelta(days=3)
    callback_failure_threshold: int = Field(default=5, ge=1)
    callback_open_for: Duration = timedelta(seconds=30)
    callback_max_open_for: Duration = timedelta(minutes=10)

    # Intake (CONTRACT §10, docs/intake.md): the public base URL the router is reached at behind a
    # proxy (HubSpot signs the full URI it posted to), body limits, and how long a source's
    # secret is kept in memory after it was read (a secret set on another replica takes effect
    # within that time).
    intake_public_url: str = ""  # e.g. https://handoff.example.com; empty: the request's own URL
    intake_max_body: int = Field(default=2 * 1024 * 1024, ge=1024)
    intake_import_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    intake_secret_cache: Duration = timedelta(seconds=5)

    @field_validator("rep_token_ttl", mode="before")
    @classmethod
    def _empty_is_never(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def outbound_addresses(self) -> AddressPolicy:
        """The address rule of every outbound call (callbacks, calendar feeds, Slack, SMTP):
        ``callback_allow_private`` and ``callback_allowed_networks`` apply to all of them."""
        return AddressPolicy.of(self.callback_allow_private, self.callback_allowed_networks)

    # Where reps work (README "Slack, e-mail, inbox and calendars").
    slack_bot_token: SecretStr = SecretStr("")  # xoxb-...: without it, Slack is off
    slack_signing_secret: SecretStr = SecretStr("")  # verifies POST /v1/slack/interactions
    slack_api_url: str = "https://slack.com/api/"
    smtp_url: str = ""  # smtp://host:port (smtps:// for TLS); empty: e-mail is off
    smtp_from: str = "Handoff <handoff@localhost>"
    public_url: str = ""  # the router's address as reps reach it: links to /inbox (default: own)
    calendar_refresh: Duration = timedelta(minutes=15)
    calendar_timeout: Duration = timedelta(seconds=10)
    calendar_max_bytes: int = Field(default=5_000_000, ge=1000)
    calendar_horizon: Duration = timedelta(days=60)  # how far ahead busy spans are kept
    calendar_concurrency: int = Field(default=16, ge=1, le=500)
