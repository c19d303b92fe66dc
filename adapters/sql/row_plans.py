"""From row dicts to driver parameters and SQL text, per table and per way of writing.

A *plan* lists a table's columns with how each value becomes a parameter: JSON as compact
text, times as each target wants them, booleans as SQLite's 0/1 — exactly what the column
types would bind, so every write path stores the same content (tests compare them with plain
SQLAlchemy). Targets (`Target`):

- "sqlite": `sqlite3` parameters (times as SQLAlchemy's SQLite DATETIME text);
- "postgresql": psycopg parameters for COPY in-process (times as aware UTC datetimes);
- "postgresql-text": plain values only (times as ISO text with offset), for the projector's
  writer process: what `marshal` carries, and what PostgreSQL parses into the same values.

`QueuedWrites` turns a commit's inserts and updates into queued statements
`(kind, sql, rows)` — kind "many" (one `executemany`) or "copy" (PostgreSQL `COPY … FROM
STDIN`) — for aiosqlite's thread or the writer process (`writer_process`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Callable, Literal, Sequence

import sqlalchemy as sa

from adapters.sql.columns import UTCDateTime
from adapters.sql.sqlite_raw import Queued
from core.jsonio import dumps_text

Row = dict[str, Any]
Target = Literal["sqlite", "postgresql", "postgresql-text"]
_Convert = Callable[[Any], Any]
Plan = list[tuple[str, _Convert | None]]

_PLAIN = (sa.String, sa.Integer, sa.Double)  # Text, BigInteger… are subclasses


class TimeText:
    """A time cell's text, the UTC instant in `isoformat(" ", "microseconds")` (without its
    offset for SQLite: SQLAlchemy's storage format there).

    Recently written times are kept with their text: a rebuild writes ~5 time cells per event
    but only ~2 distinct instants (the event's time lands in the index, the timeline and the
    incident row), and a look-up costs a fifteenth of formatting one. Equal instants in any
    zone are equal keys, and rightly share their text: it is the UTC instant's."""

    KEPT = 8192

    def __init__(self, *, with_offset: bool) -> None:
        self._with_offset = with_offset
        self._texts: dict[datetime, str] = {}

    def __call__(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        text = self._texts.get(value)
        if text is None:
            if len(self._texts) >= self.KEPT:
                self._texts.clear()
            text = self._texts[value] = self._format(value)
        return text

    def _format(self, value: datetime) -> str:
        text = utc(value).isoformat(" ", "microseconds")  # type: ignore[union-attr]
        return text if self._with_offset else text[:-6]  # "+00:00" dropped


def utc(value: datetime | None) -> datetime | None:
    """The aware UTC instant (None stays None); a naive datetime is an error."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: read-model times must be timezone-aware")
    return value.astimezone(UTC)


sqlite_time = TimeText(with_offset=False)
postgresql_time = TimeText(with_offset=True)


def sqlite_bool(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def json_text(value: Any) -> str | None:
    return None if value is None else dumps_text(value)


_TIME: dict[str, _Convert] = {"sqlite": sqlite_time, "postgresql": utc, "postgresql-text": postgresql_time}


def _converter(kind: sa.types.TypeEngine[Any], target: str) -> _Convert | None | bool:
    """How a value of this column type becomes a parameter (None: as it is; False: unknown)."""
    if isinstance(kind, sa.JSON):
        return json_text
    if isinstance(kind, UTCDateTime):
        return _TIME[target]
    if isinstance(kind, sa.Boolean):
        return sqlite_bool if target == "sqlite" else None
    if isinstance(kind, _PLAIN):
        return None
    return False


_plans: dict[tuple[str, str], Plan | None] = {}


def plan(table: sa.Table, target: Target) -> Plan | None:
    """`table`'s plan for `target`, or None when a column type is not one this module knows
    (the caller then writes through SQLAlchemy). Kept for the process: readers are cached by
    plan identity."""
    key = (table.name, target)
    if key not in _plans:
        converters = [(column.name, _converter(column.type, target)) for column in table.columns]
        known = all(convert is not False for _, convert in converters)
        _plans[key] = converters if known else None  # type: ignore[assignment]
    return _plans[key]


def values(plan: Plan, rows: Sequence[Row]) -> list[Sequence[Any]]:
    """`rows` as parameter tuples in `plan`'s column order."""
    read = _row_reader(plan)
    return [read(row) for row in rows]


#: Per plan, a function from a row dict to its parameter tuple: one C-level `itemgetter` for
#: all columns, then the few converters in place (a generator over every column per row was
#: a fifth of the projector's write time).
_readers: dict[int, Callable[[Row], Sequence[Any]]] = {}


def _row_reader(plan: Plan) -> Callable[[Row], Sequence[Any]]:
    reader = _readers.get(id(plan))
    if reader is None:
        names = [name for name, _ in plan]
        get = itemgetter(*names)
        converted = [(index, convert) for index, (_, convert) in enumerate(plan) if convert is not None]
        if len(names) == 1:
            def reader(row: Row) -> Sequence[Any]:
                value = row[names[0]]
                return (value if not converted else converted[0][1](value),)
        elif not converted:
            reader = get
        else:
            def reader(row: Row) -> Sequence[Any]:
                values = list(get(row))
                for index, convert in converted:
                    values[index] = convert(values[index])
                return tuple(values)
        _readers[id(plan)] = reader
    return reader


def quoted(name: str) -> str:
    """Every read-model table and column name is a plain lower-case identifier (a test checks):
    in double quotes it is the same identifier on SQLite and PostgreSQL, keyword or not."""
    return f'"{name}"'


def insert_sql(table: sa.Table, plan: Plan) -> str:
    return (f"INSERT INTO {quoted(table.name)} ({', '.join(quoted(name) for name, _ in plan)})"
            f" VALUES ({', '.join('?' for _ in plan)})")


def copy_sql(table: sa.Table, plan: Plan) -> str:
    return f"COPY {quoted(table.name)} ({', '.join(quoted(name) for name, _ in plan)}) FROM STDIN"


_updates: dict[tuple[str, str], tuple[str, Plan]] = {}


def update_sql(table: sa.Table, target: Target, plan: Plan) -> tuple[str, Plan]:
    """The UPDATE-by-primary-key statement and its plan (primary key columns last: the
    statement's parameter order), both kept for the process."""
    key = (table.name, target)
    if key not in _updates:
        keys = [column.name for column in table.primary_key.columns]
        order = [entry for entry in plan if entry[0] not in keys] + [entry for entry in plan if entry[0] in keys]
        mark = "?" if target == "sqlite" else "%s"
        assignments = ", ".join(f"{quoted(name)} = {mark}" for name, _ in order[: -len(keys)])
        where = " AND ".join(f"{quoted(name)} = {mark}" for name in keys)
        _updates[key] = (f"UPDATE {quoted(table.name)} SET {assignments} WHERE {where}", order)
    return _updates[key]


class QueuedWrites:
    """A commit's row writes as queued statements (`Queued`), in order, for `target` "sqlite"
    (all "many") or "postgresql-text" (inserts as "copy", updates as "many"). `insert`/`update`
    return False, queueing nothing, for a table this module has no plan for."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._queued: list[Queued] = []

    def supports(self, table: sa.Table) -> bool:
        return plan(table, self._target) is not None

    def insert(self, table: sa.Table, rows: Sequence[Row]) -> bool:
        found = plan(table, self._target)
        if found is None:
            return False
        if rows:
            if self._target == "sqlite":
                self._queued.append(("many", insert_sql(table, found), values(found, rows)))
            else:
                self._queued.append(("copy", copy_sql(table, found), values(found, rows)))
        return True

    def update(self, table: sa.Table, rows: Sequence[Row]) -> bool:
        found = plan(table, self._target)
        if found is None:
            return False
        if rows:
            statement, order = update_sql(table, self._target, found)
            self._queued.append(("many", statement, values(order, rows)))
        return True

    def take(self) -> list[Queued]:
        """The queued statements (the queue starts empty again)."""
        queued, self._queued = self._queued, []
        return queued
