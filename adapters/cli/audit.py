"""`parley verify`, `notary`, `witness`, `evidence`, `verify-bundle` (docs/auditing.md); `register`
adds them and `parley keys` (adapters/cli/keys.py) to the command line."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import typer

from adapters.cli.errors import fail, run_async
from adapters.settings import Settings

def register(app: typer.Typer) -> None:
    """Add the integrity commands to the `parley` command line."""
    from adapters.cli.keys import keys_app

    app.add_typer(keys_app, name="keys")
    app.command("verify")(verify)
    app.command("notary")(notary)
    app.command("witness")(witness)
    app.command("evidence")(evidence)
    app.command("verify-bundle")(verify_bundle)


def _progress():  # noqa: ANN202 - a rich Progress on stderr
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True))


# --- verify and notary ------------------------------------------------------------------------------

def verify(
    quiet: bool = typer.Option(False, help="No progress bar"),
    api: Optional[str] = typer.Option(None, help="Verify through this Parley API instead of NATS (content, not stored bytes)"),
    token: Optional[str] = typer.Option(None, envvar="PARLEY_TOKEN", help="With --api: an auditor (or admin) token"),
) -> None:
    """Check every event's hash, chain, signature and sequence, and every checkpoint; exit 1 on any problem."""

    async def main() -> None:
        from adapters.integrity.reader import open_reader
        from adapters.integrity.stream_check import verify_stream

        if api is not None and not token:
            raise fail("--api needs a token (--token or PARLEY_TOKEN)", code=2)
        async with contextlib.AsyncExitStack() as stack:
            # connect first, so a connection error is one line, without a progress bar above it
            reader = None if api is not None else await stack.enter_async_context(open_reader(Settings()))
            bar = None if quiet else stack.enter_context(_progress())
            task = bar.add_task("verifying", total=None) if bar is not None else None
            progress = (lambda seq, end: bar.update(task, completed=seq, total=end)) if bar is not None else None
            if reader is None:
                result = await _verify_api(api or "", token or "", progress)
            else:
                result = await verify_stream(reader.nc, reader.store, reader.audit, progress=progress)
        for problem in result.problems:
            typer.echo(f"PROBLEM {problem}")
        typer.echo(result.summary() + (f": {len(result.problems)} problem(s)" if result.problems else ": everything verifies"))
        if result.problems:
            raise typer.Exit(1)

    run_async(main)()


async def _verify_api(api: str, token: str, progress):  # noqa: ANN001, ANN202
    import httpx

    from adapters.integrity.http_check import FeedError, verify_over_http

    try:
        async with httpx.AsyncClient(base_url=api.rstrip("/"), timeout=60) as client:
            return await verify_over_http(client, token=token, progress=progress)
    except FeedError as err:
        raise fail(str(err)) from None
    except httpx.HTTPError as err:
        raise fail(f"cannot reach {api}: {err}", code=2) from None


def notary(
    once: bool = typer.Option(False, help="Certify up to the stream's end, publish one checkpoint, exit."),
    lease_seconds: float = typer.Option(
        10.0, min=1, envvar="PARLEY_NOTARY_LEASE_SECONDS",
        help="TTL of the lease that makes one of several notaries publish; a standby takes over this long after the active one dies.",
    ),
) -> None:
    """Follow the stream and publish signed checkpoints (PARLEY_CHECKPOINT_EVERY_EVENTS / _SECONDS).

    Only while holding the notary lease (NATS KV), the same one `parley up` takes: run several
    for availability, one publishes. `--once` refuses while another notary holds it."""
    from adapters.cli.notarizing import notarize

    run_async(notarize, service=not once)(Settings(), once=once, lease_seconds=lease_seconds)


# --- witness --------------------------------------------------------------------------------------

def witness(
    api: str = typer.Option(..., help="Base URL of the Parley API, e.g. https://parley.example.org"),
    token: str = typer.Option(..., envvar="PARLEY_TOKEN", help="An officer token of your party"),
    key: Path = typer.Option(..., exists=True, dir_okay=False, help="Your party's signer key file (PRIVATE+KEY+…)"),
    state: Path = typer.Option(..., help="Where this witness remembers the last checkpoint it co-signed (JSON)"),
    log_key: Optional[str] = typer.Option(None, help="The log's verifier key (`parley keys show system`); needed the first time"),
) -> None:
    """Co-sign the latest checkpoint after checking it is consistent with the last one you co-signed."""
    import asyncio

    import httpx

    from adapters.integrity.witness import WitnessError, witness_once

    try:
        result = asyncio.run(witness_once(api=api, token=token, key_file=key, state_file=state, log_key=log_key))
    except WitnessError as err:
        raise fail(str(err)) from None
    except httpx.HTTPError as err:
        raise fail(f"cannot reach {api}: {err}", code=2) from None
    typer.echo(result)


# --- evidence bundles -------------------------------------------------------------------------------

def evidence(
    incident_id: str,
    output: Path = typer.Option(..., "-o", "--output", dir_okay=False, help="Where to write the bundle (.zip)"),
) -> None:
    """Write the incident's evidence bundle: its events and related ones, proofs, checkpoint, keys."""

    async def main() -> None:
        from adapters.integrity.evidence import build_evidence, to_zip
        from adapters.integrity.settings import AuditSettings
        from adapters.integrity.wiring import audit_log, key_directory
        from adapters.runtime import Runtime

        audit_settings = AuditSettings()
        runtime = await Runtime.open(Settings())
        audit = audit_log(runtime)
        try:
            key = key_directory(runtime, audit_settings).active("system")
            if key is None:
                raise fail("no system key here: bundles are made where the system key is (`parley keys create system`)")
            files = await build_evidence(store=runtime.store, audit=audit, key=key, origin=audit_settings.origin(runtime.settings),
                                         incident_id=incident_id, now=runtime.app.clock.now())
        finally:
            await audit.close()
            await runtime.close()
        output.write_bytes(to_zip(files))
        events = sum(1 for name in files if name.startswith("events/"))
        typer.echo(f"wrote {output}: {events} events of incident {incident_id} and related aggregates, with proofs")

    run_async(main)()


def verify_bundle(
    bundle_path: Path = typer.Argument(..., exists=True, dir_okay=False, metavar="BUNDLE"),
    log_key: Optional[str] = typer.Option(None, help="The log key you trust (verifier key string); default: report the bundle's"),
) -> None:
    """Check an evidence bundle offline (no server, no database); exit 1 on any changed byte."""
    import zipfile

    from adapters.integrity.evidence import from_zip
    from core.integrity.bundle import verify_bundle as check
    from core.integrity.notes import NoteError, VerifierKey

    try:
        pinned = VerifierKey.parse(log_key) if log_key else None
    except NoteError as err:
        raise fail(f"--log-key: {err}", code=2) from None
    try:
        files = from_zip(bundle_path.read_bytes())
    except zipfile.BadZipFile as err:
        raise fail(f"{bundle_path} is not a zip file: {err}") from None
    report = check(files, log_key=pinned)
    for problem in report.problems:
        typer.echo(f"PROBLEM {problem}")
    manifest = report.manifest
    typer.echo(f"incident {manifest.get('incident_id')}: {report.events} events, checkpoint of {manifest.get('origin')} "
               f"at size {manifest.get('tree_size')}")
    if report.log_key is not None:
        typer.echo(f"log key: {report.log_key.encode()}" + ("" if pinned else "  (compare it with the key you trust)"))
    typer.echo(f"co-signed by: {', '.join(report.cosigners) or 'nobody'}")
    typer.echo(f"{len(report.problems)} problem(s)" if report.problems else "everything verifies")
    if report.problems:
        raise typer.Exit(1)
