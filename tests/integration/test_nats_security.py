"""NATS access against a real nats-server: credentials are required, the application's user
cannot destroy history, TLS works, and Parley connects with what the settings say."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nats.aio.client import Client as NATS
from nats.js.api import StreamConfig

from adapters.embedded.nats_server import AUTH_NAME, CONFIG_NAME, EmbeddedNatsServer, load_credentials
from adapters.jetstream.connect import NatsAuth, NatsTls, connect, redact_url
from adapters.jetstream.stream import StreamSpec
from adapters.runtime import Runtime
from adapters.settings import Settings
from core.errors import Unavailable
from tests.conftest import NatsServerFactory


async def test_connecting_without_or_with_wrong_credentials_is_refused(nats_server: EmbeddedNatsServer) -> None:
    with pytest.raises(Unavailable, match="Authorization Violation"):
        await connect(nats_server.url, name="anonymous", connect_timeout=1.5)
    wrong = NatsAuth(user=nats_server.credentials.app.user, password="not-the-password")
    with pytest.raises(Unavailable, match="Authorization Violation") as caught:
        await connect(nats_server.url, name="guesser", connect_timeout=1.5, auth=wrong)
    assert "not-the-password" not in str(caught.value)
    nc = await connect(nats_server.url, name="app", auth=NatsAuth(user="parley", password=nats_server.credentials.app.password))
    assert nc.is_connected
    await nc.close()


def test_credentials_are_private_random_and_survive_a_restart(nats_server_factory: NatsServerFactory, tmp_path: Path) -> None:
    server = nats_server_factory(store_dir=tmp_path / "private")
    for name in (AUTH_NAME, CONFIG_NAME):
        assert stat.S_IMODE((tmp_path / "private" / name).stat().st_mode) == 0o600
    first = server.credentials
    assert len(first.app.password) >= 40 and first.app.password != first.admin.password
    assert first.app.password not in repr(first)
    other = nats_server_factory(store_dir=tmp_path / "other")
    assert other.credentials.app.password != first.app.password
    server.stop_blocking()
    server.start_blocking()
    assert load_credentials(tmp_path / "private") == first == server.credentials


async def _refused(nc: NATS, errors: list[str], call: object, subject: str) -> None:
    """The request gets no answer (the server drops it) and the server reports a permissions violation."""
    with pytest.raises(asyncio.TimeoutError):
        await call  # type: ignore[misc]
    for _ in range(50):
        if any("permissions violation" in e and subject in e for e in errors):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no permissions violation for {subject}: {errors}")


async def test_the_application_user_cannot_delete_purge_or_rewrite_a_stream(nats_server: EmbeddedNatsServer, stream_spec: StreamSpec) -> None:
    errors: list[str] = []
    app = NATS()

    async def record(error: Exception) -> None:
        errors.append(str(error).lower())

    await app.connect(nats_server.url, user="parley", password=nats_server.credentials.app.password,
                      error_cb=record, allow_reconnect=False)
    admin = await connect(nats_server.admin_url, name="admin")
    # A stream WITHOUT deny_delete/deny_purge: only the user's permissions stand in the way.
    name = stream_spec.name
    await admin.jetstream().add_stream(StreamConfig(name=name, subjects=[f"{stream_spec.subject_prefix}.>"]))
    js = app.jetstream(timeout=1.0)
    await js.publish(f"{stream_spec.subject_prefix}.ev.x.1", b"kept")  # appending is allowed
    try:
        await _refused(app, errors, js.purge_stream(name), f"$js.api.stream.purge.{name.lower()}")
        await _refused(app, errors, js.delete_stream(name), f"$js.api.stream.delete.{name.lower()}")
        await _refused(app, errors, js.delete_msg(name, 1), f"$js.api.stream.msg.delete.{name.lower()}")
        await _refused(app, errors, js.update_stream(StreamConfig(name=name, subjects=[f"{stream_spec.subject_prefix}.>"], max_msgs=0)),
                       f"$js.api.stream.update.{name.lower()}")
        info = await admin.jetstream().stream_info(name)
        assert info.state.messages == 1  # nothing was lost
        # ...and the same calls by the admin work, so it is the permissions that refused them.
        assert await admin.jetstream().purge_stream(name)
    finally:
        await admin.jetstream().delete_stream(name)
        await admin.close()
        await app.close()


async def test_parley_connects_with_configured_credentials_and_admin(nats_server: EmbeddedNatsServer, tmp_path: Path, stream_spec: StreamSpec) -> None:
    creds = nats_server.credentials
    settings = Settings(
        home=tmp_path / "home", nats_url=nats_server.url, nats_user=creds.app.user, nats_password=creds.app.password,
        nats_admin_user=creds.admin.user, nats_admin_password=creds.admin.password,
        stream=stream_spec.name, subject_prefix=stream_spec.subject_prefix,
    )
    assert creds.app.password not in repr(settings) and creds.admin.password not in repr(settings)
    runtime = await Runtime.open(settings)
    try:
        assert await runtime.store.last_seq() == 0
        assert runtime.nc.is_connected
    finally:
        await runtime.close()
        admin = await connect(nats_server.admin_url, name="cleanup")
        await admin.jetstream().delete_stream(stream_spec.name)
        await admin.close()
    no_password = settings.model_copy(update={"nats_password": None, "nats_admin_user": None})
    with pytest.raises(Unavailable, match="Authorization Violation"):
        await Runtime.open(no_password)


def test_urls_are_redacted() -> None:
    assert redact_url("nats://parley:s3cret@10.0.0.1:4222") == "nats://***@10.0.0.1:4222"
    assert redact_url("tls://host:4222") == "tls://host:4222"


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "parley-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


async def test_tls_is_used_when_configured(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    async with EmbeddedNatsServer(store_dir=tmp_path / "tls", tls_cert=cert, tls_key=key) as server:
        assert server.url.startswith("tls://")
        auth = NatsAuth(user="parley", password=server.credentials.app.password)
        nc = await connect(server.url, name="tls", auth=auth, tls=NatsTls(ca_file=cert))
        try:
            assert nc.is_connected and nc.connected_server_version  # handshake verified against the CA
        finally:
            await nc.close()
        with pytest.raises(Unavailable):  # without our CA the server's certificate is not trusted
            await connect(server.url, name="untrusting", auth=auth, tls=NatsTls(), connect_timeout=1.5)
