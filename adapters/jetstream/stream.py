"""The event stream's shape (DESIGN §3) and the one function that makes sure it exists.

The stream is the system of record, so its configuration is part of the design, not a
deployment detail: no limits (nothing ever ages out), `deny_delete` and `deny_purge` (nothing
is removed), no rollups (nothing is replaced), direct gets (aggregates load without consumers),
and a duplicate window long enough for a client to retry a lost acknowledgement.
`ensure_stream` creates it that way, and refuses — loudly, naming every difference — to work
with a stream that is configured otherwise. It never edits, deletes or recreates a stream:
that is an operator's decision, made with the history in front of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)
from nats.js.errors import APIError, NotFoundError

from core.errors import Invalid
from core.ports import AggregateRef

#: The design's floor for the duplicate window (DESIGN §3: "at least 2 minutes").
MIN_DUPLICATE_WINDOW_SECONDS = 120

#: JetStream error code for "stream name already in use with a different configuration".
_STREAM_NAME_IN_USE = 10058

_TOKEN = re.compile(r"[^.*>\s\x00-\x1f\x7f]+")
_STREAM_NAME = re.compile(r"[^.*>/\\\s\x00-\x1f\x7f]+")


def is_subject_token(text: str) -> bool:
    """True when `text` is one non-empty NATS subject token without wildcards or spaces."""
    return bool(_TOKEN.fullmatch(text))


class StreamMisconfigured(ValueError):
    """An existing stream differs from the design; `problems` lists each difference."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.stream = name
        self.problems = tuple(problems)
        super().__init__(
            f"stream {name} is misconfigured: " + "; ".join(problems) + ". Parley never "
            "changes or deletes an existing stream itself; fix it with `nats stream edit` "
            "or point PARLEY_STREAM at another stream."
        )


@dataclass(frozen=True)
class StreamSpec:
    """Which stream holds the events and what its subjects look like."""

    name: str
    subject_prefix: str
    replicas: int = 1
    duplicate_window_seconds: int = MIN_DUPLICATE_WINDOW_SECONDS

    def __post_init__(self) -> None:
        if not _STREAM_NAME.fullmatch(self.name):
            raise ValueError(f"stream name {self.name!r} must be one token without '/' or '\\'")
        if not all(is_subject_token(part) for part in self.subject_prefix.split(".")):
            raise ValueError(f"subject prefix {self.subject_prefix!r} is not a valid subject")
        if self.replicas < 1:
            raise ValueError("a stream needs at least one replica")
        if self.duplicate_window_seconds < MIN_DUPLICATE_WINDOW_SECONDS:
            raise ValueError(
                f"the duplicate window must be at least {MIN_DUPLICATE_WINDOW_SECONDS} s "
                "so a retried append is recognised"
            )

    @property
    def subjects(self) -> str:
        """The stream's single subject filter: every event of every aggregate."""
        return f"{self.subject_prefix}.ev.>"

    def subject_for(self, ref: AggregateRef) -> str:
        """`<prefix>.ev.<type>.<id>`: one subject per aggregate, so the server can enforce
        optimistic concurrency per aggregate. Rejects anything that is not a single token."""
        for label, value in (("type", ref.type), ("id", ref.id)):
            if not is_subject_token(value):
                raise Invalid(
                    f"aggregate {label} {value!r} cannot be used: it must be non-empty and "
                    "contain no '.', '*', '>' or whitespace"
                )
        return f"{self.subject_prefix}.ev.{ref.type}.{ref.id}"

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=[self.subjects],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            max_msgs=-1,
            max_bytes=-1,
            max_age=0,
            max_msgs_per_subject=-1,
            discard=DiscardPolicy.OLD,
            deny_delete=True,
            deny_purge=True,
            allow_rollup_hdrs=False,
            allow_direct=True,
            duplicate_window=float(self.duplicate_window_seconds),
            num_replicas=self.replicas,
        )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> StreamInfo:
    """Create the stream if it is missing; otherwise check it matches `spec` exactly where
    it matters. Raises `StreamMisconfigured` naming every difference."""
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        try:
            info = await js.add_stream(spec.config())
        except APIError as err:
            if err.err_code != _STREAM_NAME_IN_USE:  # e.g. subjects overlap another stream
                raise StreamMisconfigured(spec.name, [f"cannot be created: {err.description}"])
            info = await js.stream_info(spec.name)  # another process created it first
    problems = stream_problems(info.config, spec)
    if problems:
        raise StreamMisconfigured(spec.name, problems)
    return info


def stream_problems(config: StreamConfig, spec: StreamSpec) -> list[str]:
    """Every way `config` departs from the design, as short sentences (empty when none)."""
    problems: list[str] = []

    def expect(label: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            problems.append(f"{label} is {_show(actual)} (want {_show(wanted)})")

    expect("subjects", sorted(config.subjects or []), [spec.subjects])
    expect("storage", _value(config.storage), StorageType.FILE.value)
    expect("retention", _value(config.retention), RetentionPolicy.LIMITS.value)
    expect("discard", _value(config.discard), DiscardPolicy.OLD.value)
    for label, limit in (
        ("max_msgs", config.max_msgs),
        ("max_bytes", config.max_bytes),
        ("max_msgs_per_subject", config.max_msgs_per_subject),
    ):
        if limit not in (None, -1, 0):
            problems.append(f"{label} is {limit} (want no limit)")
    if config.max_age:
        problems.append(f"max_age is {config.max_age} s (want no limit)")
    expect("deny_delete", bool(config.deny_delete), True)
    expect("deny_purge", bool(config.deny_purge), True)
    expect("allow_rollup_hdrs", bool(config.allow_rollup_hdrs), False)
    expect("allow_direct", bool(config.allow_direct), True)
    expect("no_ack", bool(config.no_ack), False)
    expect("sealed", bool(config.sealed), False)
    if config.mirror is not None:
        problems.append("it is a mirror (want a stream that accepts appends)")
    window = config.duplicate_window or 0
    if window < spec.duplicate_window_seconds:
        problems.append(
            f"duplicate_window is {window:g} s (want at least {spec.duplicate_window_seconds} s)"
        )
    expect("num_replicas", config.num_replicas or 1, spec.replicas)
    return problems


def _value(setting: object) -> object:
    return getattr(setting, "value", setting)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, (str, list)) else str(value)
