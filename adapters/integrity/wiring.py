"""Wiring the integrity pieces onto a `Runtime`: the key directory, the system key, the notary.

(The event signer is installed by `Runtime.open`: `adapters.integrity.keystore.signer_for`.)"""

from __future__ import annotations

import asyncio

import structlog

from adapters.integrity.audit_stream import AuditLog, AuditSpec
from adapters.integrity.keys_admin import create_key
from adapters.integrity.keystore import KeyDirectory
from adapters.integrity.log_tree import LogTree
from adapters.integrity.notary import Notary
from adapters.integrity.settings import AuditSettings
from adapters.jetstream.lease import Lease, lease_key
from adapters.runtime import Runtime
from core.identity import SYSTEM
from core.integrity.keys import SYSTEM_HOLDER

log = structlog.get_logger("parley.integrity")


def key_directory(runtime: Runtime, audit: AuditSettings | None = None) -> KeyDirectory:
    return KeyDirectory((audit or AuditSettings()).keys_path(runtime.settings))


async def ensure_system_key(runtime: Runtime, audit: AuditSettings | None = None) -> None:
    """Create and publish the system key when this installation has none (first `parley up`)."""
    audit = audit or AuditSettings()
    directory = key_directory(runtime, audit)
    if directory.active(SYSTEM_HOLDER) is None:
        change = await create_key(runtime.app, directory, holder=SYSTEM_HOLDER, origin=audit.origin(runtime.settings), by=SYSTEM)
        log.info("system key created", key_id=change.key.verifier.id_hex, seq=change.published_seq)


def audit_log(runtime: Runtime) -> AuditLog:
    return AuditLog(runtime.nc, AuditSpec.beside(runtime.store.spec))


def open_notary(runtime: Runtime, audit: AuditSettings | None = None) -> Notary:
    audit = audit or AuditSettings()
    key = key_directory(runtime, audit).active(SYSTEM_HOLDER)
    if key is None:
        raise ValueError("no system key: create one with `parley keys create system`")
    return Notary(tree=LogTree(runtime.store), audit=audit_log(runtime), key=key, origin=audit.origin(runtime.settings),
                  every_events=audit.checkpoint_every_events, every_seconds=audit.checkpoint_every_seconds)


def notary_lease(runtime: Runtime, *, ttl: float) -> Lease:
    """The lease that makes one notary per stream publish checkpoints (`parley notary` and the
    notary inside `parley up` / `serve --projector` take the same one)."""
    return Lease(runtime.nc, name=lease_key("notary", runtime.settings.stream), ttl=ttl,
                 replicas=runtime.settings.stream_replicas)


async def run_notary(runtime: Runtime, stop: asyncio.Event, *, lease_seconds: float | None = None,
                     audit: AuditSettings | None = None) -> None:
    """The notary inside `parley up` / `serve --projector`: a failure is logged (never silent) and
    stops only the notary. With `lease_seconds`, one notary per stream works at a time."""
    async def work(quit: asyncio.Event) -> None:
        await ensure_system_key(runtime, audit)
        await open_notary(runtime, audit).run(quit)

    try:
        if lease_seconds is None:
            await work(stop)
        else:
            await notary_lease(runtime, ttl=lease_seconds).hold(work, stop)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 - reported, not swallowed
        log.error("notary stopped", error=f"{type(error).__name__}: {error}")
