"""Errors as values a caller can act on. Each is mapped once, at the edge (HTTP, CLI).

`Rejected` means the command was understood and refused: nothing was appended and retrying the
same command will not help. `Conflict` means someone else wrote first: reload and retry.
`Unavailable` means infrastructure is down: retry later with the same Idempotency-Key.
"""

from __future__ import annotations


class ParleyError(Exception):
    """Base class; `str(error)` is a sentence a liaison officer can read."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Rejected(ParleyError):
    """The command is not allowed in the aggregate's current state (out of order, duplicate)."""


class Invalid(Rejected):
    """The command's content is wrong in itself (end before start, latitude out of range)."""


class Forbidden(Rejected):
    """The actor may not do this (wrong party, wrong role)."""


class NotFound(ParleyError):
    """The aggregate or record does not exist (or is not visible to the caller)."""


class Conflict(ParleyError):
    """Optimistic concurrency failed: the aggregate changed since the caller read it."""

    def __init__(self, detail: str, *, current_seq: int | None = None) -> None:
        super().__init__(detail)
        self.current_seq = current_seq


class Unavailable(ParleyError):
    """The event store or database could not be reached; the command may be retried."""


class IntegrityError(ParleyError):
    """Stored history is inconsistent (sequence gap, bad hash): stop, never paper over it."""
