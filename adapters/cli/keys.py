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
) -> None:
    """Create (or rotate) a key pair: private key 0600 in the keys directory, public key published as an event."""

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
