"""`parley token revoke`: revoke in the database, then tell the running API processes over NATS.

API processes reuse a verified token for a few seconds (`adapters/token_cache.py`) and forget it
at once when a revocation notice arrives. The command reaches NATS as the API processes do
(`PARLEY_NATS_URL` and its credentials, or the embedded server of a `parley up` running in
`PARLEY_HOME`); when it cannot, the revocation still stands and it says how long the API
processes may still accept the token.
"""

from __future__ import annotations

import typer

from adapters import nats_access
from adapters.cli.errors import fail
from adapters.jetstream.connect import connect
from adapters.runtime import _running_embedded_url, cluster_urls
from adapters.settings import Settings
from adapters.sql.engine import create_engine
from adapters.sql.tokens import TokenStore
from adapters.token_cache import Revocations


async def revoke(settings: Settings, token_id: str) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        if not await TokenStore(engine).revoke(token_id):
            raise fail(f"no active token {token_id}")
    finally:
        await engine.dispose()
    typer.echo(f"revoked {token_id}")
    problem = await _announce(settings, token_id)
    if problem is not None:
        typer.echo(f"warning: running API processes were not told ({problem}); they refuse the token within"
                   f" {settings.token_cache_seconds:g} s, when their cached verification expires", err=True)


async def _announce(settings: Settings, token_id: str) -> str | None:
    """None when the notice reached the NATS server, else why not."""
    url = settings.nats_url or _running_embedded_url(settings.home)
    if url is None:
        return "no NATS server configured or running"
    try:
        access = nats_access.from_settings(settings) if settings.nats_url else nats_access.from_running_embedded(settings.home)
        nc = await connect(cluster_urls(url), name="parley-revoke", auth=access.app, tls=access.tls, connect_timeout=5.0)
    except Exception as error:  # noqa: BLE001 - reported, the revocation itself stands
        return f"cannot reach NATS: {type(error).__name__}: {error}"
    try:
        await Revocations(nc, settings.subject_prefix).announce(token_id)
    except Exception as error:  # noqa: BLE001
        return f"NATS did not take the notice: {type(error).__name__}: {error}"
    finally:
        await nc.close()
    return None
