"""A small signed history on a real JetStream stream, and ways to tamper with it, for the
`parley verify` and notary tests.

The stream is created *without* `deny_delete` (unlike Parley's own), so a test can delete a
message the way someone with raw store access could. Changing stored bytes in place is not
possible through NATS; `copy_history` writes an altered copy to a new stream instead, which is
what restoring an edited backup looks like.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from nats.aio.client import Client as NATS

from adapters.clock import SystemClock
from adapters.integrity.audit_stream import AuditLog, AuditSpec
from adapters.integrity.keys_admin import create_key
from adapters.integrity.keystore import DirectorySigner, KeyDirectory
from adapters.integrity.log_tree import LogTree
from adapters.integrity.notary import Notary
from adapters.jetstream.direct import StoredMessage
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec
from core import parties
from core.application import Application
from core.identity import Principal, Role
from core.incidents import commands as c
from tests.unit.test_incidents_decider import account

ORIGIN = "parley.test/LOG"
ADMIN = Principal(actor="tester", role=Role.ADMIN)


@dataclass
class History:
    spec: StreamSpec
    store: JetStreamEventStore
    audit: AuditLog
    keys: KeyDirectory
    app: Application


async def open_stream(nc: NATS, spec: StreamSpec) -> tuple[JetStreamEventStore, AuditLog]:
    await nc.jetstream().add_stream(replace(spec.config(), deny_delete=False, deny_purge=False))
    audit = AuditLog(nc, AuditSpec.beside(spec))
    await audit.ensure()
    return JetStreamEventStore(nc=nc, spec=spec), audit


async def build_history(nc: NATS, spec: StreamSpec, home: Path) -> History:
    """System key; parties USA and RUS with officers and keys; an incident reported by USA and
    acknowledged by RUS (signed by them); then one signed checkpoint of the whole stream."""
    store, audit = await open_stream(nc, spec)
    app = Application(store=store, clock=SystemClock())
    keys = KeyDirectory(home / "keys")
    app.handler.signer = DirectorySigner(keys)
    await create_key(app, keys, holder="system", origin=ORIGIN, by=ADMIN)
    for code in ("USA", "RUS"):
        now = app.clock.now()
        await app.execute(parties.RegisterParty(code=code, name=code, by=ADMIN, at=now))
        await app.execute(parties.RegisterOfficer(party=code, officer_id=f"{code.lower()}-duty", name="duty", by=ADMIN, at=now))
        await create_key(app, keys, holder=code, origin=ORIGIN, by=ADMIN)
    usa = Principal(actor="usa-duty", role=Role.OFFICER, party="USA")
    rus = Principal(actor="rus-duty", role=Role.OFFICER, party="RUS")
    await app.execute(c.ReportIncident(incident_id="inc-1", by=usa, at=app.clock.now(), parties=("USA", "RUS"), account=account()))
    await app.execute(c.AcknowledgeIncident(incident_id="inc-1", by=rus, at=app.clock.now()))
    history = History(spec=spec, store=store, audit=audit, keys=keys, app=app)
    await notary_for(history).publish_now()
    return history


class _OneShot(Notary):
    async def publish_now(self) -> None:
        await self.start()
        await self.tree.catch_up()
        await self.publish()


def notary_for(history: History) -> _OneShot:
    key = history.keys.active("system")
    assert key is not None
    return _OneShot(tree=LogTree(history.store), audit=history.audit, key=key, origin=ORIGIN)


async def stored_messages(history: History) -> list[StoredMessage]:
    return [m async for m in history.store.read_raw()]


async def copy_history(
    nc: NATS, history: History, transform: Callable[[list[StoredMessage]], list[StoredMessage]]
) -> tuple[JetStreamEventStore, AuditLog]:
    """A new stream holding `transform(messages)` and the same checkpoints."""
    token = uuid.uuid4().hex[:12]
    spec = StreamSpec(name=f"T{token}", subject_prefix=f"t{token}")
    store, audit = await open_stream(nc, spec)
    js = nc.jetstream()
    old_prefix = history.spec.subject_prefix + "."
    for message in transform(await stored_messages(history)):
        await js.publish(spec.subject_prefix + "." + message.subject[len(old_prefix):], message.data, stream=spec.name)
    for message in await history.audit.all():
        await js.publish(audit.spec.checkpoint_subject, message.data, stream=audit.spec.name)
    return store, audit


async def drop_streams(nc: NATS, *names: str) -> None:
    js = nc.jetstream()
    for name in names:
        try:
            await js.delete_stream(name)
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass
