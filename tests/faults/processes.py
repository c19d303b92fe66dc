"""Real processes for the fault suite: `parley` commands, a private PostgreSQL, and the checks
every fault test ends with (checkpoint, digest, a clean rebuild to compare against).

Everything here starts something the test owns and can kill: never the shared PostgreSQL on
5432, never the system NATS on 4222.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Sequence

import httpx
import psycopg

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from adapters.sql.digest import digest
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from core.ports import AggregateRef, StoredEvent
from tests.e2e.cli_process import PARLEY, environment, free_port


def parley_env(
    *, home: Path, nats: EmbeddedNatsServer | Sequence[str], database_url: str, spec: StreamSpec,
    user: str | None = None, password: str | None = None, **extra: str,
) -> dict[str, str]:
    """The environment of a `parley` process: NATS by URL plus PARLEY_NATS_USER/PASSWORD (the
    application's least-privileged user), the database, the stream."""
    if isinstance(nats, EmbeddedNatsServer):
        url, user, password = nats.url, nats.credentials.app.user, nats.credentials.app.password
    else:
        url = ",".join(nats)
    variables = {
        "PARLEY_HOME": str(home), "PARLEY_NATS_URL": url, "PARLEY_DATABASE_URL": database_url,
        "PARLEY_STREAM": spec.name, "PARLEY_SUBJECT_PREFIX": spec.subject_prefix,
        "PARLEY_STREAM_REPLICAS": str(spec.replicas), "PARLEY_RATE_LIMIT_PER_SECOND": "0",
        "PARLEY_LOG_FORMAT": "console", "PYTHONUNBUFFERED": "1",
    }
    if user is not None:
        variables["PARLEY_NATS_USER"] = user
    if password is not None:
        variables["PARLEY_NATS_PASSWORD"] = password
    variables.update(extra)
    return environment(**variables)


@dataclass
class ParleyProcess:
    """One `parley …` child; its output goes to a log file the assertion messages quote."""

    args: tuple[str, ...]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> "ParleyProcess":
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen([str(PARLEY), *self.args], env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: signal.Signals, *, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def stop(self) -> int | None:
        return self.signal(signal.SIGTERM)

    def output(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])


def wait_http_ok(url: str, process: ParleyProcess, *, timeout: float = 60.0) -> None:
    """Until GET `url` answers 200 (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise AssertionError(f"{' '.join(process.args)} exited early:\n{process.output()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout:g}s:\n{process.output()}")


# --- appending events quickly, as the service would ---------------------------------------------

class Appender:
    """Appends prepared envelopes in order with the per-aggregate expected sequence a service
    would use; a retry after `Unavailable` sends the same event again (JetStream deduplicates it,
    or the store recognises its own event), so an acknowledged event is never stored twice."""

    def __init__(self, store: JetStreamEventStore) -> None:
        self.store = store
        self.last: dict[tuple[str, str], int] = {}
        self.acked: dict[str, int] = {}  # event id -> stream sequence

    async def append(self, stored: StoredEvent) -> int:
        event = stored.event
        key = (event.aggtype, event.subject)
        seq = await self.store.append(AggregateRef(type=event.aggtype, id=event.subject), [event],
                                      expected_seq=self.last.get(key, 0))
        self.last[key] = seq
        self.acked[event.id] = seq
        return seq


# --- read-model checks -------------------------------------------------------------------------

async def checkpoint_of(url: str) -> int:
    engine = create_engine(url)
    try:
        return await Projector(engine=engine, store=None).checkpoint()  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - not migrated yet, or the database is restarting
        return 0
    finally:
        await engine.dispose()


class CheckpointProbe:
    """Reads the projector's checkpoint over one engine, for tight polling loops (a new engine
    per read would cost a connection set-up each time and slow the processes under test)."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)
        self._projector = Projector(engine=self._engine, store=None)  # type: ignore[arg-type]

    async def read(self) -> int:
        try:
            return await self._projector.checkpoint()
        except Exception:  # noqa: BLE001 - not migrated yet, or the database is restarting
            return 0

    async def close(self) -> None:
        await self._engine.dispose()


async def digest_of(url: str) -> str:
    engine = create_engine(url)
    try:
        return await digest(engine)
    finally:
        await engine.dispose()


async def clean_rebuild(store: JetStreamEventStore, url: str) -> str:
    """Project the whole stream into a fresh database in one uninterrupted run: the reference."""
    await migrate(url)
    engine = create_engine(url)
    try:
        await Projector(engine=engine, store=store).catch_up()
        return await digest(engine)
    finally:
        await engine.dispose()


# --- a private PostgreSQL ----------------------------------------------------------------------

def postgres_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, if any."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own: initdb in a temp dir, a free port, pg_ctl to stop
    and start it. Run as the `postgres` system user when the tests run as root (initdb refuses
    root). It is never the shared server, so restarting it disturbs nobody."""

    def __init__(self, binaries: Path) -> None:
        self.bin = binaries
        self.root = Path(tempfile.mkdtemp(prefix="parley-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"
            shutil.chown(self.root, user="postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 50\n"
            )

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: disconnect every client and shut down cleanly; `immediate`: like a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"),
                           capture_output=True, user=self._user)
        shutil.rmtree(self.root, ignore_errors=True)

    def tool(self, name: str, *args: str) -> None:
        """Run one of the server's client tools (pg_dump, pg_restore, createdb, …) against it."""
        self._run(name, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *args)

    def _command(self, tool: str, *args: str) -> list[str]:
        return [str(self.bin / tool), *args]

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(self._command(tool, *args), capture_output=True, text=True, user=self._user,
                              cwd=self.root, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")
