"""`parley keys`: create, rotate, retire, list and show signing keys (docs/key-management.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from adapters.cli.errors import fail, run_async
from adapters.settings import Settings

keys_app = typer.Typer(help="Ed25519 signing keys of parties and of the system (private keys stay on disk).",
                       no_args_is_help=True)


# --- keys -----------------------------------------------------------------------------------------

@keys_app.command("create")
def keys_create(
    holder: str = typer.Argument(..., help="A party code (USA) or `system`"),
    import_from: Optional[Path] = typer.Option(None, "--import", exists=True, dir_okay=False,
                                               help="Use this signer key file (PRIVATE+KEY+…) instead of generating one"),
    public: Optional[Path] = typer.Option(None, "--public", exists=True, dir_okay=False,
                                          help="Publish only this verifier key file (USA+…): the party keeps the private "
                                               "key and signs its own events (`keys sign-event`); a key held here is retired"),
) -> None:
    """Create (or rotate) a key pair: private key 0600 in the keys directory, public key published as an event."""
    if public is not None:
        if import_from is not None:
            raise fail("--public and --import exclude each other: --public keeps the private key away from this server")
        _publish_public(holder, public)
        return

    async def main() -> None:
        from adapters.integrity.keys_admin import create_key
        from adapters.integrity.settings import AuditSettings
        from adapters.integrity.wiring import key_directory
        from adapters.runtime import Runtime
        from core.identity import Principal, Role
        from core.integrity.notes import NoteError, SignerKey

        audit = AuditSettings()
        imported = None
        if import_from is not None:
            try:
                imported = SignerKey.parse(import_from.read_text())
            except NoteError as err:
                raise fail(f"{import_from}: {err}") from None
        runtime = await Runtime.open(Settings())
        try:
            directory = key_directory(runtime, audit)
            change = await create_key(runtime.app, directory, holder=holder, origin=audit.origin(runtime.settings),
                                      by=Principal(actor="cli", role=Role.ADMIN), imported=imported)
        finally:
            await runtime.close()
        typer.echo(f"{holder}: key {change.key.verifier.id_hex} published at sequence {change.published_seq}")
        typer.echo(f"private key: {directory.path / (holder + '.key')} (mode 0600; back it up offline)")
        if change.retired is not None:
            typer.echo(f"retired key {change.retired.verifier.id_hex} at sequence {change.retired_seq}")
        typer.echo(change.key.verifier.encode())

    run_async(main)()


def _publish_public(holder: str, public: Path) -> None:
    async def main() -> None:
        from adapters.integrity.client_keys import publish_public_key
        from adapters.integrity.wiring import key_directory
        from adapters.runtime import Runtime
        from core.identity import Principal, Role
        from core.integrity.notes import NoteError, VerifierKey

        try:
            key = VerifierKey.parse(public.read_text())
        except NoteError as err:
            raise fail(f"{public}: {err}") from None
        runtime = await Runtime.open(Settings())
        try:
            change = await publish_public_key(runtime.app, key_directory(runtime), holder=holder, key=key,
                                              by=Principal(actor="cli", role=Role.ADMIN))
        finally:
            await runtime.close()
        typer.echo(f"{holder}: public key {change.key.id_hex} published at sequence {change.published_seq}"
                   " (no private key held here: its officers sign their own events)")
        if change.retired is not None:
            typer.echo(f"retired key {change.retired.id_hex} held here at sequence {change.retired_seq}")

    run_async(main)()


@keys_app.command("generate")
def keys_generate(
    name: str = typer.Argument(..., help="The party code the key is for (its name), e.g. USA"),
    out: Path = typer.Option(..., "--out", "-o", dir_okay=False, help="Where to write the private key (mode 0600; must not exist)"),
) -> None:
    """Make a key pair on this machine, without a server: the private key goes to --out, the
    public key to stdout (publish it with `parley keys create NAME --public FILE` on the server)."""
    import os

    from core.identity import PARTY_CODE
    from core.integrity.notes import SignerKey

    if not PARTY_CODE.match(name):
        raise fail(f"{name!r} is not a party code (e.g. USA): a client signing key is named like its party")
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"{out} exists; not overwriting a key") from None
    key = SignerKey.generate(name)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.encode() + "\n")
    typer.echo(key.verifier.encode())


@keys_app.command("sign-event")
def keys_sign_event(
    key: Path = typer.Option(..., "--key", exists=True, dir_okay=False, help="The party's signer key file (PRIVATE+KEY+…)"),
    headers: bool = typer.Option(False, "--headers", help="Print every submit header as `Name: value` lines (for curl -H @file)"),
) -> None:
    """Sign the events of a prepare response (JSON on stdin) on this machine; print the Parley-Signature value.

    Each event is checked before it is signed (its hash matches its content, it is asserted by the
    key's party) and summarised on stderr, so you see what you sign. The private key never leaves here."""
    import sys

    from core.errors import Invalid
    from core.integrity.client_signing import sign_prepared, signatures_header
    from core.integrity.notes import NoteError, SignerKey

    try:
        signer = SignerKey.parse(key.read_text())
    except NoteError as err:
        raise fail(f"{key}: {err}") from None
    try:
        prepared = json.loads(sys.stdin.read())
    except ValueError as err:
        raise fail(f"stdin is not the JSON of a prepare response: {err}") from None
    if not isinstance(prepared, dict):
        raise fail("stdin is not the JSON object of a prepare response")
    try:
        signatures = sign_prepared(prepared, signer)
    except (Invalid, ValueError) as err:
        raise fail(f"not signed: {err}") from None
    for item in prepared["events"]:
        event = item["event"]
        typer.echo(f"signing {event['type']} {event['aggtype']} {event['subject']} v{event['aggversion']}"
                   f" at {event['time']} by {event['source']}: {json.dumps(event['data'])[:300]}", err=True)
    value = signatures_header(signatures)
    if not headers:
        typer.echo(value)
        return
    for name, header in (prepared.get("submit_headers") or {}).items():
        typer.echo(f"{name}: {header}")
    typer.echo(f"Parley-Signature: {value}")


@keys_app.command("retire")
def keys_retire(holder: str, key_id: str, reason: str = typer.Option("", help="Why (e.g. compromised)")) -> None:
    """Retire a published key: events after this point signed with it no longer verify."""

    async def main() -> None:
        from adapters.integrity.keys_admin import retire_key
        from adapters.runtime import Runtime
        from core.identity import Principal, Role

        runtime = await Runtime.open(Settings())
        try:
            seq = await retire_key(runtime.app, holder=holder, key_id=key_id, reason=reason,
                                   by=Principal(actor="cli", role=Role.ADMIN))
        finally:
            await runtime.close()
        typer.echo(f"{holder}: key {key_id} retired at sequence {seq}")

    run_async(main)()


@keys_app.command("list")
def keys_list() -> None:
    """Every key publication and retirement in the log, as JSON lines (public keys only)."""

    async def main() -> None:
        from adapters.jetstream.direct import DirectGet
        from adapters.runtime import Runtime

        runtime = await Runtime.open(Settings())
        direct = DirectGet(runtime.nc, runtime.store.spec.name)
        try:
            messages = await direct.all_for(f"{runtime.store.spec.subject_prefix}.ev.key.>")
        finally:
            await direct.close()
            await runtime.close()
        for message in messages:
            event = json.loads(message.data)
            typer.echo(json.dumps({"seq": message.seq, "type": event["type"], **event["data"]}))

    run_async(main)()


@keys_app.command("show")
def keys_show(holder: str) -> None:
    """Print the public (verifier) key of the key held here for `holder`."""
    from adapters.integrity.keystore import KeyDirectory
    from adapters.integrity.settings import AuditSettings

    key = KeyDirectory(AuditSettings().keys_path(Settings())).active(holder)
    if key is None:
        raise fail(f"no key of {holder} is held here")
    typer.echo(key.verifier.encode())
