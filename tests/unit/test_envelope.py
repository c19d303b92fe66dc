"""The event envelope: CloudEvents shape, RFC 8785 hashing, hash chaining and time rendering."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_json as legacy_from_json
from hypothesis import given, settings
from hypothesis import strategies as st

from core.decider import Fact
from core.envelope import (
    SPECVERSION,
    Event,
    canonical_json,
    compute_hash,
    format_time,
    hash_is_valid,
    parse_time,
    _derived,
    seal,
    with_signature,
)

T0 = datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
EXTENSIONS = (
    "aggtype", "aggversion", "party", "actor", "schemaversion",
    "correlationid", "causationid", "prevhash", "hash", "signature", "backfilled",
)


def an_event(**changes) -> Event:
    base = Event(
        id="01956a2e-7c1f-7a3b-9a4e-3f2d1c0b9a87",
        type="parley.incident.reported.v1",
        source="/parties/USA/officers/usa-1",
        subject="inc-42",
        time=format_time(T0),
        aggtype="incident",
        aggversion=1,
        party="USA",
        actor="usa-1",
        correlationid="req-7",
        causationid="cause-3",
        data={"parties": ["USA", "RUS"], "severity": 3, "note": "ünïcödé ✓", "nested": {"b": 1, "a": [1.5, None]}},
    )
    return replace(base, **changes)


def independent_hash(obj: dict) -> str:
    body = {k: v for k, v in obj.items() if k not in ("hash", "signature")}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


# --- hashing -----------------------------------------------------------------------------------

def test_hash_is_sha256_of_rfc8785_json_without_hash_and_signature():
    sealed = replace(seal(an_event(), prevhash="ab" * 32), signature="sig-bytes")

    assert sealed.hash == independent_hash(sealed.to_dict())
    assert sealed.hash == independent_hash(json.loads(sealed.to_json()))
    assert hash_is_valid(sealed)


def test_hash_ignores_key_order_and_whitespace_of_the_stored_json():
    sealed = seal(an_event(), prevhash=None)
    pretty = json.dumps(dict(reversed(list(sealed.to_dict().items()))), indent=4).encode()

    assert hash_is_valid(Event.from_json(pretty))


TAMPERINGS = {
    "id": {"id": "01956a2e-7c1f-7a3b-9a4e-3f2d1c0b9a88"},
    "type": {"type": "parley.incident.retracted.v1"},
    "source": {"source": "/parties/RUS/officers/rus-1"},
    "subject": {"subject": "inc-43"},
    "time": {"time": format_time(T0 + timedelta(microseconds=1))},
    "aggtype": {"aggtype": "hotline"},
    "aggversion": {"aggversion": 2},
    "party": {"party": "RUS"},
    "actor": {"actor": "usa-2"},
    "schemaversion": {"schemaversion": 2},
    "correlationid": {"correlationid": "req-8"},
    "correlationid removed": {"correlationid": None},
    "causationid": {"causationid": "cause-4"},
    "backfilled": {"backfilled": True},
    "prevhash": {"prevhash": "cd" * 32},
    "data value": {"data": {"parties": ["USA", "RUS"], "severity": 4, "note": "ünïcödé ✓", "nested": {"b": 1, "a": [1.5, None]}}},
    "nested data value": {"data": {"parties": ["USA", "RUS"], "severity": 3, "note": "ünïcödé ✓", "nested": {"b": 1, "a": [1.5, 0]}}},
    "data key added": {"data": {"parties": ["USA", "RUS"], "severity": 3, "note": "ünïcödé ✓", "nested": {"b": 1, "a": [1.5, None]}, "x": 1}},
    "data list order": {"data": {"parties": ["RUS", "USA"], "severity": 3, "note": "ünïcödé ✓", "nested": {"b": 1, "a": [1.5, None]}}},
}


@pytest.mark.parametrize("changes", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_changing_any_hashed_attribute_or_data_value_invalidates_the_hash(changes):
    sealed = seal(an_event(), prevhash="ab" * 32)

    tampered = replace(sealed, **changes)

    assert not hash_is_valid(tampered)
    assert compute_hash(tampered) != sealed.hash


def test_tampering_survives_serialisation_and_is_still_detected():
    raw = seal(an_event(), prevhash=None).to_json()
    tampered = raw.replace(b'"severity":3', b'"severity":5')

    assert tampered != raw
    assert not hash_is_valid(Event.from_json(tampered))


def test_signature_is_not_covered_by_the_hash():
    sealed = seal(an_event(), prevhash=None)

    assert hash_is_valid(replace(sealed, signature="a-detached-signature"))


def test_event_without_hash_is_not_valid():
    assert not hash_is_valid(an_event())


# --- sealing and chaining ----------------------------------------------------------------------

def test_seal_sets_prevhash_and_a_valid_hash():
    sealed = seal(an_event(), prevhash="ab" * 32)

    assert sealed.prevhash == "ab" * 32
    assert sealed.to_dict()["prevhash"] == "ab" * 32
    assert hash_is_valid(sealed)


def test_seal_of_first_event_omits_prevhash_from_the_json():
    sealed = seal(an_event(prevhash="stale"), prevhash=None)

    assert sealed.prevhash is None
    assert "prevhash" not in sealed.to_dict()
    assert hash_is_valid(sealed)


def test_seal_replaces_a_stale_hash_and_drops_an_old_signature():
    stale = an_event(hash="00" * 32, signature="old")

    sealed = seal(stale, prevhash=None)

    assert sealed.signature is None
    assert sealed.hash != "00" * 32
    assert hash_is_valid(sealed)


def test_sealed_events_chain_by_prevhash():
    chain, prev = [], None
    for version in (1, 2, 3):
        event = seal(an_event(aggversion=version, id=f"e{version}"), prevhash=prev)
        chain.append(event)
        prev = event.hash

    assert [e.prevhash for e in chain] == [None, chain[0].hash, chain[1].hash]
    assert len({e.hash for e in chain}) == 3


def test_same_content_with_different_predecessor_hashes_differently():
    assert seal(an_event(), prevhash="ab" * 32).hash != seal(an_event(), prevhash="cd" * 32).hash


# --- JSON form ---------------------------------------------------------------------------------

def test_json_is_canonical_rfc8785():
    raw = seal(an_event(), prevhash=None).to_json()

    assert raw == rfc8785.dumps(json.loads(raw))
    assert raw == canonical_json(json.loads(raw))
    assert raw.startswith(b'{"actor":"usa-1","aggtype":"incident","aggversion":1,')


def test_absent_optional_attributes_are_omitted_from_json():
    obj = an_event(correlationid=None, causationid=None).to_dict()

    for name in ("correlationid", "causationid", "prevhash", "hash", "signature", "backfilled"):
        assert name not in obj
    assert obj["specversion"] == SPECVERSION
    assert obj["datacontenttype"] == "application/json"


def test_backfilled_events_say_so():
    assert an_event(backfilled=True).to_dict()["backfilled"] is True


def test_json_round_trip_is_byte_for_byte():
    raw = replace(seal(an_event(backfilled=True), prevhash="ab" * 32), signature="sig").to_json()

    again = Event.from_json(raw)

    assert again.to_json() == raw
    assert again == Event.from_json(raw)
    assert hash_is_valid(again)


def test_other_cloudevents_specversion_is_rejected():
    obj = an_event().to_dict() | {"specversion": "0.3"}

    with pytest.raises(ValueError, match="specversion"):
        Event.from_dict(obj)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(min_value=-1e15, max_value=1e15)  # rfc8785 refuses integral floats beyond 2**53
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    aggversion=st.integers(min_value=1, max_value=10**6),
    backfilled=st.booleans(),
    correlationid=st.none() | st.text(min_size=1, max_size=10),
)
def test_any_sealed_event_round_trips_byte_for_byte_and_keeps_a_valid_hash(data, aggversion, backfilled, correlationid):
    event = seal(
        an_event(data=data, aggversion=aggversion, backfilled=backfilled, correlationid=correlationid),
        prevhash="ab" * 32,
    )
    raw = event.to_json()

    again = Event.from_json(raw)

    assert again.to_json() == raw
    assert hash_is_valid(again)
    assert again.hash == independent_hash(json.loads(raw))


# --- CloudEvents interoperability --------------------------------------------------------------

def test_json_parses_with_the_cloudevents_sdk_and_keeps_extensions():
    event = replace(seal(an_event(backfilled=True), prevhash="ab" * 32), signature="sig")

    parsed = JSONFormat().read(None, event.to_json())

    assert parsed.get_specversion() == "1.0"
    assert parsed.get_id() == event.id
    assert parsed.get_type() == event.type
    assert parsed.get_source() == event.source
    assert parsed.get_subject() == event.subject
    assert parsed.get_time() == event.moment
    assert parsed.get_datacontenttype() == "application/json"
    assert parsed.get_data() == event.data
    for name in EXTENSIONS:
        assert parsed.get_extension(name) == event.to_dict()[name], name


def test_json_parses_with_the_legacy_cloudevents_http_api():
    event = seal(an_event(), prevhash="ab" * 32)

    parsed = legacy_from_json(event.to_json())

    assert parsed["id"] == event.id
    assert parsed["type"] == event.type
    assert parsed.data == event.data
    for name in ("aggtype", "aggversion", "party", "actor", "prevhash", "hash", "correlationid"):
        assert parsed[name] == event.to_dict()[name], name


def test_extensions_survive_a_rewrite_by_the_cloudevents_sdk():
    event = seal(an_event(), prevhash="ab" * 32)
    fmt = JSONFormat()

    rewritten = Event.from_json(fmt.write(fmt.read(None, event.to_json())))

    # The SDK renders `time` its own way; the instant and every extension are preserved.
    assert rewritten.moment == event.moment
    assert replace(rewritten, time=event.time) == event
    assert hash_is_valid(replace(rewritten, time=event.time))


# --- time ----------------------------------------------------------------------------------------

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_format_time_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2025, 3, 1, 12, 0))


def test_parse_time_rejects_timestamps_without_zone():
    with pytest.raises(ValueError, match="no time zone"):
        parse_time("2025-03-01T12:00:00")


def test_format_time_renders_utc_with_microseconds_and_z():
    plus_five = timezone(timedelta(hours=5))

    assert format_time(datetime(2025, 1, 1, 3, 4, 5, tzinfo=plus_five)) == "2024-12-31T22:04:05.000000Z"


def test_format_time_pads_years_before_1000_to_four_digits():
    assert format_time(datetime(987, 6, 5, 4, 3, 2, 1, tzinfo=UTC)) == "0987-06-05T04:03:02.000001Z"


offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(instant=instants, zone_a=offsets, zone_b=offsets)
def test_equal_instants_in_different_zones_format_equally(instant, zone_a, zone_b):
    a, b = instant.astimezone(zone_a), instant.astimezone(zone_b)

    assert format_time(a) == format_time(b)
    assert RFC3339_UTC.match(format_time(a))
    assert parse_time(format_time(a)) == instant


def test_event_moment_is_the_aware_business_time():
    assert an_event().moment == T0
    assert an_event().moment.tzinfo is not None


def test_fact_of_takes_who_when_and_where_from_the_envelope():
    fact = Fact.of(an_event(), seq=9)

    assert fact == Fact(event_id=an_event().id, aggregate_id="inc-42", party="USA", actor="usa-1", time=T0, seq=9)


# --- canonical JSON: the fast path must be rfc8785 byte for byte ----------------------------------

any_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=-1e-3, max_value=1e-3)
    | st.floats(min_value=-1e22, max_value=1e22) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _outcome(serialise, value):
    try:
        return "ok", serialise(value)
    except Exception as error:  # noqa: BLE001 - the same error, or the same bytes
        return "error", type(error).__name__, str(error)


@settings(max_examples=300, deadline=None)
@given(any_json)
def test_canonical_json_is_rfc8785_byte_for_byte_and_error_for_error(value):
    assert _outcome(canonical_json, value) == _outcome(rfc8785.dumps, value)


@pytest.mark.parametrize("value", [
    0.0, -0.0, 500.0, -3.0, 1e-4, 9.99e-5, 1e-7, 5e-324, 123.456, 1e15 + 0.5, 2.0**53 - 1, 2.0**53, 1e16, 1e21,
    float("nan"), float("inf"), 2**53 - 1, 2**53, -(2**53), "\x00\x08\x1f\x7f\u2028\"\\", "\ud800",
    {"\U0001F600": 1, "\uffff": 2}, {"é": 1, "e": 2}, {1: 2}, [True, False, None, (1, "x")],
])
def test_canonical_json_edge_cases_match_rfc8785(value):
    assert _outcome(canonical_json, value) == _outcome(rfc8785.dumps, value)


# --- an event's canonical bytes are computed once, and are still exactly rfc8785 ----------------

@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=6), any_json, max_size=4),
    actor=st.text(min_size=1, max_size=8),
    aggversion=st.integers(min_value=-(2**60), max_value=2**60),
    signature=st.text(max_size=12),
)
def test_an_events_bytes_are_rfc8785_of_its_attributes_or_the_same_error(data, actor, aggversion, signature):
    event = an_event(data=data, actor=actor, aggversion=aggversion)
    expected_body = _outcome(rfc8785.dumps, {k: v for k, v in event.to_dict().items() if k not in ("hash", "signature")})

    assert _outcome(lambda e: e.signed_bytes(), event) == expected_body
    if expected_body[0] == "error":
        return
    sealed = seal(event, prevhash="cd" * 32)
    signed = with_signature(sealed, signature)

    assert sealed.signed_bytes() == rfc8785.dumps({k: v for k, v in sealed.to_dict().items() if k not in ("hash", "signature")})
    assert sealed.hash == independent_hash(sealed.to_dict())
    assert sealed.to_json() == rfc8785.dumps(sealed.to_dict())
    assert signed.to_json() == rfc8785.dumps(signed.to_dict())
    assert signed.signed_bytes() == sealed.signed_bytes()


def test_kept_bytes_never_outlive_a_change_of_what_they_cover():
    sealed = seal(an_event(), prevhash=None)
    sealed.to_json()  # computed and kept

    for changed in (
        replace(sealed, data={"other": 1}),
        replace(sealed, aggversion=2),
        replace(sealed, hash="00" * 32),
        with_signature(sealed, "usa AAAA"),
        seal(sealed, prevhash="ef" * 32),
        _derived(sealed, keep_signed_bytes=True, data={"other": 2}),
        _derived(sealed, keep_signed_bytes=True, hash=None, party="RUS"),
    ):
        assert changed.to_json() == rfc8785.dumps(changed.to_dict())
        assert changed.signed_bytes() == rfc8785.dumps({k: v for k, v in changed.to_dict().items() if k not in ("hash", "signature")})
    assert not hash_is_valid(replace(sealed, data={"other": 1}))
    assert seal(sealed, prevhash="ef" * 32).hash != sealed.hash


def test_sealing_signing_and_publishing_canonicalise_data_once(monkeypatch):
    import core.envelope as envelope

    walked = []
    walk = envelope._jcs_plain
    monkeypatch.setattr(envelope, "_jcs_plain", lambda value: walked.append(value) or walk(value))
    event = an_event()

    signed = with_signature(seal(event, prevhash="ab" * 32), "usa AAAA")
    signed.signed_bytes(), signed.to_json(), compute_hash(signed)

    assert sum(1 for value in walked if isinstance(value, dict) and "nested" in value) == 1
    assert signed.to_json() == rfc8785.dumps(signed.to_dict())
