"""The `parley` command line. Each command composes a `Runtime` from the environment (see README)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.cli import audit as audit_cli
from adapters.cli.errors import fail, run_async
from adapters.settings import Settings

app = typer.Typer(help="Parley: incidents, hotlines and inspections on an immutable event log.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (stored hashed; the secret is shown once).", no_args_is_help=True)
party_app = typer.Typer(help="Parties and their officers.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(party_app, name="party")
audit_cli.register(app)  # keys, verify, notary, witness, evidence (adapters/cli/audit.py)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


@app.command()
def up(port: Optional[int] = typer.Option(None, help="HTTP port (default PARLEY_HTTP_PORT or 8080)"),
       demo: bool = typer.Option(False, "--demo", help="On an empty store, first seed a scripted year of history "
                                 "(adapters/demo.py) and write sign-in tokens to PARLEY_HOME/demo-tokens.txt.")) -> None:
    """Everything on one machine: embedded nats-server, SQLite, migrations, projector and API."""
    from adapters.cli.serve import serve

    settings = Settings()
    if port is not None:
        settings = settings.model_copy(update={"http_port": port})
    run_async(serve, service=True)(settings, with_projector=True, demo=demo)


@app.command("serve")
def serve_api(projector: bool = typer.Option(False, help="Also run the projector in this process.")) -> None:
    """The HTTP API only (run `parley project` beside it, or pass --projector)."""
    from adapters.cli.serve import serve

    run_async(serve, service=True)(Settings(), with_projector=projector)


@app.command()
def migrate() -> None:
    """Create or upgrade the read-model schema (Alembic)."""
    from adapters.sql.migrate import migrate as do_migrate

    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    run_async(do_migrate)(settings.resolved_database_url)
    typer.echo(f"migrated {settings.resolved_database_url}")


@app.command()
def project(
    once: bool = typer.Option(False, help="Catch up to the end of the stream, then exit."),
    lease_seconds: float = typer.Option(
        10.0, min=1, envvar="PARLEY_PROJECTOR_LEASE_SECONDS",
        help="Without --once: TTL of the lease that makes one of several projectors active; a standby takes over this long after the active one dies.",
    ),
) -> None:
    """Run the projector: stream → read models, checkpoint in the same transaction.

    Run several for availability: one holds a lease in NATS KV and projects, the others stand by."""
    if not once:
        from adapters.cli.projecting import project_forever

        run_async(project_forever, service=True)(Settings(), lease_seconds=lease_seconds)
        return

    async def main() -> None:
        from adapters.runtime import Runtime

        runtime = await Runtime.open(Settings())
        try:
            total = await runtime.store.last_seq()
            with _progress() as bar:
                task = bar.add_task("projecting", total=total)
                last = await runtime.projector.catch_up(progress=lambda seq, end: bar.update(task, completed=seq, total=end))
            typer.echo(f"projected up to sequence {last}")
        finally:
            await runtime.close()

    run_async(main)()


@app.command()
def schedule(
    once: bool = typer.Option(False, help="Record what is overdue now, then exit."),
    interval: float = typer.Option(1.0, min=0.1, help="Seconds between ticks."),
) -> None:
    """The deadline scheduler: records missed hotline deadlines and check calls, exactly once."""
    from adapters.cli.schedule import schedule as run_schedule

    run_async(run_schedule)(Settings(), once=once, interval=interval)


@app.command()
def digest() -> None:
    """Print a stable SHA-256 of the read models' content (equal on SQLite and PostgreSQL)."""

    async def main() -> None:
        from adapters.sql.digest import digest as compute
        from adapters.sql.engine import create_engine

        engine = create_engine(Settings().resolved_database_url)
        try:
            typer.echo(await compute(engine))
        finally:
            await engine.dispose()

    run_async(main)()


@app.command()
def replay(
    database_url: str = typer.Option(..., "--database-url", help="An EMPTY database to build the read models in."),
    until_seq: Optional[int] = typer.Option(None, "--until-seq", min=0, help="Stop at this stream sequence."),
    until: Optional[datetime] = typer.Option(None, "--until", help="Stop at the last event recorded at or before this time (UTC if no zone)."),
) -> None:
    """Rebuild read models from sequence 1 (optionally as of a time or sequence) and print the digest."""

    async def main() -> None:
        from datetime import UTC

        from adapters.runtime import Runtime
        from adapters.sql.digest import digest as compute
        from adapters.sql.engine import create_engine
        from adapters.sql.migrate import migrate as do_migrate
        from adapters.sql.projector import Projector

        settings = Settings()
        runtime = await Runtime.open(settings)
        engine = create_engine(database_url)
        try:
            await do_migrate(database_url)
            limit = until_seq
            if until is not None:
                moment = until if until.tzinfo else until.replace(tzinfo=UTC)
                at_time = await runtime.store.seq_at(moment)
                limit = at_time if limit is None else min(limit, at_time)
            projector = Projector(engine=engine, store=runtime.store, writer_process_from=settings.writer_process_from)
            if await projector.checkpoint() > 0:
                raise fail("the target database already holds projected data; give an empty one")
            end = limit if limit is not None else await runtime.store.last_seq()
            with _progress() as bar:
                task = bar.add_task("replaying", total=end)
                last = await projector.catch_up(until=end, progress=lambda seq, _: bar.update(task, completed=seq))
            typer.echo(f"replayed up to sequence {last}")
            typer.echo(await compute(engine))
        finally:
            await engine.dispose()
            await runtime.close()

    run_async(main)()


@app.command("import")
def import_file(path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="JSON Lines of commands")) -> None:
    """Import commands from a JSON Lines file (see README); bad lines are reported by number."""

    async def main() -> None:
        from adapters.cli.importer import import_lines
        from adapters.runtime import Runtime

        lines = path.read_text(encoding="utf-8").splitlines()
        runtime = await Runtime.open(Settings())
        try:
            with _progress() as bar:
                task = bar.add_task("importing", total=len(lines))
                done, errors = await import_lines(runtime.app, lines, on_progress=lambda: bar.advance(task))
        finally:
            await runtime.close()
        for error in errors:
            typer.secho(f"line {error.line}: {error.detail}", err=True, fg=typer.colors.RED)
        typer.echo(f"imported {done} command(s), {len(errors)} line(s) refused")
        if errors:
            raise typer.Exit(1)

    run_async(main)()


@party_app.command("add")
def party_add(code: str, name: str) -> None:
    """Register a party (e.g. `parley party add USA "United States"`)."""
    from core.parties import RegisterParty

    _party_command(lambda who, at: RegisterParty(code=code, name=name, by=who, at=at))


@party_app.command("officer")
def officer_add(party: str, officer_id: str, name: str) -> None:
    """Register an officer of a party."""
    from core.parties import RegisterOfficer

    _party_command(lambda who, at: RegisterOfficer(party=party, officer_id=officer_id, name=name, by=who, at=at))


def _party_command(build) -> None:  # noqa: ANN001
    async def main() -> None:
        from adapters.runtime import Runtime
        from core.identity import Principal, Role

        runtime = await Runtime.open(Settings())
        try:
            who = Principal(actor="cli", role=Role.ADMIN)
            outcome = await runtime.app.execute(build(who, runtime.app.clock.now()))
            typer.echo(f"ok: {outcome.aggregate_id} at sequence {outcome.seq}")
        finally:
            await runtime.close()

    run_async(main)()


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="officer | observer | auditor | admin | importer"),
    party: Optional[str] = typer.Option(None, help="Party code (officer, observer, importer)"),
    officer: Optional[str] = typer.Option(None, help="Officer id (officer, observer, importer)"),
    label: str = typer.Option("", help="A note to recognise the token by"),
    expires_in_days: Optional[int] = typer.Option(None, min=1, help="Expiry"),
) -> None:
    """Create a token. The secret is printed alone on the last line."""

    async def main() -> None:
        from pydantic import ValidationError

        from adapters.http.routes.tokens import issue, public
        from adapters.http.schemas import TokenIn
        from adapters.runtime import Runtime

        try:
            body = TokenIn(role=role, party=party, officer_id=officer, label=label, expires_in_days=expires_in_days)
        except ValidationError as error:
            raise fail(error.errors()[0]["msg"], code=2) from None
        runtime = await Runtime.open(Settings())
        try:
            secret, info = await issue(runtime, body)
        finally:
            await runtime.close()
        typer.echo(json.dumps(public(info)))
        typer.echo(secret)

    run_async(main)()


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""

    async def main() -> None:
        from adapters.http.routes.tokens import public
        from adapters.sql.engine import create_engine
        from adapters.sql.tokens import TokenStore

        engine = create_engine(Settings().resolved_database_url)
        try:
            for info in await TokenStore(engine).list():
                typer.echo(json.dumps(public(info)))
        finally:
            await engine.dispose()

    run_async(main)()


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token at once (running API processes are told over NATS)."""
    from adapters.cli.revoking import revoke

    run_async(revoke)(Settings(), token_id)
