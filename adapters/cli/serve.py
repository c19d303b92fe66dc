"""`parley up` and `parley serve`: the API (and in `up`, the projector) in one process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import typer
import uvicorn

from adapters import logs
from adapters.cli import collector
from adapters.http.app import create_app
from adapters.integrity.wiring import run_notary
from adapters.jetstream.lease import DEFAULT_TTL_SECONDS
from adapters.runtime import Runtime
from adapters.scheduling import run_scheduler
from adapters.settings import Settings
from adapters.sql.tokens import TokenStore
from core.identity import Role

ADMIN_TOKEN_FILE = "admin.token"


def redacted(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def ensure_admin_token(tokens: TokenStore, home: Path) -> Path:
    """Keep a working admin token in PARLEY_HOME/admin.token (mode 0600), creating one if needed."""
    path = home / ADMIN_TOKEN_FILE
    if path.exists() and await tokens.verify(path.read_text().strip()) is not None:
        return path
    secret, _ = await tokens.create(role=Role.ADMIN, party=None, officer_id=None, label="parley up admin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)
    return path


#: How often a SIGTERM during start-up cancels the start-up again until it has stopped.
_RECANCEL_SECONDS = 2.0


async def serve(settings: Settings, *, with_projector: bool, announce: bool = True, demo: bool = False) -> None:
    logs.configure(fmt=settings.log_format, level=settings.log_level)
    runtime = await Runtime.open(settings)
    stop = asyncio.Event()
    projector: asyncio.Task[None] | None = None
    notary: asyncio.Task[None] | None = None
    scheduler: asyncio.Task[None] | None = None
    server: uvicorn.Server | None = None
    terminated = False
    cleaning_up = False  # set once the start-up has stopped: the cleanup is never cancelled
    main = asyncio.current_task()

    def on_sigterm() -> None:
        """SIGTERM (`kill`, `docker stop`, systemd) stops the process as cleanly as Ctrl-C does:
        the server drains, and the `finally` below runs, which stops the embedded nats-server.
        Without this handler uvicorn re-raised SIGTERM with the default action once it had
        stopped, killing the process before that cleanup: the nats-server was left running."""
        nonlocal terminated
        terminated = True
        if server is not None:
            server.should_exit = True  # uvicorn's own graceful stop
        elif main is not None:
            cancel_start()

    def cancel_start() -> None:
        """Still starting (catching up, seeding): stop there, by cancelling the start-up. Again
        every `_RECANCEL_SECONDS` until it has stopped: a cancellation delivered at an unlucky
        moment can be lost on the way (Python 3.11's `asyncio.wait_for` swallows one that
        arrives as its inner wait completes, and under uvloop a start-up cancelled inside an
        aiosqlite call was seen waiting forever on a future nothing would complete)."""
        if main is None or main.done() or cleaning_up:
            return
        main.cancel()
        asyncio.get_running_loop().call_later(_RECANCEL_SECONDS, cancel_start)

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        token_path = await ensure_admin_token(runtime.tokens, settings.home)
        if demo:  # `parley up --demo`: a scripted year of history on first start (adapters/demo.py)
            from adapters.demo import seed

            typer.echo("Seeding the demo history (a scripted year; this takes a little while)…")
            seeded = await seed(runtime.app, now=runtime.app.clock.now(), home=settings.home, tokens=runtime.tokens)
            typer.echo(f"Demo: {seeded.events} events; sign-in tokens in {seeded.tokens_file}" if seeded
                       else "Demo: the event store already holds history; nothing seeded")
            if seeded and seeded.refused:
                typer.echo(f"Demo: {len(seeded.refused)} scripted step(s) refused, first: {seeded.refused[0]}", err=True)
        if with_projector:
            await runtime.projector.catch_up()
            # Several `serve --projector` processes on one stream: one projects at a time (a lease);
            # an embedded server is this process's own, so there is nobody to share it with.
            lease = None if runtime.embedded is not None else DEFAULT_TTL_SECONDS
            projector = asyncio.create_task(runtime.run_projector(stop, lease_seconds=lease), name="projector")
            # The notary takes its lease even on an embedded server: a separate `parley notary`
            # may connect to that server too, and two notaries must never both publish.
            notary = asyncio.create_task(run_notary(runtime, stop, lease_seconds=DEFAULT_TTL_SECONDS), name="notary")
            scheduler = asyncio.create_task(run_scheduler(runtime, stop), name="scheduler")
        # http="auto" is httptools (a pinned dependency, C parser); the loop is uvloop (event_loop.py)
        config = uvicorn.Config(
            create_app(runtime), host=settings.http_host, port=settings.http_port,
            log_level="warning", access_log=False, lifespan="off",
        )
        server = uvicorn.Server(config)
        collector.settle()  # before taking requests: see adapters/cli/collector.py
        if announce:
            url = f"http://{settings.http_host}:{settings.http_port}"
            typer.echo(f"Parley is running at {url}  (API docs: {url}/docs)")
            nats_url = runtime.embedded.url if runtime.embedded else redacted(settings.nats_url or "")
            typer.echo(f"NATS: {nats_url}  stream: {settings.stream}")
            typer.echo(f"Database: {redacted(settings.resolved_database_url)}")
            typer.echo(f"Admin token: {token_path}")
        await server.serve()
    except asyncio.CancelledError:
        if not terminated:
            raise
        typer.echo("SIGTERM: stopping", err=True)
    finally:
        cleaning_up = True
        stop.set()
        if scheduler is not None:
            scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await scheduler
        if notary is not None:
            notary.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await notary
        if projector is not None:
            projector.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await projector
        await runtime.close()
        asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
