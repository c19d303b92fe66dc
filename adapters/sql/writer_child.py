"""The projector's writer process: `python -m adapters.sql.writer_child`.

Started and driven by `writer_process.WriterProcess` (read that first). Frames on stdin/stdout:
an 8-byte big-endian length, then a `marshal` dump (parent and child are the same interpreter,
`sys.executable`). The first request opens the database — `("open", "sqlite", path)` or
`("open", "postgresql", conninfo)`; the connection string travels here, not on the command
line where `ps` would show its password — and is answered `("ready",)`. Then each request
`("commit", checkpoint_sql, name, after, last_seq, last_hash, queued)` is one transaction that
first moves the projector's checkpoint by compare-and-set, then runs the queued statements
(`sqlite_raw.Queued`), exactly like the in-process commit. Replies: `("committed",)`,
`("overtaken",)` (the checkpoint was not at `after`: nothing written), `("unavailable", detail)`
(the database could not write: locked, gone, disk full), `("refused", detail)` (anything else,
e.g. a constraint the rows violate).

It exits when its input closes: the parent finished, or died. An unfinished transaction is then
rolled back, a finished one stays; either way checkpoint and rows agree. Only the standard
library and `sqlite_raw` are imported for SQLite (psycopg for PostgreSQL), so it is ready in
tens of milliseconds.
"""

from __future__ import annotations

import gc
import marshal
import sqlite3
import struct
import sys
from typing import Any, BinaryIO, Callable, Sequence

from adapters.sql.sqlite_raw import Queued, apply_pragmas, execute_all

LENGTH = struct.Struct(">Q")
#: The `marshal` format version of every frame.
FORMAT = 4

Commit = Callable[[str, str, int, int, "str | None", Sequence[Queued]], tuple[str, ...]]


def main() -> int:
    # Rows are acyclic and short-lived: reference counting frees them; a young collection per
    # 700 allocations would walk them again and again for nothing.
    gc.set_threshold(100_000, 50, 100)
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    opening = receive(requests)
    if opening is None:
        return 0
    _, backend, target = opening
    commit, close = _open_sqlite(target) if backend == "sqlite" else _open_postgresql(target)
    try:
        send(replies, ("ready",))
        while (request := receive(requests)) is not None:
            send(replies, commit(*request[1:]))
    except BrokenPipeError:  # the parent is gone: nothing left to tell it
        pass
    finally:
        close()
    return 0


def _open_sqlite(path: str) -> tuple[Commit, Callable[[], None]]:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    apply_pragmas(connection)

    def transaction(checkpoint_sql: str, parameters: tuple[Any, ...], queued: Sequence[Queued]) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            if connection.execute(checkpoint_sql, parameters).rowcount != 1:
                raise _Overtaken()
            execute_all(connection, queued)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    return _replying(transaction, unavailable=sqlite3.OperationalError), connection.close


def _open_postgresql(conninfo: str) -> tuple[Commit, Callable[[], None]]:
    import psycopg

    connection = psycopg.connect(conninfo)

    def transaction(checkpoint_sql: str, parameters: tuple[Any, ...], queued: Sequence[Queued]) -> None:
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute(checkpoint_sql, parameters)
            if cursor.rowcount != 1:
                raise _Overtaken()
            for kind, sql, rows in queued:
                if kind == "copy":
                    with cursor.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    cursor.executemany(sql, rows)

    return _replying(transaction, unavailable=psycopg.OperationalError), connection.close


def _replying(transaction: Callable[[str, tuple[Any, ...], Sequence[Queued]], None], *,
              unavailable: type[Exception]) -> Commit:
    """A commit request's handler: `transaction` run (it raises `_Overtaken` when the checkpoint
    is elsewhere, having written nothing), its outcome as the reply."""

    def commit(checkpoint_sql: str, name: str, after: int, last_seq: int, last_hash: str | None,
               queued: Sequence[Queued]) -> tuple[str, ...]:
        try:
            transaction(checkpoint_sql, (last_seq, last_hash, name, after), queued)
        except _Overtaken:
            return ("overtaken",)
        except unavailable as error:
            return ("unavailable", str(error))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
            return ("refused", f"{type(error).__name__}: {error}")
        return ("committed",)

    return commit


class _Overtaken(Exception):
    """The checkpoint was not where the parent expected: roll back, write nothing."""


def send(stream: BinaryIO, message: Any) -> None:
    payload = marshal.dumps(message, FORMAT)
    stream.write(LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def receive(stream: BinaryIO) -> Any | None:
    """The next message, or None at the end of the input."""
    header = stream.read(LENGTH.size)
    if len(header) < LENGTH.size:
        return None
    (length,) = LENGTH.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        return None
    return marshal.loads(payload)


if __name__ == "__main__":
    sys.exit(main())
