"""What a figure is about: a window of time, an as-of moment, a party and maybe its counterpart.

A record belongs to a window by the moment its obligation started (a message's sending, a slot's
start, a request, a report): windows are half-open, `[start, end)`, in UTC. Whether it is *counted*
depends only on the as-of moment: its deadline must have passed by then. So a message sent on
31 January whose deadline falls on 1 February belongs to January and is counted there as soon as
its deadline has passed — it never drops out of every window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ROLLING_DAYS = (30, 90, 365)


@dataclass(frozen=True, kw_only=True)
class Window:
    start: datetime
    end: datetime
    label: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end < self.start:
            raise ValueError("a window cannot end before it starts")

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def month(year: int, number: int) -> Window:
    """The calendar month `year-number` in UTC."""
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=UTC)
    return Window(start=start, end=end, label=f"{year:04d}-{number:02d}")


def month_of(moment: datetime) -> Window:
    utc = moment.astimezone(UTC)
    return month(utc.year, utc.month)


def months(first: datetime, last: datetime) -> list[Window]:
    """The calendar months from the one holding `first` to the one holding `last`, inclusive."""
    found: list[Window] = []
    current = month_of(first)
    while current.start <= last:
        found.append(current)
        current = month_of(current.end)
    return found


def rolling(as_of: datetime, days: int) -> Window:
    """The `days` days up to the as-of moment: `[as_of - days, as_of)`."""
    return Window(start=as_of - timedelta(days=days), end=as_of, label=f"{days}d")


def everything(as_of: datetime) -> Window:
    return Window(start=datetime(1970, 1, 1, tzinfo=UTC), end=as_of, label="all")


@dataclass(frozen=True, kw_only=True)
class Scope:
    """`party` None means every party; `counterpart` narrows to the ordered pair party → counterpart:
    what `party` did toward (or owed to) `counterpart`."""

    as_of: datetime
    window: Window
    party: str | None = None
    counterpart: str | None = None

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")

    def pair(self, obliged: str, other: str) -> bool:
        """Does an obligation of `obliged` toward `other` fall in this scope's parties?"""
        return (self.party is None or obliged == self.party) and (self.counterpart is None or other == self.counterpart)
