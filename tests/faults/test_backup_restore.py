"""Back up the stream and the database as docs/backup-restore.md says (database first, then the
stream; the stream offline, as a copy of the stopped server's `jetstream/` directory), destroy
both, restore both: the read models have the same digest, the API tokens still work, and the
restored system keeps projecting new events.

(The online `nats stream backup` needs the `nats` CLI, which the test machine does not have.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg

from adapters.embedded.nats_server import EmbeddedNatsServer
from adapters.jetstream.connect import connect
from adapters.jetstream.store import JetStreamEventStore
from adapters.jetstream.stream import StreamSpec, ensure_stream
from adapters.sql.engine import create_engine
from adapters.sql.tokens import TokenStore
from core.identity import Role
from tests.e2e.cli_process import parley
from tests.faults.processes import Appender, PrivatePostgres, checkpoint_of, clean_rebuild, digest_of, parley_env
from tests.integration.sql_fixtures import generated_history

EVENTS = 1500


async def test_stream_and_database_destroyed_and_restored_from_backup_give_the_same_digest(
    private_postgres: PrivatePostgres, private_nats: EmbeddedNatsServer, stream_spec: StreamSpec, tmp_path: Path,
) -> None:
    private_postgres.tool("createdb", "parley")
    url = private_postgres.url_for("parley")
    history = generated_history(EVENTS + 500).events
    env = parley_env(home=tmp_path / "home", nats=private_nats, database_url=url, spec=stream_spec)

    nc = await connect(private_nats.app_url, name="faults-backup")
    store = JetStreamEventStore(nc=nc, spec=stream_spec)
    await ensure_stream(nc.jetstream(), stream_spec)
    appender = Appender(store)
    for stored in history[:EVENTS]:
        await appender.append(stored)
    await store.close()
    await nc.close()
    projected = parley("project", "--once", env=env, timeout=300)
    assert projected.returncode == 0, projected.stderr
    engine = create_engine(url)
    try:
        secret, _ = await TokenStore(engine).create(role=Role.AUDITOR, party=None, officer_id=None, label="backup")
    finally:
        await engine.dispose()
    before = await digest_of(url)

    # Back up: the database first, then the stream (stopped server, whole jetstream/ directory).
    dump = private_postgres.root / "parley.dump"
    private_postgres.tool("pg_dump", "--format=custom", f"--file={dump}", "parley")
    await private_nats.stop()
    store_dir = private_nats.store_dir / "jetstream"
    backup = tmp_path / "backup" / "jetstream"
    shutil.copytree(store_dir, backup)

    # Destroy both.
    shutil.rmtree(store_dir)
    with psycopg.connect(private_postgres.url, autocommit=True) as conn:
        conn.execute("DROP DATABASE parley")

    # Restore both.
    shutil.copytree(backup, store_dir)
    await private_nats.start()
    private_postgres.tool("createdb", "parley")
    private_postgres.tool("pg_restore", "--no-owner", "--dbname=parley", str(dump))

    assert await digest_of(url) == before
    assert await checkpoint_of(url) == EVENTS
    engine = create_engine(url)
    try:
        assert await TokenStore(engine).verify(secret) is not None, "the API token did not survive"
    finally:
        await engine.dispose()

    # The restored pair keeps working: new appends continue the stream and get projected.
    nc = await connect(private_nats.app_url, name="faults-backup")
    try:
        store = JetStreamEventStore(nc=nc, spec=stream_spec)
        assert await store.last_seq() == EVENTS
        appender = Appender(store)
        appender.last = {(s.event.aggtype, s.event.subject): s.seq for s in history[:EVENTS]}
        for stored in history[EVENTS:]:
            await appender.append(stored)
        projected = parley("project", "--once", env=env, timeout=300)
        assert projected.returncode == 0, projected.stderr
        assert await digest_of(url) == await clean_rebuild(store, f"sqlite:///{tmp_path / 'reference.db'}")
        await store.close()
    finally:
        await nc.close()
