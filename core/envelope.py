"""The event envelope: CloudEvents 1.0 attributes plus Parley's extensions, and its integrity.

Every fact Parley records is one `Event`. Its JSON form is CloudEvents 1.0 *structured mode*, so
any CloudEvents tool can read the stream; the extensions carry what an auditor needs:

- `party`, `actor`: who asserted the fact (a party code, an officer id or ``system``);
- `aggtype`, `aggversion`: which aggregate it belongs to and its 1-based position there;
- `schemaversion`: the version of `data`'s shape (old versions are upcast when read);
- `correlationid`, `causationid`: the request and the event that caused it;
- `backfilled`: true only for historical facts loaded by an importer;
- `prevhash`: the `hash` of the aggregate's previous event (absent on its first event);
- `hash`: SHA-256 (hex) of the RFC 8785 canonical JSON of the event without `hash` and
  `signature`. Anyone can recompute it with any RFC 8785 implementation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Mapping

import orjson
import rfc8785

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"

#: Attributes that are not covered by `hash`.
UNHASHED = frozenset({"hash", "signature"})


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON-compatible value: the only form we ever hash or sign.

    Byte for byte what `rfc8785.dumps` returns (and raises), about 10× faster: values whose
    JCS form orjson writes identically (plain str/int/bool/None, lists, dicts with ASCII keys,
    floats that JCS and orjson render alike) go through orjson; anything else —
    non-ASCII keys (JCS sorts by UTF-16), tiny or huge floats, NaN, out-of-range integers,
    subclasses, unsupported types — falls back to `rfc8785` itself.
    """
    try:
        return _encode_plain(_jcs_plain(value))
    except (_NotPlain, orjson.JSONEncodeError):  # orjson refuses lone surrogates
        return rfc8785.dumps(value)


def _encode_plain(value: Any) -> bytes:
    """orjson with sorted keys writes a `_jcs_plain` value exactly as RFC 8785 does: the same
    string escapes (`\\b \\f \\n \\r \\t`, else lowercase `\\u00xx` below 0x20, UTF-8 for the
    rest), the same shortest round-trip floats in the range `_jcs_plain` lets through, and ASCII
    keys sort alike by code point and by UTF-16 unit (tested against `rfc8785` with hypothesis).
    `Fragment`s are inserted verbatim: already-canonical members (see `Event._canonical`)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


_JCS_INT_MAX = 2**53 - 1  # rfc8785 refuses integers beyond ±(2**53 - 1)


class _NotPlain(Exception):
    """The value needs the full RFC 8785 serialiser."""


def _jcs_plain(value: Any) -> Any:
    """`value` with every float replaced by what `json` writes exactly as JCS does; raises
    `_NotPlain` where `json` and JCS could differ."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                raise _NotPlain
            out[key] = _jcs_plain(item)
        return out
    if kind is list or kind is tuple:
        return [_jcs_plain(item) for item in value]
    if kind is int:
        if -_JCS_INT_MAX <= value <= _JCS_INT_MAX:
            return value
        raise _NotPlain
    if kind is float:
        if value.is_integer():
            if -_JCS_INT_MAX <= value <= _JCS_INT_MAX:
                return int(value)  # JCS writes 500.0 as 500 (and -0.0 as 0)
        elif 1e-4 <= abs(value) < 1e16:  # `repr` uses no exponent here, like JCS; NaN fails
            return value
    raise _NotPlain


def format_time(moment: datetime) -> str:
    """One fixed RFC 3339 rendering (UTC, microseconds, `Z`) so equal instants hash equally."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    # isoformat, not strftime: glibc's %Y does not zero-pad years before 1000 ("987-..."),
    # which is not RFC 3339 and does not parse back.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Event:
    """One immutable fact, exactly as it is stored on the stream."""

    id: str
    type: str
    source: str
    subject: str
    time: str
    aggtype: str
    aggversion: int
    party: str
    actor: str
    schemaversion: int = 1
    correlationid: str | None = None
    causationid: str | None = None
    backfilled: bool = False
    prevhash: str | None = None
    hash: str | None = None
    signature: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def moment(self) -> datetime:
        """`time` as an aware datetime (the business time of the fact)."""
        return parse_time(self.time)

    def to_dict(self) -> dict[str, Any]:
        """The CloudEvents structured-mode JSON object (absent optional attributes omitted)."""
        out: dict[str, Any] = {
            "specversion": SPECVERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": CONTENT_TYPE,
            "aggtype": self.aggtype,
            "aggversion": self.aggversion,
            "party": self.party,
            "actor": self.actor,
            "schemaversion": self.schemaversion,
        }
        for name in ("correlationid", "causationid", "prevhash", "hash", "signature"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.backfilled:
            out["backfilled"] = True
        out["data"] = dict(self.data)
        return out

    def to_json(self) -> bytes:
        """The bytes published to the stream (canonical, so re-serialising is byte-stable)."""
        return self._canonical(sealed=True)

    def signed_bytes(self) -> bytes:
        """RFC 8785 bytes of the event without `hash` and `signature`: what `hash` and every
        signature cover. Kept once computed (the event is immutable; see `_canonical`)."""
        known: bytes | None = self.__dict__.get("_cached_signed_bytes")
        if known is None:
            known = self._canonical(sealed=False)
            object.__setattr__(self, "_cached_signed_bytes", known)
        return known

    def _canonical(self, *, sealed: bool) -> bytes:
        """RFC 8785 bytes of the event, with (`sealed`) or without `hash` and `signature`.

        Why the pieces: sealing, signing and publishing one event used to canonicalise its
        `data` (nearly all of its bytes) three times — a sixth of the append path's CPU. The
        canonical form of `data` is computed once per instance and kept outside the dataclass
        fields (`replace` never copies it; `_derived` carries it over only when `data` is
        unchanged), and the few top-level attributes are written around it. An object's JCS form
        is its members sorted by key with canonical values, so the result is exactly
        `canonical_json(self.to_dict())` (minus `hash`/`signature`): tested byte for byte."""
        top = self.to_dict()
        if not sealed:
            for name in UNHASHED:
                top.pop(name, None)
        data = top.pop("data")
        try:
            members = _jcs_plain(top)
            members["data"] = orjson.Fragment(self._data_json())
            return _encode_plain(members)
        except (_NotPlain, orjson.JSONEncodeError):  # e.g. a lone surrogate in an attribute: the slow path decides
            top["data"] = data
            return canonical_json(top)

    def _data_json(self) -> bytes:
        known: bytes | None = self.__dict__.get("_cached_data_json")
        if known is None:
            known = canonical_json(dict(self.data))
            object.__setattr__(self, "_cached_data_json", known)
        return known

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Event:
        if obj.get("specversion") != SPECVERSION:
            raise ValueError(f"unsupported CloudEvents specversion {obj.get('specversion')!r}")
        return cls(
            id=str(obj["id"]),
            type=str(obj["type"]),
            source=str(obj["source"]),
            subject=str(obj["subject"]),
            time=str(obj["time"]),
            aggtype=str(obj["aggtype"]),
            aggversion=int(obj["aggversion"]),
            party=str(obj["party"]),
            actor=str(obj["actor"]),
            schemaversion=int(obj.get("schemaversion", 1)),
            correlationid=obj.get("correlationid"),
            causationid=obj.get("causationid"),
            backfilled=bool(obj.get("backfilled", False)),
            prevhash=obj.get("prevhash"),
            hash=obj.get("hash"),
            signature=obj.get("signature"),
            data=dict(obj.get("data") or {}),
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Event:
        from core.jsonio import loads

        return cls.from_dict(loads(raw))


def compute_hash(event: Event) -> str:
    """SHA-256 hex of the canonical JSON of `event` without `hash` and `signature`."""
    return hashlib.sha256(event.signed_bytes()).hexdigest()


def _derived(event: Event, *, keep_signed_bytes: bool = False, **changes: Any) -> Event:
    """`replace(event, **changes)` that keeps the canonical bytes computed for `event` where the
    changes cannot affect them: those of `data` unless it changes and, with `keep_signed_bytes`,
    those `hash`/signatures cover (kept only when the changes touch nothing but `hash`/`signature`).

    A copy of the instance's attributes rather than `dataclasses.replace`, which re-inspects the
    fields and re-runs `__init__` (4 µs, twice per sealed event); `Event` has no `__post_init__`."""
    if not changes.keys() <= _EVENT_FIELDS:
        raise TypeError(f"not Event fields: {sorted(changes.keys() - _EVENT_FIELDS)}")
    attributes = dict(event.__dict__)
    if not keep_signed_bytes or changes.keys() - {"hash", "signature"}:
        attributes.pop("_cached_signed_bytes", None)
    if "data" in changes:
        attributes.pop("_cached_data_json", None)
    attributes.update(changes)
    out = object.__new__(Event)
    out.__dict__.update(attributes)
    return out


_EVENT_FIELDS = frozenset(field.name for field in fields(Event))


def seal(event: Event, *, prevhash: str | None) -> Event:
    """Chain `event` to its predecessor and fix its hash. The result is what gets stored."""
    chained = _derived(event, prevhash=prevhash, hash=None, signature=None)
    return _derived(chained, keep_signed_bytes=True, hash=compute_hash(chained))


def with_signature(event: Event, signature: str) -> Event:
    """`event` (sealed) carrying `signature`; the bytes it signs are not computed again."""
    return _derived(event, keep_signed_bytes=True, signature=signature)


def hash_is_valid(event: Event) -> bool:
    """True when `event.hash` matches its content (tampering changes the hash)."""
    return event.hash is not None and event.hash == compute_hash(event)
