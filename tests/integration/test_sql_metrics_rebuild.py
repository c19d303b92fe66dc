"""Random histories (hypothesis): the metrics from the read models equal the reference reading of
the events, and a read model rebuilt from scratch gives exactly the figures of one projected
bit by bit — on SQLite and, with PARLEY_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sql import metrics_source
from adapters.sql.engine import create_engine
from adapters.sql.migrate import migrate
from adapters.sql.projector import Projector
from core.metrics.report import report
from core.metrics.scope import Scope, everything, rolling
from tests.integration.metrics_history import PARTIES, random_world, reference_histories
from tests.integration.sql_fixtures import PG_ENV

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not os.environ.get(PG_ENV), reason=f"set {PG_ENV} to run the PostgreSQL variant"))]


@contextlib.asynccontextmanager
async def fresh_engine(backend: str) -> AsyncIterator[object]:
    """A migrated engine on a database of its own (a temporary file, or a fresh schema)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/parley.db"
            await migrate(url)
            engine = create_engine(url)
            try:
                yield engine
            finally:
                await engine.dispose()
        return
    base = os.environ[PG_ENV]
    schema = f"m_{uuid.uuid4().hex[:16]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}', safe='')}"
    try:
        await migrate(url)
        engine = create_engine(url)
        try:
            yield engine
        finally:
            await engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def scopes(as_of):  # noqa: ANN001, ANN201
    for window in (everything(as_of), rolling(as_of, 30)):
        for p in (None, *PARTIES):
            for q in (None, *PARTIES):
                if p != q and not (p is None and q is not None):
                    yield Scope(as_of=as_of, window=window, party=p, counterpart=q)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), steps=st.integers(min_value=20, max_value=90),
       batch=st.integers(min_value=1, max_value=40))
async def test_rebuilt_and_incremental_read_models_give_the_reference_figures(backend: str, seed: int, steps: int,
                                                                              batch: int) -> None:
    world = await random_world(seed, steps=steps)
    events = [s async for s in world.store.read()]
    async with fresh_engine(backend) as rebuilt, fresh_engine(backend) as incremental:
        await Projector(engine=rebuilt, store=world.store, batch_size=1000).catch_up()
        step = max(1, len(events) // 5)
        for until in range(step, len(events) + step, step):  # a projector that kept up as events came
            await Projector(engine=incremental, store=world.store, batch_size=batch).catch_up(until=until)
        for as_of in (world.now, world.now - timedelta(days=2)):
            expected = reference_histories(events, as_of=as_of)
            for scope in scopes(as_of):
                parties = tuple(x for x in (scope.party, scope.counterpart) if x) or None
                one = report(await metrics_source.load(rebuilt, as_of=as_of, since=scope.window.start,
                                                       parties=parties), scope)
                two = report(await metrics_source.load(incremental, as_of=as_of, since=scope.window.start,
                                                       parties=parties), scope)
                assert one == two == report(expected, scope), scope
