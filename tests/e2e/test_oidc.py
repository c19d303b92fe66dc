"""Optional OIDC bearer tokens: JWTs checked against a real JWKS endpoint (served over HTTP here),
cached and refetched on key rotation, claims mapped to role, party and officer."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.http.oidc import OidcVerifier
from adapters.runtime import Runtime
from adapters.settings import Settings
from tests.e2e.conftest import Actors, account, bearer

ISSUER = "https://id.example.org/realms/parley"
AUDIENCE = "parley-api"


class Jwks:
    """A JWKS endpoint on a free local port whose keys a test can rotate; counts its fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                jwks.fetches += 1
                body = json.dumps({"keys": [
                    {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig", "alg": "RS256"}
                    for kid, key in jwks.keys.items()
                ]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_key(self, kid: str) -> rsa.RSAPrivateKey:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    server.add_key("k1")
    yield server
    server.server.shutdown()


@pytest.fixture
def settings(settings: Settings, jwks: Jwks) -> Settings:
    return settings.model_copy(update={"oidc_jwks_url": jwks.url, "oidc_issuer": ISSUER, "oidc_audience": AUDIENCE})


def mint(key: Any, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-123", "iat": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256", headers={"kid": kid})


async def test_a_valid_jwt_acts_as_the_officer_its_claims_name(api: httpx.AsyncClient, actors: Actors, runtime: Runtime, jwks: Jwks) -> None:
    token = mint(jwks.keys["k1"], parley_role="officer", parley_party="USA", parley_officer="usa-duty")
    r = await api.post("/api/v1/incidents", json={"parties": ["RUS"], "account": account()}, headers=bearer(token))
    assert r.status_code == 201, r.text
    event = json.loads((await runtime.store.get_raw(r.json()["version"])).data)  # type: ignore[union-attr]
    assert event["party"] == "USA" and event["actor"] == "usa-duty"
    for _ in range(5):
        assert (await api.get("/api/v1/incidents", headers=bearer(token))).status_code == 200
    assert jwks.fetches == 1  # the key set is cached
    auditor = mint(jwks.keys["k1"], parley_role="auditor", sub="auditor-7")
    assert (await api.get("/api/v1/events", headers=bearer(auditor))).status_code == 200
    r = await api.post("/api/v1/parties", json={"code": "FRA", "name": "France"}, headers=bearer(auditor))
    assert r.status_code == 403


async def test_forged_expired_or_misdirected_jwts_are_refused(api: httpx.AsyncClient, actors: Actors, jwks: Jwks) -> None:
    good = {"parley_role": "officer", "parley_party": "USA", "parley_officer": "usa-duty"}
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    refused = {
        "signed by another key": mint(stranger, **good),
        "expired": mint(jwks.keys["k1"], exp=now - 120, **good),
        "other audience": mint(jwks.keys["k1"], aud="another-api", **good),
        "other issuer": mint(jwks.keys["k1"], iss="https://evil.example", **good),
        "no expiry": mint(jwks.keys["k1"], exp=None, **good),
        "unknown role": mint(jwks.keys["k1"], parley_role="superuser"),
        "system role": mint(jwks.keys["k1"], parley_role="system"),
        "officer of another party": mint(jwks.keys["k1"], parley_role="officer", parley_party="USA", parley_officer="rus-duty"),
        "party role without party": mint(jwks.keys["k1"], parley_role="officer", parley_officer="usa-duty"),
        "unsigned": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 300, **good}, None, algorithm="none"),
        "not a jwt": "definitely-not-a-jwt",
    }
    for case, token in refused.items():
        r = await api.get("/api/v1/incidents", headers=bearer(token))
        assert r.status_code == 401, (case, r.text)
        assert r.headers["content-type"] == "application/problem+json"


async def test_a_rotated_key_is_fetched_when_a_token_names_it(runtime: Runtime, jwks: Jwks) -> None:
    verifier = OidcVerifier(jwks_url=jwks.url, issuer=ISSUER, audience=AUDIENCE, refresh_cooldown_seconds=0)
    first = await verifier.verify(mint(jwks.keys["k1"], parley_role="auditor"), runtime=runtime)
    assert first is not None and first.role.value == "auditor" and first.party is None
    new_key = jwks.add_key("k2")
    rotated = await verifier.verify(mint(new_key, kid="k2", parley_role="auditor"), runtime=runtime)
    assert rotated is not None and jwks.fetches == 2
    # a made-up key id refetches at most once per cooldown
    patient = OidcVerifier(jwks_url=jwks.url, issuer=ISSUER, audience=AUDIENCE, refresh_cooldown_seconds=60)
    assert await patient.verify(mint(jwks.keys["k1"], parley_role="auditor"), runtime=runtime) is not None
    for n in range(5):
        assert await patient.verify(mint(jwks.keys["k1"], kid=f"made-up-{n}", parley_role="auditor"), runtime=runtime) is None
    assert jwks.fetches == 3
