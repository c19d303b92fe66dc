"""Verified API tokens remembered for a few seconds, and forgotten at once wherever one is revoked.

Looking a token up in the database on every request cost one of the three database round trips
of a write (measured: ~0.6 ms of CPU per look-up in the API process, plus PostgreSQL's share).
So each API process keeps the tokens it verified in memory, and revocation is made to reach
every process at once:

- **Announcing.** Revoking a token (`TokenStore.revoke`: the HTTP API and `parley token revoke`)
  first commits `revoked_at`, then publishes the token's id on the core NATS subject
  `<prefix>.ctl.tokens.revoked` and waits until the server has it (`flush`). Every API
  process subscribes to that subject and drops the token from its cache when the notice comes.
- **The next request.** A cache hit is not answered straight away: the request first yields to
  the event loop twice, exactly as many steps as nats-py needs to hand a notice that arrived
  together with the request to its subscription callback (the reader task parses it, then the
  subscription's task runs the callback). So a request that reaches a process after that
  process received the notice is refused, even when both arrive in the same instant. A request
  that reaches it *before* the notice does (the NATS server hands notices on asynchronously,
  after `flush` returned to the revoker) is still answered from the cache: milliseconds when
  idle; seen once on two busy test workers (tests/e2e/test_tokens.py asks until refused).
- **When notices can be missed.** The cache is only used while this process is connected to
  NATS, and everything in it is dropped when the connection was lost and re-established
  (notices sent meanwhile are not delivered later). Entries also expire after
  `PARLEY_TOKEN_CACHE_SECONDS` (default 5 s, 0 turns the cache off): the bound for the cases
  no notice can cover — a revocation by `parley token revoke` on a host that cannot reach NATS
  (it says so), or a connection that died without this process noticing yet.
- Only successful verifications are cached, never for longer than the token's own expiry;
  unknown, revoked and expired tokens always go to the database.

Keys are SHA-256 digests of the presented token: the secrets themselves are not kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Callable

import structlog

if TYPE_CHECKING:
    from adapters.sql.tokens import TokenInfo

log = structlog.get_logger("parley.tokens")

#: Default lifetime of a cached verification (seconds).
DEFAULT_TTL_SECONDS = 5.0
#: How long `announce` waits for the NATS server to confirm it has the notice.
ANNOUNCE_TIMEOUT_SECONDS = 2.0


def revocation_subject(subject_prefix: str) -> str:
    """Core NATS (nothing stored): outside the event stream's `<prefix>.ev.>`."""
    return f"{subject_prefix}.ctl.tokens.revoked"


class Revocations:
    """Announces revoked token ids to every process listening on the revocation subject."""

    def __init__(self, nc: Any, subject_prefix: str) -> None:
        self._nc = nc
        self.subject = revocation_subject(subject_prefix)

    async def announce(self, token_id: str) -> None:
        """Publish the notice and wait until the server has it (raises if NATS cannot be reached)."""
        await self._nc.publish(self.subject, token_id.encode())
        await self._nc.flush(timeout=ANNOUNCE_TIMEOUT_SECONDS)


class TokenCache:
    """`get`/`put` verified tokens of this process; `start()` listens for revocations."""

    def __init__(self, nc: Any, subject_prefix: str, *, ttl: float = DEFAULT_TTL_SECONDS,
                 max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._nc = nc
        self.subject = revocation_subject(subject_prefix)
        self.ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[TokenInfo, float]] = OrderedDict()
        self._by_id: dict[str, bytes] = {}
        self._subscription: Any = None
        self._reconnects = 0
        #: Moves on with every revocation seen and every reconnection: a verification that read
        #: the table before either may be stale and is not cached (`put(…, generation)`).
        self._generation = 0

    async def start(self) -> None:
        """Subscribe to revocation notices; until then (and after `stop`) nothing is cached."""
        if self.ttl <= 0 or self._subscription is not None:
            return
        self._reconnects = self._nc.stats["reconnects"]
        try:
            subscription = await self._nc.subscribe(self.subject, cb=self._on_notice)
            await self._nc.flush(timeout=ANNOUNCE_TIMEOUT_SECONDS)  # subscribed at the server from here on
        except Exception as error:  # noqa: BLE001 - without notices, no cache: every request reads the table
            log.warning("token cache off: cannot listen for revocations", error=f"{type(error).__name__}: {error}")
            return
        self._subscription = subscription

    async def stop(self) -> None:
        subscription, self._subscription = self._subscription, None
        self.clear()
        if subscription is not None:
            try:
                await subscription.unsubscribe()
            except Exception:  # noqa: BLE001 - the connection may be closing already
                pass

    def clear(self) -> None:
        self._entries.clear()
        self._by_id.clear()

    def _usable(self) -> bool:
        """Only while connected, and never across a reconnection (notices may have been missed)."""
        if self._subscription is None or not self._nc.is_connected:
            return False
        reconnects = self._nc.stats["reconnects"]
        if reconnects != self._reconnects:
            self.clear()
            self._reconnects = reconnects
            self._generation += 1
        return True

    def generation(self) -> int:
        """Take this before reading the table; pass it to `put` with what was read."""
        self._usable()
        return self._generation

    def get(self, token: str) -> TokenInfo | None:
        if not self._usable():
            return None
        key = _key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        info, until = entry
        if self._clock() >= until or (info.expires_at is not None and info.expires_at <= datetime.now(UTC)):
            self._drop(key)
            return None
        return info

    def put(self, token: str, info: TokenInfo, generation: int) -> None:
        """Remember a verification read from the table after `generation()` returned
        `generation`; nothing is remembered if a revocation or a reconnection came meanwhile."""
        if not self._usable() or generation != self._generation or info.revoked_at is not None:
            return
        key = _key(token)
        self._entries[key] = (info, self._clock() + self.ttl)
        self._entries.move_to_end(key)
        self._by_id[info.id] = key
        while len(self._entries) > self._max:
            old, (old_info, _) = self._entries.popitem(last=False)
            self._by_id.pop(old_info.id, None)

    def forget(self, token_id: str) -> None:
        """Drop `token_id` from this process's cache (a revocation here, or a notice)."""
        self._generation += 1
        key = self._by_id.pop(token_id, None)
        if key is not None:
            self._entries.pop(key, None)

    async def settled(self) -> None:
        """Let revocation notices that arrived with the current request reach `_on_notice`
        first: nats-py's reader task parses a message one loop step after it arrived, the
        subscription's task runs the callback one step later."""
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    async def _on_notice(self, msg: Any) -> None:
        token_id = msg.data.decode(errors="replace")
        self.forget(token_id)
        log.info("token revocation received", token_id=token_id)

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._by_id.pop(entry[0].id, None)


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
