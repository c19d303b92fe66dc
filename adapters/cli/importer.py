"""`parley import FILE`: JSON Lines of commands, for loading history (with backfilled times).

Each line is one command and becomes at most one append. A line that fails to parse or is
refused is reported with its line number and appends nothing; the other lines still run. The
line format reuses the HTTP request bodies, plus `command`, and for incident lines `party` and
`officer` (who is acting) and `incident` (which incident; optional `id` when reporting).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from adapters.http import schemas as s
from core import parties
from core.application import Application
from core.errors import Invalid, ParleyError
from core.identity import Principal, Role
from core.incidents import commands as c
from core.service import Envelope

ADMIN = Principal(actor="import", role=Role.ADMIN)

Builder = Callable[[Any, Principal, Any, dict[str, Any]], Any]

#: command name → (body schema, builder(body, principal, at, line) → core command)
COMMANDS: dict[str, tuple[type[BaseModel], Builder]] = {
    "register_party": (s.PartyIn, lambda b, w, t, l: parties.RegisterParty(code=b.code, name=b.name, by=w, at=t)),
    "register_officer": (s.OfficerIn, lambda b, w, t, l: parties.RegisterOfficer(party=l["party"], officer_id=b.id, name=b.name, by=w, at=t)),
    "report_incident": (s.ReportIn, lambda b, w, t, l: c.ReportIncident(incident_id=l["incident"], by=w, at=t, parties=tuple(b.parties), account=b.account)),
    "acknowledge_incident": (s.AcknowledgeIn, lambda b, w, t, l: c.AcknowledgeIncident(incident_id=l["incident"], by=w, at=t)),
    "file_counter_account": (s.AccountIn, lambda b, w, t, l: c.FileCounterAccount(incident_id=l["incident"], by=w, at=t, account=b.account)),
    "amend_account": (s.AmendIn, lambda b, w, t, l: c.AmendAccount(incident_id=l["incident"], by=w, at=t, account=b.account, reason=b.reason)),
    "retract_incident": (s.ReasonIn, lambda b, w, t, l: c.RetractIncident(incident_id=l["incident"], by=w, at=t, reason=b.reason)),
    "request_clarification": (s.ClarificationIn, lambda b, w, t, l: c.RequestClarification(incident_id=l["incident"], by=w, at=t, clarification_id=b.id or l["_new_id"], to_party=b.to_party, question=b.question)),
    "provide_clarification": (s.AnswerIn, lambda b, w, t, l: c.ProvideClarification(incident_id=l["incident"], by=w, at=t, clarification_id=l["clarification"], answer=b.answer)),
    "agree_reconciliation": (s.ReconcileIn, lambda b, w, t, l: c.AgreeReconciliation(incident_id=l["incident"], by=w, at=t, agreed_fields=tuple(b.agreed_fields), note=b.note)),
    "dispute_incident": (s.DisputeIn, lambda b, w, t, l: c.DisputeIncident(incident_id=l["incident"], by=w, at=t, disputed_fields=tuple(b.disputed_fields), statement=b.statement)),
    "refer_to_review": (s.ReviewIn, lambda b, w, t, l: c.ReferToReview(incident_id=l["incident"], by=w, at=t, forum=b.forum)),
    "resolve_incident": (s.ResolveIn, lambda b, w, t, l: c.ResolveIncident(incident_id=l["incident"], by=w, at=t, finding=b.finding)),
}
ENVELOPE_KEYS = {"command", "party", "officer", "incident", "clarification"}
PARTY_COMMANDS = {"register_party", "register_officer"}


@dataclass(frozen=True, kw_only=True)
class LineError:
    line: int
    detail: str


def _required(line: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if not isinstance(line.get(n), str) or not line[n]]
    if missing:
        raise Invalid(f"missing {', '.join(repr(m) for m in missing)}")


def parse(app: Application, raw: str) -> tuple[Any, bool]:
    """Turn one JSON line into (core command, backfilled)."""
    try:
        line = json.loads(raw)
    except json.JSONDecodeError as error:
        raise Invalid(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(line, dict):
        raise Invalid("each line must be a JSON object")
    name = line.get("command")
    if name not in COMMANDS:
        raise Invalid(f"unknown command {name!r}; known: {', '.join(sorted(COMMANDS))}")
    schema, build = COMMANDS[name]
    body = {k: v for k, v in line.items() if k not in ENVELOPE_KEYS and not (name == "register_officer" and k == "party")}
    if name == "report_incident":
        line.setdefault("incident", body.pop("id", None) or app.new_id())
    try:
        model = schema.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"{where}: {first['msg']}" if where else first["msg"]) from None
    if name in PARTY_COMMANDS:
        who = ADMIN if model.time is None else Principal(actor="import", role=Role.IMPORTER)
        if name == "register_officer":
            _required(line, "party")
    else:
        _required(line, "party", "officer", "incident")
        if name == "provide_clarification":
            _required(line, "clarification")
        who = Principal(actor=line["officer"], role=Role.IMPORTER, party=line["party"])
    at, backfilled = app.time_for(who, model.time)
    who = ADMIN if name in PARTY_COMMANDS else who
    line["_new_id"] = app.new_id()
    return build(model, who, at, line), backfilled


async def import_line(app: Application, raw: str) -> None:
    command, backfilled = parse(app, raw)
    if command.by.role is Role.IMPORTER and command.by.party:
        await app.officer(command.by.party, command.by.actor)  # the acting officer must exist
    await app.execute(command, envelope=Envelope(backfilled=backfilled))


async def import_lines(
    app: Application, lines: list[str], *, on_progress: Callable[[], None] | None = None
) -> tuple[int, list[LineError]]:
    """Import every non-blank line; returns (imported count, errors by line number)."""
    done, errors = 0, []
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            try:
                await import_line(app, raw)
                done += 1
            except ParleyError as error:
                errors.append(LineError(line=number, detail=error.detail))
        if on_progress:
            on_progress()
    return done, errors
