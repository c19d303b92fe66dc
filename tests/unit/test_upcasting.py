"""Schema evolution: stored events are never rewritten; old payloads are upcast when read.

Test-only event types get a unique name per test and are removed from the global registry
afterwards, so no other test ever sees them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from core import events as registry
from core.envelope import Event, format_time
from core.events import DomainEvent, decode, known_types, register, register_upcaster, upcast
from core.incidents import events as incident_events
from core.incidents.accounts import Account, Kind, Position
from core.parties import OfficerRegistered, PartyRegistered

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@contextmanager
def unique_types() -> Iterator[dict[str, str]]:
    """Unique type names; every registration under them is undone on exit."""
    tag = uuid.uuid4().hex[:12]
    made = {
        "old": f"parley.test-{tag}.widget-noted.v1",
        "new": f"parley.test-{tag}.widget-recorded.v2",
        "other": f"parley.test-{tag}.gadget.v1",
    }
    try:
        yield made
    finally:
        for name in made.values():
            registry._TYPES.pop(name, None)
            for key in [k for k in registry._UPCASTERS if k[0] == name]:
                del registry._UPCASTERS[key]


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    with unique_types() as made:
        yield made


def widget_class(type_name: str) -> type[DomainEvent]:
    class WidgetRecorded(DomainEvent):
        TYPE = type_name
        SCHEMA_VERSION = 2
        title: str
        count: int

    return register(WidgetRecorded)


def envelope(type_name: str, data: dict, *, schemaversion: int = 1) -> Event:
    return Event(id="e-1", type=type_name, source="/parties/USA/officers/u1", subject="w-1", time=format_time(T0),
                 aggtype="widget", aggversion=1, party="USA", actor="u1", schemaversion=schemaversion, data=data)


def rename_and_count(data: dict) -> dict:
    return {"title": data.pop("name"), "count": len(data.pop("items"))}


def test_old_event_type_is_decoded_as_the_new_one(names):
    recorded = widget_class(names["new"])
    register_upcaster(from_type=names["old"], from_version=1, to_type=names["new"], to_version=2,
                      upcast=rename_and_count)

    decoded = decode(envelope(names["old"], {"name": "crate", "items": ["a", "b", "c"]}))

    assert type(decoded) is recorded
    assert decoded == recorded(title="crate", count=3)


def test_current_type_is_decoded_without_upcasting(names):
    recorded = widget_class(names["new"])
    register_upcaster(from_type=names["old"], from_version=1, to_type=names["new"], to_version=2,
                      upcast=rename_and_count)

    assert decode(envelope(names["new"], {"title": "crate", "count": 1}, schemaversion=2)) == recorded(
        title="crate", count=1)


def test_upcasters_chain_across_schema_versions_of_one_type(names):
    recorded = widget_class(names["new"])
    register_upcaster(from_type=names["new"], from_version=0, to_type=names["new"], to_version=1,
                      upcast=lambda d: {"name": d["label"].strip(), "items": d["items"]})
    register_upcaster(from_type=names["new"], from_version=1, to_type=names["new"], to_version=2,
                      upcast=rename_and_count)

    assert decode(envelope(names["new"], {"label": " crate ", "items": [1]}, schemaversion=0)) == recorded(
        title="crate", count=1)
    assert decode(envelope(names["new"], {"name": "box", "items": []}, schemaversion=1)) == recorded(
        title="box", count=0)


def test_upcasting_never_changes_the_stored_payload(names):
    widget_class(names["new"])
    register_upcaster(from_type=names["old"], from_version=1, to_type=names["new"], to_version=2,
                      upcast=rename_and_count)
    stored = envelope(names["old"], {"name": "crate", "items": ["a"]})

    decode(stored)

    assert stored.data == {"name": "crate", "items": ["a"]}


def test_upcaster_is_chosen_by_schema_version(names):
    widget_class(names["new"])
    register_upcaster(from_type=names["new"], from_version=1, to_type=names["new"], to_version=2,
                      upcast=rename_and_count)

    assert upcast(names["new"], 2, {"title": "t", "count": 0}) == (names["new"], {"title": "t", "count": 0})
    assert upcast(names["new"], 1, {"name": "t", "items": []}) == (names["new"], {"title": "t", "count": 0})


def test_unknown_event_type_is_reported_by_name(names):
    with pytest.raises(ValueError, match=f"unknown event type '{names['other']}'"):
        decode(envelope(names["other"], {}))


def test_upcaster_cycle_is_detected(names):
    register_upcaster(from_type=names["old"], from_version=1, to_type=names["other"], to_version=1, upcast=dict)
    register_upcaster(from_type=names["other"], from_version=1, to_type=names["old"], to_version=1, upcast=dict)

    with pytest.raises(ValueError, match="upcaster cycle"):
        decode(envelope(names["old"], {}))


def test_registering_a_different_class_under_a_taken_type_is_refused(names):
    widget_class(names["new"])

    with pytest.raises(ValueError, match="registered twice"):
        widget_class(names["new"])


def test_test_only_types_leave_no_trace_in_the_global_registry():
    with unique_types() as made:
        widget_class(made["new"])
        register_upcaster(from_type=made["old"], from_version=1, to_type=made["new"], to_version=2,
                          upcast=rename_and_count)
        assert made["new"] in known_types()

    assert made["new"] not in known_types()
    assert (made["old"], 1) not in registry._UPCASTERS


ACCOUNT = Account(kind=Kind.BORDER_INCIDENT, started_at=T0, ended_at=T0, position=Position(lat=48.5, lon=38.0),
                  severity=2)
CURRENT_EVENTS = [
    PartyRegistered(code="USA", name="United States"),
    OfficerRegistered(officer_id="usa-1", name="Smith"),
    incident_events.IncidentReported(parties=["USA", "RUS"], account=ACCOUNT),
    incident_events.IncidentAcknowledged(),
    incident_events.CounterAccountFiled(account=ACCOUNT),
    incident_events.AccountAmended(account=ACCOUNT, reason="typo"),
    incident_events.IncidentRetracted(reason="duplicate"),
    incident_events.ClarificationRequested(clarification_id="q1", to_party="RUS", question="Why?"),
    incident_events.ClarificationProvided(clarification_id="q1", answer="Because."),
    incident_events.ReconciliationAgreed(agreed_fields=["time"], note="ok"),
    incident_events.IncidentDisputed(disputed_fields=["cpa"], statement="No."),
    incident_events.IncidentReferredToReview(forum="INCSEA"),
    incident_events.IncidentResolved(finding="Settled."),
]


@pytest.mark.parametrize("domain_event", CURRENT_EVENTS, ids=lambda ev: type(ev).__name__)
def test_every_current_event_decodes_from_its_stored_json_unchanged(domain_event):
    stored = Event.from_json(envelope(domain_event.TYPE, domain_event.payload(),
                                      schemaversion=domain_event.SCHEMA_VERSION).to_json())

    assert decode(stored) == domain_event
    assert known_types()[domain_event.TYPE] is type(domain_event)
