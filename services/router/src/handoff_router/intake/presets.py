"""What each marketing tool posts, from the vendor's own documentation: how a delivery splits
into records, where each contract field sits in a record (JMESPath), what identifies a record
(its event id is derived from it), and how the tool authenticates.

A source's ``mapping`` overrides a preset's expressions field by field. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jmespath
from jmespath.parser import ParsedResult

Auth = Literal["hubspot_v3", "mautic", "segment", "key_or_standard_webhooks"]
Records = Callable[[Any], list[Any]]


class NotRecords(ValueError):
    """A delivery whose shape is not what the tool sends (e.g. a string where an object was due)."""


@dataclass(frozen=True)
class Preset:
    """One tool's payload and authentication."""

    name: str
    auth: Auth
    records: Records
    mapping: Mapping[str, str]
    identity: str | None = None  # JMESPath naming a record uniquely; else the record's own content
    lead_prefix: str = ""  # lead ids from this tool: "hubspot:901"
    compiled: Mapping[str, ParsedResult] = field(init=False)
    compiled_identity: ParsedResult | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "compiled", {path: jmespath.compile(text) for path, text in self.mapping.items()}
        )
        object.__setattr__(
            self, "compiled_identity", jmespath.compile(self.identity) if self.identity else None
        )


def _one_or_many(payload: Any) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        return [payload]
    raise NotRecords(f"a JSON object or array of objects was expected, not a {type(payload).__name__}")


def _salesforce(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and isinstance(payload.get("records"), list):
        return list(payload["records"])
    return _one_or_many(payload)


MAUTIC_EVENTS = ("mautic.lead_post_save_new", "mautic.lead_points_change", "mautic.form_on_submit")


def _mautic(payload: Any) -> list[Any]:
    """Mautic posts ``{event type: [item, ...]}``; each item becomes a record with its ``event``."""
    if not isinstance(payload, dict):
        raise NotRecords("Mautic posts an object of event type -> list of events")
    records: list[Any] = []
    for event, items in payload.items():
        if event == "timestamp":
            continue
        if not isinstance(items, list):
            raise NotRecords(f"{str(event)[:100]}: a list of events was expected")
        for item in items:
            if isinstance(item, dict) and "contact" not in item and isinstance(item.get("lead"), dict):
                item = {**item, "contact": item["lead"]}  # Mautic 2 named the contact "lead"
            records.append({"event": event, **item} if isinstance(item, dict) else item)
    return records


def _segment(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        return list(payload["batch"])
    return _one_or_many(payload)


def _hubspot(payload: Any) -> list[Any]:
    return _one_or_many(payload)


def _property(name: str) -> str:
    """A HubSpot property, with its history (``{value, versions}``) or as a plain value."""
    return f"properties.{name}.value || properties.{name}"


HUBSPOT = Preset(
    name="hubspot_workflow",
    auth="hubspot_v3",
    records=_hubspot,
    mapping={
        "lead_id": 'objectId || vid || "canonical-vid"',
        "email": _property("email"),
        "first_name": _property("firstname"),
        "last_name": _property("lastname"),
        "title": _property("jobtitle"),
        "phone": _property("phone"),
        "company.name": _property("company"),
        "company.domain": _property("domain"),
        "company.employees": _property("numemployees"),
        "company.industry": _property("industry"),
        "company.annual_revenue": _property("annualrevenue"),
        "country": _property("country"),
        "region": _property("state"),
        "postal_code": _property("zip"),
        "source": _property("hs_analytics_source"),
        "campaign": _property("hs_analytics_first_touch_converting_campaign"),
        "score": _property("hubspotscore"),
        "attributes.lifecyclestage": _property("lifecyclestage"),
    },
    lead_prefix="hubspot:",
)

# The fields of the template docs/intake.md gives a Marketo admin to paste: it renders our names.
MARKETO = Preset(
    name="marketo",
    auth="key_or_standard_webhooks",
    records=_one_or_many,
    mapping={
        "lead_id": "lead_id",
        "email": "email",
        "first_name": "first_name",
        "last_name": "last_name",
        "title": "title",
        "phone": "phone",
        "company.name": "company.name",
        "company.employees": "company.employees",
        "company.industry": "company.industry",
        "company.annual_revenue": "company.annual_revenue",
        "country": "country",
        "region": "region",
        "postal_code": "postal_code",
        "source": "source",
        "campaign": "campaign",
        "score": "score",
    },
    lead_prefix="marketo:",
)

# A record-triggered Flow's HTTP callout sends the Lead's fields by their API names.
SALESFORCE = Preset(
    name="salesforce_flow",
    auth="key_or_standard_webhooks",
    records=_salesforce,
    mapping={
        "lead_id": "Id",
        "email": "Email",
        "first_name": "FirstName",
        "last_name": "LastName",
        "title": "Title",
        "phone": "Phone || MobilePhone",
        "company.name": "Company",
        "company.domain": "Website",
        "company.employees": "NumberOfEmployees",
        "company.industry": "Industry",
        "company.annual_revenue": "AnnualRevenue",
        "country": "CountryCode || Country",
        "region": "StateCode || State",
        "postal_code": "PostalCode",
        "source": "LeadSource",
        "campaign": "Campaign__c",
        "score": "Lead_Score__c",
        "attributes.status": "Status",
    },
    lead_prefix="salesforce:",
)


def _mautic_field(name: str) -> str:
    """A contact field of a Mautic event (contact events, or the form submission's lead)."""
    return (
        f"contact.fields.core.{name}.value || contact.fields.all.{name}"
        f" || submission.lead.fields.core.{name}.value || submission.lead.fields.all.{name}"
    )


MAUTIC = Preset(
    name="mautic",
    auth="mautic",
    records=_mautic,
    mapping={
        "lead_id": "contact.id || submission.lead.id",
        "email": f"{_mautic_field('email')} || submission.results.email",
        "first_name": _mautic_field("firstname"),
        "last_name": _mautic_field("lastname"),
        "title": _mautic_field("position"),
        "phone": f"{_mautic_field('phone')} || {_mautic_field('mobile')}",
        "company.name": _mautic_field("company"),
        "country": _mautic_field("country"),
        "region": _mautic_field("state"),
        "postal_code": _mautic_field("zipcode"),
        "score": "contact.points || points.new_points || submission.lead.points",
        "attributes.mautic_event": "event",
    },
    identity="join('|', [event, to_string(contact.id || submission.lead.id), to_string(timestamp)])",
    lead_prefix="mautic:",
)


def _trait(name: str) -> str:
    return f"traits.{name} || context.traits.{name} || properties.{name}"


SEGMENT = Preset(
    name="segment",
    auth="segment",
    records=_segment,
    mapping={
        "lead_id": "userId || anonymousId",
        "email": _trait("email"),
        "first_name": f"{_trait('firstName')} || {_trait('first_name')}",
        "last_name": f"{_trait('lastName')} || {_trait('last_name')}",
        "title": _trait("title"),
        "phone": _trait("phone"),
        "company.name": "traits.company.name || context.traits.company.name || traits.company",
        "company.employees": "traits.company.employee_count || context.traits.company.employee_count",
        "company.industry": "traits.company.industry || context.traits.company.industry",
        "country": "traits.address.country || context.traits.address.country || context.location.country",
        "region": "traits.address.state || context.traits.address.state",
        "postal_code": "traits.address.postalCode || context.traits.address.postalCode",
        "campaign": "context.campaign.name",
        "source": "context.campaign.source",
        "attributes.segment_type": "type",
        "attributes.segment_event": "event",
    },
    identity="messageId",
    lead_prefix="segment:",
)

GENERIC = Preset(
    name="generic",
    auth="key_or_standard_webhooks",
    records=_one_or_many,
    mapping={
        "lead_id": "lead_id",
        "email": "email",
        "first_name": "first_name",
        "last_name": "last_name",
        "title": "title",
        "phone": "phone",
        "company.name": "company.name",
        "company.domain": "company.domain",
        "company.employees": "company.employees",
        "company.industry": "company.industry",
        "company.annual_revenue": "company.annual_revenue",
        "country": "country",
        "region": "region",
        "postal_code": "postal_code",
        "source": "source",
        "campaign": "campaign",
        "score": "score",
        "product_interest": "product_interest",
        "mql_at": "mql_at",
        "attributes": "attributes",
    },
)

PRESETS: Mapping[str, Preset] = {
    preset.name: preset for preset in (HUBSPOT, MARKETO, SALESFORCE, MAUTIC, SEGMENT, GENERIC)
}
