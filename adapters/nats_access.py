"""Which NATS credentials and TLS a Parley process uses.

Two sources, never mixed: an embedded server (`parley up`) keeps generated credentials in
`$PARLEY_HOME/nats/auth.json`; an external server is reached with `PARLEY_NATS_USER` /
`PARLEY_NATS_PASSWORD` or `PARLEY_NATS_CREDS`, and TLS from `PARLEY_NATS_TLS_*`.

The application's user is least-privileged: it cannot delete, purge or update the stream. The
optional admin (`PARLEY_NATS_ADMIN_*`) is used only at start-up, to create the stream where the
application's user is not allowed to (see docs/security.md), and the connection is closed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from adapters.embedded.nats_server import EmbeddedCredentials, NatsServerError, load_credentials
from adapters.jetstream.connect import NatsAuth, NatsTls
from adapters.settings import Settings

EMBEDDED_DIR = "nats"


@dataclass(frozen=True, kw_only=True)
class NatsAccess:
    app: NatsAuth
    admin: NatsAuth | None = None
    tls: NatsTls | None = None


def embedded_store(home: Path) -> Path:
    """Where `parley up` keeps its nats-server's data and credentials."""
    return home / EMBEDDED_DIR


def from_embedded(credentials: EmbeddedCredentials) -> NatsAccess:
    """The application's user of an embedded server; the admin is not needed by Parley."""
    return NatsAccess(app=NatsAuth(user=credentials.app.user, password=credentials.app.password))


def from_running_embedded(home: Path) -> NatsAccess:
    found = load_credentials(embedded_store(home))
    if found is None:
        raise NatsServerError(f"the embedded nats-server's credentials are missing from {embedded_store(home)}")
    return from_embedded(found)


def from_settings(settings: Settings) -> NatsAccess:
    """Credentials and TLS of an external NATS, as configured by `PARLEY_NATS_*`."""
    app = NatsAuth(
        user=settings.nats_user,
        password=settings.nats_password.get_secret_value() if settings.nats_password else None,
        creds_file=settings.nats_creds,
    )
    admin = None
    if settings.nats_admin_user or settings.nats_admin_creds:
        admin = NatsAuth(
            user=settings.nats_admin_user,
            password=settings.nats_admin_password.get_secret_value() if settings.nats_admin_password else None,
            creds_file=settings.nats_admin_creds,
        )
    tls = None
    if settings.nats_tls_ca or settings.nats_tls_cert:
        tls = NatsTls(ca_file=settings.nats_tls_ca, cert_file=settings.nats_tls_cert, key_file=settings.nats_tls_key)
    return NatsAccess(app=app, admin=admin, tls=tls)
