"""``intake.sources`` of the routing config (CONTRACT §10): where MQLs may be POSTed from.

Each source has an id (its URL: ``POST /v1/intake/{id}``), a preset naming the tool that posts
(its payload shape and how it authenticates), an optional JMESPath ``when`` (a record for which
it is false is filtered) and ``mapping`` overrides (a contract field -> a JMESPath over one
record). Expressions are compiled when the config is validated, so a config that applies is
one whose expressions all compile; each problem is reported at its path
(``intake.sources[0].mapping.company.employees``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

PRESETS = ("hubspot_workflow", "marketo", "salesforce_flow", "mautic", "segment", "generic")
Preset = Literal["hubspot_workflow", "marketo", "salesforce_flow", "mautic", "segment", "generic"]
MQL_FIELDS = frozenset(
    {
        "lead_id",
        "email",
        "first_name",
        "last_name",
        "title",
        "phone",
        "company.name",
        "company.domain",
        "company.employees",
        "company.industry",
        "company.annual_revenue",
        "country",
        "region",
        "postal_code",
        "source",
        "campaign",
        "score",
        "product_interest",
        "mql_at",
    }
)


def _expression(text: str) -> str:
    try:
        jmespath.compile(text)
    except JMESPathError as error:
        raise ValueError(f"not a JMESPath expression: {str(error).splitlines()[0][:200]}") from None
    return text


def _field(path: str) -> str:
    if path in MQL_FIELDS or (path.startswith("attributes.") and all(path.split(".")[1:])):
        return path
    raise ValueError(
        f"{path!r} is not a field of mql.created (e.g. email, company.employees, attributes.segment)"
    )


Expression = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_expression)]
FieldPath = Annotated[str, Field(max_length=200), AfterValidator(_field)]
SourceId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class IntakeSource(BaseModel):
    """One tool posting MQLs to ``POST /v1/intake/{id}``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: SourceId
    preset: Preset
    when: Expression | None = None
    mapping: dict[FieldPath, Expression] = Field(default_factory=dict)

    @cached_property
    def compiled_when(self) -> ParsedResult | None:
        """``when``, compiled once per config."""
        return jmespath.compile(self.when) if self.when is not None else None

    @cached_property
    def compiled_mapping(self) -> dict[str, ParsedResult]:
        """``mapping``, each expression compiled once per config."""
        return {path: jmespath.compile(expression) for path, expression in self.mapping.items()}


class IntakePolicy(BaseModel):
    """``intake``: the sources MQLs may be posted from."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    sources: list[IntakeSource] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> IntakePolicy:
        ids = [source.id for source in self.sources]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"sources: each id once (repeated: {', '.join(twice)})")
        return self

    def source(self, source_id: str) -> IntakeSource | None:
        """The source with this id, or None."""
        return next((source for source in self.sources if source.id == source_id), None)
