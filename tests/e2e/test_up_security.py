"""`parley up`'s embedded nats-server: credentials required, kept private, never printed."""

from __future__ import annotations

import asyncio
import json
import signal
import stat

import pytest

from adapters.embedded.nats_server import load_credentials
from adapters.jetstream.connect import NatsAuth, connect
from core.errors import Unavailable
from tests.e2e.test_up import parley_up  # noqa: F401 - the fixture


def test_the_embedded_server_of_parley_up_requires_credentials(parley_up) -> None:  # noqa: ANN001, F811
    url, home, process = parley_up
    state = home / ".parley"
    nats_url = (state / "nats.url").read_text().strip()
    assert "@" not in nats_url  # the address only: no credentials in a file others may read
    for name in ("auth.json", "nats-server.conf"):
        assert stat.S_IMODE((state / "nats" / name).stat().st_mode) == 0o600
    credentials = load_credentials(state / "nats")
    assert credentials is not None

    async def attempts() -> None:
        with pytest.raises(Unavailable, match="refused the credentials"):
            await connect(nats_url, name="anonymous", connect_timeout=3)
        with pytest.raises(Unavailable, match="refused the credentials"):
            await connect(nats_url, name="guess", auth=NatsAuth(user="parley", password="parley"), connect_timeout=3)
        nc = await connect(nats_url, name="app", auth=NatsAuth(user="parley", password=credentials.app.password))
        await nc.close()

    asyncio.run(attempts())
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=20)[0]
    assert credentials.app.password not in output and credentials.admin.password not in output
    assert (home / ".parley" / "admin.token").read_text().strip().split("_", 2)[2] not in output
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert records and all("timestamp" in r and "level" in r for r in records)  # JSON log lines
