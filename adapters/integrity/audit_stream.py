"""The audit stream: signed checkpoints and witness co-signatures, apart from the events.

Stream `<PARLEY_STREAM>_AUDIT` holds the subjects `<prefix>.audit.>`:

    <prefix>.audit.checkpoint            every checkpoint the notary signed (C2SP signed note)
    <prefix>.audit.cosigned.<holder>     the same checkpoint co-signed by a witness party

Why a stream of its own: the projector and `parley verify` read `<prefix>.ev.>` as the history,
and a checkpoint is a statement *about* that history, not part of it; a separate stream keeps
every checkpoint ever published (witnesses and verify need old ones too) with the same
no-delete, no-purge configuration as the event stream.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from adapters.jetstream.direct import DirectGet, StoredMessage
from adapters.jetstream.stream import StreamSpec


@dataclass(frozen=True)
class AuditSpec:
    name: str
    subject_prefix: str

    @classmethod
    def beside(cls, events: StreamSpec) -> AuditSpec:
        return cls(name=f"{events.name}_AUDIT", subject_prefix=events.subject_prefix)

    @property
    def subjects(self) -> str:
        return f"{self.subject_prefix}.audit.>"

    @property
    def checkpoint_subject(self) -> str:
        return f"{self.subject_prefix}.audit.checkpoint"

    def cosigned_subject(self, holder: str) -> str:
        return f"{self.subject_prefix}.audit.cosigned.{holder}"

    def config(self, replicas: int = 1) -> StreamConfig:
        return StreamConfig(
            name=self.name, subjects=[self.subjects], storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS, max_msgs=-1, max_bytes=-1, max_age=0,
            discard=DiscardPolicy.OLD, deny_delete=True, deny_purge=True, allow_rollup_hdrs=False,
            allow_direct=True, num_replicas=replicas,
        )


class AuditLog:
    """Publishing and reading checkpoints on the audit stream, over a connection the caller owns."""

    def __init__(self, nc: NATS, spec: AuditSpec, *, timeout: float = 5.0) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=timeout)
        self.spec = spec
        self._direct = DirectGet(nc, spec.name, timeout=timeout)

    async def ensure(self, *, replicas: int = 1) -> None:
        try:
            await self._js.stream_info(self.spec.name)
        except NotFoundError:
            await self._js.add_stream(self.spec.config(replicas))

    async def exists(self) -> bool:
        try:
            await self._js.stream_info(self.spec.name)
        except NotFoundError:
            return False
        return True

    async def publish_checkpoint(self, note: str) -> int:
        ack = await self._js.publish(self.spec.checkpoint_subject, note.encode(), stream=self.spec.name)
        return ack.seq

    async def publish_cosigned(self, holder: str, note: str) -> int:
        ack = await self._js.publish(self.spec.cosigned_subject(holder), note.encode(), stream=self.spec.name)
        return ack.seq

    async def latest_checkpoint(self) -> str | None:
        message = await self._direct.last_for(self.spec.checkpoint_subject)
        return message.data.decode() if message is not None else None

    async def all(self) -> list[StoredMessage]:
        """Every checkpoint and co-signature, in the order they were published."""
        if not await self.exists():
            return []
        return await self._direct.all_for(self.spec.subjects)

    async def close(self) -> None:
        await self._direct.close()
