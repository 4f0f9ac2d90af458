"""Intake's presets on their vendors' samples, filters, mappings, ids and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jmespath
import pytest
from handoff_router.intake.admin_mqls import read_mqls
from handoff_router.intake.presets import PRESETS
from handoff_router.intake.records import (
    Accepted,
    Filtered,
    Outcome,
    Refused,
    Unreadable,
    map_record,
    read_json,
    split,
)
from handoff_router.routing.config import ConfigInvalid, validate_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "intake"


def outcomes(preset: str, body: bytes, *, when: str | None = None, **mapping: str) -> list[Outcome]:
    chosen = PRESETS[preset]
    return [
        map_record(
            index, record, source_id="src", preset=chosen, when=jmespath.compile(when) if when else None,
            overrides={path.replace("__", "."): jmespath.compile(text) for path, text in mapping.items()},
        )
        for index, record in enumerate(split(chosen, read_json(body)))
    ]  # fmt: skip


def accepted(preset: str, body: bytes | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    found = outcomes(preset, body or (FIXTURES / f"{preset}.json").read_bytes(), **kwargs)
    assert all(isinstance(o, Accepted) for o in found), found
    return [o.mql.model_dump(mode="json", exclude_none=True) for o in found if isinstance(o, Accepted)]


def test_hubspot_contact_with_history_is_mapped_and_normalised() -> None:
    (lead,) = accepted("hubspot_workflow")
    assert lead["lead_id"] == "hubspot:3234574"
    assert lead["email"] == "Lorelai.Gilmore@dragonfly-inn.com"
    assert lead["company"] == {"name": "Dragonfly Inn", "domain": "dragonfly-inn.com", "employees": 1200,
                               "annual_revenue": 25_000_000}  # fmt: skip
    assert (lead["country"], lead["region"]) == ("US", "US-CT")
    assert lead["attributes"]["lifecyclestage"] == "marketingqualifiedlead"
    assert lead["attributes"]["original"]["company"]["employees"] == "1,200"


def test_hubspot_object_api_shape_without_history_is_mapped() -> None:
    body = json.dumps({"objectId": 77, "properties": {"email": "x@Acme.io", "numemployees": "5k"}}).encode()
    (lead,) = accepted("hubspot_workflow", body)
    assert lead["lead_id"] == "hubspot:77"
    assert lead["company"]["employees"] == 5000


def test_marketo_template_output_is_mapped() -> None:
    (lead,) = accepted("marketo")
    assert lead["lead_id"] == "marketo:1001"
    assert (lead["country"], lead["region"], lead["score"]) == ("DE", "DE-BY", 87)
    assert lead["company"]["employees"] == 5000


def test_salesforce_flow_lead_is_mapped() -> None:
    (lead,) = accepted("salesforce_flow")
    assert lead["lead_id"] == "salesforce:00Q5g00000AbCdEEAV"
    assert (lead["email"], lead["country"], lead["region"]) == ("ksynder@tnr.net", "US", "US-CT")
    assert lead["attributes"]["status"] == "Working - Contacted"


def test_mautic_events_are_mapped_per_event_type() -> None:
    (lead,) = accepted("mautic")
    assert lead["lead_id"] == "mautic:7"
    assert (lead["email"], lead["country"], lead["title"]) == ("ana.silva@orbital.pt", "PT", "CTO")
    assert lead["attributes"]["mautic_event"] == "mautic.lead_post_save_new"
    form = {"mautic.form_on_submit": [{"submission": {"id": 3, "lead": {"id": 9, "fields": {"core": {}}},
            "results": {"email": "f@form.io"}}, "timestamp": "2017-05-05T14:16:24+00:00"}]}  # fmt: skip
    (submitted,) = accepted("mautic", json.dumps(form).encode())
    assert (submitted["lead_id"], submitted["email"]) == ("mautic:9", "f@form.io")


def test_segment_batch_of_identify_and_track_is_mapped() -> None:
    identify, track = accepted("segment")
    assert identify["lead_id"] == "segment:97980cfea0067"
    assert identify["company"]["employees"] == 51  # "51-200": the bucket's lower bound
    assert track["email"] == "michael.bolton@initech.com"
    assert track["attributes"]["segment_event"] == "Demo Requested"


def test_generic_records_are_mapped_by_their_contract_names() -> None:
    (lead,) = accepted("generic")
    assert (lead["lead_id"], lead["country"], lead["product_interest"]) == ("web-4711", "AT", ["routing"])


def test_when_false_filters_and_mapping_overrides() -> None:
    body = b'[{"id": "a", "mail": "a@acme.io", "stage": "mql", "n": "2k"}, {"id": "b", "mail": "b@acme.io"}]'
    found = outcomes("generic", body, when="stage == 'mql'", lead_id="id", email="mail",
                     company__employees="n")  # fmt: skip
    assert isinstance(found[0], Accepted)
    assert isinstance(found[1], Filtered)
    assert found[0].mql.lead_id == "a"
    assert found[0].mql.company is not None
    assert found[0].mql.company.employees == 2000


def test_the_same_record_gets_the_same_event_id_and_another_record_another() -> None:
    body = (FIXTURES / "segment.json").read_bytes()
    first, second = outcomes("segment", body), outcomes("segment", body)
    assert [o.event_id for o in first if isinstance(o, Accepted)] == [
        o.event_id for o in second if isinstance(o, Accepted)
    ]
    assert len({o.event_id for o in first if isinstance(o, Accepted)}) == 2


@pytest.mark.parametrize(
    ("body", "error_class"),
    [(b"\xff\xfe{}", "not_json"), (b"[" * 100 + b"]" * 100, "too_deep"), (b"", "not_json"),
     (b"NaN", "not_json"), (b'{"a": ' * 40 + b"1" + b"}" * 40, "too_deep")],
)  # fmt: skip
def test_unreadable_bodies_say_why(body: bytes, error_class: str) -> None:
    with pytest.raises(Unreadable) as raised:
        read_json(body)
    assert raised.value.error_class == error_class


@pytest.mark.parametrize(
    "record",
    [{"email": "not-an-email"}, {"lead_id": "x"},
     {"lead_id": "x", "email": "a@b.io", "company": {"employees": 10**30}},
     {"lead_id": "x", "email": "a@b.io", "score": "99999999999999999999 million"},
     {"lead_id": "x", "email": "a@b.io", "country": "Atlantis"}],
)  # fmt: skip
def test_unmappable_records_are_refused_with_a_reason(record: dict[str, Any]) -> None:
    (outcome,) = outcomes("generic", json.dumps(record).encode())
    assert isinstance(outcome, Refused)
    assert outcome.error_class == "invalid_data"


def test_admin_mqls_take_an_object_an_array_ndjson_and_cloudevents() -> None:
    one = b'{"lead_id": "a1", "email": "a@acme.io"}'
    assert isinstance(read_mqls(one, {"content-type": "application/json"})[0], Accepted)
    assert len(read_mqls(b"[" + one + b"," + one + b"]", {})) == 2
    lines = one + b"\n" + b'{"lead_id": "a2", "email": "bad"}\n'
    ndjson = read_mqls(lines, {"content-type": "application/x-ndjson"})
    assert [type(outcome) for outcome in ndjson] == [Accepted, Refused]
    envelope = {
        "specversion": "1.0", "id": "ev-1", "source": "mkt", "type": "mql.created", "subject": "a1",
        "time": "2026-01-01T00:00:00Z", "datacontenttype": "application/json", "data": json.loads(one),
    }  # fmt: skip
    (structured,) = read_mqls(json.dumps(envelope).encode(), {"content-type": "application/cloudevents+json"})
    assert isinstance(structured, Accepted)
    assert structured.event_id == "ev-1"
    binary_headers = {
        "ce-specversion": "1.0", "ce-id": "ev-2", "ce-source": "mkt", "ce-type": "mql.created",
        "ce-subject": "a1", "ce-time": "2026-01-01T00:00:00Z", "content-type": "application/json",
    }  # fmt: skip
    (binary,) = read_mqls(one, binary_headers)
    assert isinstance(binary, Accepted)
    assert binary.event_id == "ev-2"


BASE = {"reps": [{"id": "a", "email": "a@x.io", "callback_url": "http://x.io/h"}],
        "teams": [{"id": "t", "members": ["a"]}], "fallback_team": "t"}  # fmt: skip


def test_intake_sources_are_validated_with_exact_paths() -> None:
    sources = [
        {"id": "hs", "preset": "hubspot", "when": "a ==", "mapping": {"company.employes": "x", "email": "[["}}
    ]
    with pytest.raises(ConfigInvalid) as raised:
        validate_config({**BASE, "intake": {"sources": sources}})
    paths = {problem.path for problem in raised.value.problems}
    assert paths == {
        "intake.sources[0].preset",
        "intake.sources[0].when",
        "intake.sources[0].mapping.company.employes",
        "intake.sources[0].mapping.email",
    }


def test_a_source_id_given_twice_is_refused() -> None:
    sources = [{"id": "hs", "preset": "generic"}, {"id": "hs", "preset": "segment"}]
    with pytest.raises(ConfigInvalid, match="repeated: hs"):
        validate_config({**BASE, "intake": {"sources": sources}})


def test_valid_sources_compile_once() -> None:
    when = "properties.lifecyclestage.value == 'marketingqualifiedlead'"
    sources = [{"id": "hs", "preset": "hubspot_workflow", "when": when}]
    config = validate_config({**BASE, "intake": {"sources": sources}})
    (source,) = config.intake_sources
    assert source.compiled_when is source.compiled_when
