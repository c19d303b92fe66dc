"""Who may call what: the expected outcome of every route for every role, for a record of the
caller's own party and for one of another party. `test_access_matrix.py` reads /openapi.json and
FAILS when a route has no entry here (or an entry names a route that no longer exists).

Adding a route: add one line to `MATRIX`, keyed `"METHOD /path"` exactly as in /openapi.json,
e.g. `"GET /api/v1/hotline/calls/{record_id}": party_record_read(),`. If the path has a
parameter that `PATH_VALUES` does not know, add a function making an "own" value (a record the
caller's party USA is involved in) and an "other" value (a record of RUS and UKR only); create
records through `world.api` with `world.actors`, and wrap the creation in `world.once(name, ...)`
so it happens once per test. Unknown parameters get `"no-such-id"`.

Outcomes, from the access layer's point of view (the domain may still refuse afterwards):
  OK   passes: any status below 500 except 401, 404, 429 and a 403 `access-denied`
       (a 409 or 422 from the domain or from validation counts: access was granted).
  DENY 403 `access-denied`: this role may never do this.
  HIDE 404: the record exists but the caller may not know it (the same answer as "missing").
  AUTH 401: no token.
A cell is one outcome (same for own and other party) or `(own, other)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Literal, Union

if TYPE_CHECKING:
    from tests.e2e.test_access_matrix import World

Outcome = Literal["OK", "DENY", "HIDE", "AUTH"]
Cell = Union[Outcome, tuple[Outcome, Outcome]]
OK: Outcome = "OK"
DENY: Outcome = "DENY"
HIDE: Outcome = "HIDE"
AUTH: Outcome = "AUTH"

#: Token roles tested, each bound to the party "USA" where the role has a party.
ROLES = ("officer", "observer", "importer", "auditor", "admin")
PARTY_ROLES = ("officer", "observer", "importer")


@dataclass(frozen=True, kw_only=True)
class Row:
    officer: Cell = DENY
    observer: Cell = DENY
    importer: Cell = DENY
    auditor: Cell = DENY
    admin: Cell = DENY
    anonymous: Outcome = AUTH

    def expected(self, role: str, context: str) -> Outcome:
        cell: Cell = getattr(self, role)
        if isinstance(cell, tuple):
            return cell[0] if context == "own" else cell[1]
        return cell


def public() -> Row:
    return Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=OK, anonymous=OK)


def anyone() -> Row:
    """Every authenticated role."""
    return Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=OK)


def admin_only() -> Row:
    return Row(admin=OK)


def readers_of_everything() -> Row:
    return Row(auditor=OK, admin=OK)


def party_record_read() -> Row:
    """A record of a dyad: its parties' members read it; third parties get 404; auditors and admins read all."""
    return Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=(OK, HIDE), auditor=OK, admin=OK)


def party_record_write() -> Row:
    """Acting on a record of a dyad: its parties' officers and importers; third parties get 404."""
    return Row(officer=(OK, HIDE), importer=(OK, HIDE))


def party_members_only() -> Row:
    """Visible to the party's own members, auditors and admins; other parties' members get 403."""
    return Row(officer=(OK, DENY), observer=(OK, DENY), importer=(OK, DENY), auditor=OK, admin=OK)


def acting() -> Row:
    """Creating a record as the caller's own party (officers and importers)."""
    return Row(officer=OK, importer=OK)


MATRIX: dict[str, Row] = {
    # operations
    "GET /healthz": public(),
    "GET /readyz": public(),
    # parties and officers
    "POST /api/v1/parties": admin_only(),
    "GET /api/v1/parties": anyone(),
    "GET /api/v1/parties/{code}": anyone(),
    "POST /api/v1/parties/{code}/officers": admin_only(),
    "GET /api/v1/parties/{code}/officers": party_members_only(),
    # incidents
    "POST /api/v1/incidents": acting(),
    "GET /api/v1/incidents": anyone(),  # filtered to the caller's party for party roles (tested apart)
    "GET /api/v1/incidents/{incident_id}": party_record_read(),
    "GET /api/v1/incidents/{incident_id}/timeline": party_record_read(),
    "POST /api/v1/incidents/{incident_id}/acknowledge": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/counter-account": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/amend": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/retract": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/reconcile": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/dispute": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/review": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/resolve": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/clarifications": party_record_write(),
    "POST /api/v1/incidents/{incident_id}/clarifications/{clarification_id}/answer": party_record_write(),
    # the raw event feed: every party's events, so auditors and admins only
    "GET /api/v1/events": readers_of_everything(),
    # tokens
    "GET /api/v1/tokens": admin_only(),
    "POST /api/v1/tokens": admin_only(),
    "DELETE /api/v1/tokens/{token_id}": admin_only(),
    # the caller's own identity, and EventSource tickets for the live stream (the web interface)
    "GET /api/v1/whoami": anyone(),
    "POST /api/v1/session/stream-ticket": anyone(),
    # agreements (admins and importers manage; officers designate their own party's contacts and answer check calls)
    "GET /api/v1/agreements": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=OK),
    "GET /api/v1/agreements/{agreement_id}": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=(OK, HIDE), auditor=OK, admin=OK),
    "GET /api/v1/agreements/{agreement_id}/check-calls": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=(OK, HIDE), auditor=OK, admin=OK),
    "POST /api/v1/agreements": Row(officer=DENY, observer=DENY, importer=OK, auditor=DENY, admin=OK),
    "POST /api/v1/agreements/{agreement_id}/check-calls/answer": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/agreements/{agreement_id}/contacts": Row(officer=(OK, HIDE), observer=DENY, importer=DENY, auditor=DENY, admin=OK),
    "POST /api/v1/agreements/{agreement_id}/terms": Row(officer=DENY, observer=DENY, importer=OK, auditor=DENY, admin=OK),
    # the hotline: visible only to the channel's two parties and auditors (admins manage, never read traffic)
    "GET /api/v1/hotline/calls": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=DENY),
    "GET /api/v1/hotline/calls/{call_id}": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=(OK, HIDE), auditor=OK, admin=DENY),
    "GET /api/v1/hotline/explanations": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=DENY),
    "GET /api/v1/hotline/explanations/{explanation_id}": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=(OK, HIDE), auditor=OK, admin=DENY),
    "GET /api/v1/hotline/messages": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=DENY),
    "GET /api/v1/hotline/messages/{message_id}": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=(OK, HIDE), auditor=OK, admin=DENY),
    "GET /api/v1/hotline/stream": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=DENY),
    "POST /api/v1/hotline/calls": Row(officer=OK, observer=DENY, importer=OK, auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/calls/{call_id}/accept": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/calls/{call_id}/decline": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/calls/{call_id}/held": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/explanations": Row(officer=OK, observer=DENY, importer=OK, auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/explanations/{explanation_id}/meeting": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/explanations/{explanation_id}/meeting-held": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/explanations/{explanation_id}/reply": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/messages": Row(officer=OK, observer=DENY, importer=OK, auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/messages/{message_id}/acknowledge": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/messages/{message_id}/answer": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/hotline/messages/{message_id}/delivered": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    # inspections, notifications and quotas of a dyad
    "GET /api/v1/inspections": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=DENY),
    "GET /api/v1/inspections/{inspection_id}": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=(OK, HIDE), auditor=OK, admin=DENY),
    "POST /api/v1/inspections": Row(officer=OK, observer=DENY, importer=OK, auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/accept": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/comments": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/complete": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/flight-plan": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/force-majeure": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/prohibit": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/prohibition-reasons": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/refuse": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/report": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/start": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "POST /api/v1/inspections/{inspection_id}/team-entered": Row(officer=(OK, HIDE), observer=DENY, importer=(OK, HIDE), auditor=DENY, admin=DENY),
    "GET /api/v1/notifications": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=DENY),
    "GET /api/v1/notifications/{notification_id}": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=(OK, HIDE), auditor=OK, admin=DENY),
    "POST /api/v1/notifications/activities": Row(officer=OK, observer=DENY, importer=OK, auditor=DENY, admin=DENY),
    "POST /api/v1/notifications/units": Row(officer=OK, observer=DENY, importer=OK, auditor=DENY, admin=DENY),
    "GET /api/v1/quotas/{party}/{year}": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=DENY),
    # metrics: a party's members see dyads their party is in; the index of metric names is public
    "GET /api/v1/metrics": Row(officer=OK, observer=OK, importer=OK, auditor=OK, admin=OK, anonymous=OK),
    "GET /api/v1/metrics/dyads/{p}/{q}": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=DENY, auditor=OK, admin=DENY),
    "GET /api/v1/metrics/incidents": Row(officer=OK, observer=OK, importer=DENY, auditor=OK, admin=DENY),
    "GET /api/v1/metrics/parties/{code}": Row(officer=(OK, HIDE), observer=(OK, HIDE), importer=DENY, auditor=OK, admin=DENY),
    "GET /api/v1/metrics/series/{metric}": Row(officer=OK, observer=OK, importer=DENY, auditor=OK, admin=DENY),
    # audit: checkpoints and proofs (no checkpoint is published in this test: the notary is not running, so
    # `checkpoint` and `evidence` answer 404 to every role allowed to ask)
    "GET /api/v1/audit/checkpoint": Row(officer=HIDE, observer=HIDE, importer=DENY, auditor=HIDE, admin=HIDE),
    "GET /api/v1/audit/checkpoints": Row(officer=OK, observer=OK, importer=DENY, auditor=OK, admin=OK),
    "GET /api/v1/audit/evidence/{incident_id}": Row(officer=DENY, observer=DENY, importer=DENY, auditor=HIDE, admin=HIDE),
    "GET /api/v1/audit/proofs/consistency": Row(officer=OK, observer=OK, importer=DENY, auditor=OK, admin=OK),
    "GET /api/v1/audit/proofs/inclusion": Row(officer=OK, observer=OK, importer=DENY, auditor=OK, admin=OK),
    "POST /api/v1/audit/cosignatures": Row(officer=OK, observer=DENY, importer=DENY, auditor=DENY, admin=DENY),
}


async def _incident(world: "World", context: str) -> str:
    return world.own_incident if context == "own" else world.other_incident


async def _party(world: "World", context: str) -> str:
    return "USA" if context == "own" else "RUS"


async def _clarification(world: "World", context: str) -> str:
    return "c1"


async def _token(world: "World", context: str) -> str:
    return await world.fresh_token_id()  # a new one each time: DELETE revokes it


AREA = {"type": "Polygon", "coordinates": [[[30.0, 50.0], [31.0, 50.0], [31.0, 51.0], [30.0, 51.0], [30.0, 50.0]]]}


async def _post(world: "World", path: str, body: dict[str, object], headers: dict[str, str]) -> str:
    """Create a record and wait until the read models show it (reads must find it at once)."""
    r = await world.api.post(path, json=body, headers=headers)
    assert r.status_code in (200, 201), f"{path}: {r.text}"
    assert await world.runtime.projector.wait_for(r.json()["version"], timeout=10)
    return str(r.json()["id"])


async def _agreement(world: "World", context: str) -> str:
    """own: USA–RUS; other: RUS–UKR (USA is not bound). Check calls off: no scheduler noise."""
    parties = ["USA", "RUS"] if context == "own" else ["RUS", "UKR"]
    body = {"id": f"M-{context}", "name": f"matrix {context}", "parties": parties,
            "terms": {"hotline": {"check_calls": {"enabled": False}}}}
    return await world.once(f"agreement-{context}", lambda: _post(world, "/api/v1/agreements", body, world.actors.admin))


async def _from_rus(world: "World", context: str, path: str, body: dict[str, object]) -> str:
    """A record RUS opens toward USA (own: USA is the recipient) or toward UKR (other)."""
    agreement = await _agreement(world, context)
    to = "USA" if context == "own" else "UKR"
    return await world.once(f"{path}-{context}", lambda: _post(
        world, path, {"agreement_id": agreement, "to_party": to, **body}, world.actors.rus))


async def _message(world: "World", context: str) -> str:
    return await _from_rus(world, context, "/api/v1/hotline/messages",
                           {"precedence": "ROUTINE", "subject": "matrix", "body": "matrix"})


async def _call(world: "World", context: str) -> str:
    return await _from_rus(world, context, "/api/v1/hotline/calls", {"purpose": "matrix"})


async def _explanation(world: "World", context: str) -> str:
    return await _from_rus(world, context, "/api/v1/hotline/explanations", {"subject": "matrix", "question": "why?"})


async def _inspection(world: "World", context: str) -> str:
    from datetime import UTC, datetime, timedelta

    arrival = (datetime.now(UTC) + timedelta(hours=30)).isoformat()
    return await _from_rus(world, context, "/api/v1/inspections", {
        "kind": "inspection", "reasons": "matrix", "area": AREA, "point_of_entry": "airport", "team_size": 2,
        "expected_arrival": arrival})


async def _notification(world: "World", context: str) -> str:
    from datetime import UTC, datetime, timedelta

    agreement = await _agreement(world, context)
    start = datetime.now(UTC) + timedelta(days=60)
    body = {"agreement_id": agreement, "title": "matrix", "start": start.isoformat(),
            "end": (start + timedelta(days=2)).isoformat(), "area": AREA, "scale": {"troops": 100}}
    return await world.once(f"notification-{context}", lambda: _post(
        world, "/api/v1/notifications/activities", body, world.actors.rus))


async def _second_party(world: "World", context: str) -> str:
    return "RUS" if context == "own" else "UKR"


async def _year(world: "World", context: str) -> str:
    return "2026"


async def _metric(world: "World", context: str) -> str:
    return "ack_rate"


#: How to fill each path parameter for the "own" or the "other" context.
PATH_VALUES: dict[str, Callable[["World", str], Awaitable[str]]] = {
    "incident_id": _incident,
    "code": _party,
    "party": _party,
    "p": _party,
    "q": _second_party,
    "year": _year,
    "metric": _metric,
    "clarification_id": _clarification,
    "token_id": _token,
    "agreement_id": _agreement,
    "message_id": _message,
    "call_id": _call,
    "explanation_id": _explanation,
    "inspection_id": _inspection,
    "notification_id": _notification,
}
