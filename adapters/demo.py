"""`parley up --demo`: a realistic scripted year of history, so a newcomer sees every page filled.

Everything is appended through the application's own commands (`Application.execute`), exactly as
the API and `parley import` would: parties and officers, three agreements, a year of incidents in
which both sides file their own accounts (often differing), hotline traffic with some late and
some missed acknowledgements, check calls, call and explanation requests, and inspections with a
refusal or two. Historical facts are backfilled by an importer (`backfilled: true` on the events),
as real history loaded into Parley would be. Missed deadlines are not scripted: the scheduler that
runs inside `parley up` records them, as it would have at the time.

The script is deterministic for a given `now` (a seeded random generator, no wall clock), and it
seeds only an empty event store: on a second start nothing is added.

Behaviour changes are built in, so the metrics have something to find: RUS acknowledges hotline
messages ever more slowly and misses more check calls in the last four months, and PAK stops filing
its own accounts for three months in the middle of the year.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

from adapters.sql.tokens import TokenStore
from core import parties
from core.agreements import agreement as ag
from core.agreements.terms import CheckCallSchedule, HotlineTerms, Precedence, Terms
from core.application import Application
from core.errors import ParleyError
from core.hotline import calls, check_calls, explanations as x, messages as m
from core.hotline.schedule import slots
from core.identity import Principal, Role
from core.incidents import commands as c
from core.incidents.accounts import Account, Kind, Position
from core.inspections import commands as ic
from core.inspections.quota import Ground
from core.inspections.terms import Kind as VisitKind
from core.service import Envelope

TOKENS_FILE = "demo-tokens.txt"
ADMIN = Principal(actor="demo", role=Role.ADMIN)
IMPORTER = Principal(actor="demo", role=Role.IMPORTER)

PARTIES = {
    "USA": ("United States", [("usa-duty", "LCDR A. Smith"), ("usa-alt", "LT J. Park")]),
    "RUS": ("Russian Federation", [("rus-duty", "Capt. B. Ivanov"), ("rus-alt", "Lt. D. Orlov")]),
    "IND": ("India", [("ind-dgmo", "DGMO duty officer"), ("ind-alt", "DDGMO")]),
    "PAK": ("Pakistan", [("pak-dgmo", "DGMO duty officer"), ("pak-alt", "DDGMO")]),
    "GBR": ("United Kingdom", [("gbr-vd", "Verification officer")]),
    "FRA": ("France", [("fra-vd", "Officier de vérification")]),
}
AREA = {"type": "Polygon", "coordinates": [[[36.0, 50.0], [37.5, 50.0], [37.5, 51.2], [36.0, 51.2], [36.0, 50.0]]]}


@dataclass(frozen=True, kw_only=True)
class DemoSummary:
    events: int
    incidents: int
    messages: int
    refused: tuple[str, ...]  # scripted steps the domain refused, in words (expected: none)
    tokens_file: Path | None


@dataclass
class _Script:
    """Actions with their business time; run in time order, so each aggregate's history is in order."""

    actions: list[tuple[datetime, int, Callable[[], Awaitable[Any]]]] = field(default_factory=list)

    def at(self, moment: datetime, action: Callable[[], Awaitable[Any]]) -> None:
        self.actions.append((moment, len(self.actions), action))


def officer(party: str, index: int = 0) -> Principal:
    """An importer acting as the party's officer: only importers may state historical times."""
    return Principal(actor=PARTIES[party][1][index][0], role=Role.IMPORTER, party=party)


async def seed(app: Application, *, now: datetime, home: Path | None = None, tokens: TokenStore | None = None,
               months: int = 12, rng_seed: int = 9) -> DemoSummary | None:
    """Seed a year of history ending at `now` into an empty store (None if it is not empty).

    With `tokens` (a TokenStore) and `home`, officer, observer and auditor tokens are created and
    written to `home/demo-tokens.txt` (mode 0600) so the pages can be signed in to at once."""
    if await app.store.last_seq() > 0:
        return None
    rng = random.Random(rng_seed)
    start = (now - timedelta(days=30 * months)).replace(hour=6, minute=0, second=0, microsecond=0)
    counts = {"incidents": 0, "messages": 0}

    async def run(command: Any) -> Any:
        return await app.execute(command, envelope=Envelope(backfilled=True))

    # --- parties, officers, agreements (the first days) ----------------------------------------
    for code, (name, officers) in PARTIES.items():
        await run(parties.RegisterParty(code=code, name=name, by=ADMIN, at=start))
        for officer_id, officer_name in officers:
            await run(parties.RegisterOfficer(party=code, officer_id=officer_id, name=officer_name, by=ADMIN, at=start))
    begin = start + timedelta(hours=1)
    incsea = Terms(hotline=HotlineTerms(check_calls=CheckCallSchedule(
        times=(time(9, 0),), weekdays=(0, 2, 4), timezone="UTC", caller="USA")))
    dgmo = Terms(hotline=HotlineTerms(check_calls=CheckCallSchedule(
        times=(time(5, 30),), weekdays=(1,), timezone="UTC", caller="IND", answer_window=timedelta(minutes=15))))
    vienna = Terms(hotline=HotlineTerms(check_calls=CheckCallSchedule(enabled=False)))
    for agreement_id, name, members, terms in (
        ("US-RU", "INCSEA hotline (1972 agreement)", ("USA", "RUS"), incsea),
        ("IN-PK", "DGMO hotline", ("IND", "PAK"), dgmo),
        ("VD", "Vienna Document inspections", ("USA", "RUS", "GBR", "FRA"), vienna),
    ):
        await run(ag.ConcludeAgreement(agreement_id=agreement_id, name=name, parties=members, terms=terms,
                                       effective_from=begin, by=IMPORTER, at=begin))
    for agreement_id, party in (("US-RU", "USA"), ("US-RU", "RUS"), ("IN-PK", "IND"), ("IN-PK", "PAK")):
        primary, alternate = (o[0] for o in PARTIES[party][1][:2])
        await run(ag.DesignateContacts(agreement_id=agreement_id, party=party, primary=primary, alternate=alternate,
                                       by=IMPORTER, at=begin))

    script = _Script()
    day0 = begin + timedelta(days=1)
    days = (now - timedelta(hours=2) - day0).days
    late_phase = now - timedelta(days=120)  # RUS slows down
    spring = (day0 + timedelta(days=150), day0 + timedelta(days=240))  # PAK stops counter-filing

    # --- incidents ---------------------------------------------------------------------------
    def incident(reporter: str, other: str, when: datetime, kind: Kind, *, counter: bool, ack: bool, outcome: str) -> None:
        incident_id = app.new_id()
        severity = rng.randint(1, 5)
        duration = timedelta(minutes=rng.choice([5, 12, 20, 45, 90]))
        started = when - timedelta(hours=rng.randint(2, 10))
        sea = kind in (Kind.UNSAFE_ENCOUNTER_SEA, Kind.UNSAFE_ENCOUNTER_AIR)
        lat, lon = (43.0 + rng.random() * 1.5, 33.0 + rng.random() * 3.0) if sea else (33.5 + rng.random(), 73.8 + rng.random())
        place = rng.choice(["Black Sea, international waters", "Black Sea, 40 nm SW of Sevastopol", "Baltic Sea, Gotland basin"]) \
            if sea else rng.choice(["Poonch sector", "Kupwara sector", "Uri sector", "Rajouri sector"])
        mine = Account(
            kind=kind, severity=severity, initiator=other, started_at=started, ended_at=started + duration,
            position=Position(lat=round(lat, 3), lon=round(lon, 3), uncertainty_m=rng.choice([200, 500, 1000])),
            place=place, units=[rng.choice(["P-8A 168852", "USS Porter (DDG-78)", "Su-27 pair", "BP-4 post", "Tango company"])],
            cpa_m=float(rng.choice([6, 15, 30, 60, 150, 300])) if sea else None,
            casualties=rng.choice([0, 0, 0, 1, None]) if kind is Kind.CEASEFIRE_VIOLATION else 0,
            narrative=rng.choice([
                "Aggressive approach at close range; repeated warnings on channel 16 went unanswered.",
                "Small-arms and mortar fire across the line of control; return fire ordered.",
                "Intercept with a barrel roll over the aircraft.",
                "Unannounced exercise close to the shipping lane; unsafe crossing ahead of the bow.",
            ]),
            sources=[rng.choice(["aircrew report", "ship's log", "post commander", "radar track"])],
        )
        theirs = Account(
            kind=kind, severity=max(1, severity - rng.choice([0, 1, 2])),
            initiator=rng.choice([reporter, reporter, "unknown", other]),
            started_at=(their_start := started + timedelta(minutes=rng.choice([0, 0, 5, 10]))),
            ended_at=their_start + duration - timedelta(minutes=rng.choice([0, 2])),
            place=place if rng.random() < 0.6 else rng.choice(["international waters", "own side of the line"]),
            units=mine.units, cpa_m=(mine.cpa_m or 0) * rng.choice([1, 2, 4]) if sea else None,
            casualties=mine.casualties if rng.random() < 0.7 else None,
            narrative=rng.choice([
                "Routine identification of a unit approaching our exercise area; safe distance kept.",
                "Our post responded to unprovoked fire; no crossing took place.",
                "Professional intercept in accordance with international rules.",
            ]),
            sources=["unit commander's report"],
        )
        parties_ = (other,)
        reporting = officer(reporter)
        responding = officer(other)
        counts["incidents"] += 1
        script.at(when, lambda: run(c.ReportIncident(incident_id=incident_id, by=reporting, at=when, parties=parties_, account=mine)))
        if not ack:
            return
        t_ack = when + timedelta(hours=rng.randint(1, 60))
        script.at(t_ack, lambda: run(c.AcknowledgeIncident(incident_id=incident_id, by=responding, at=t_ack)))
        if not counter:
            return
        t_counter = t_ack + timedelta(hours=rng.randint(2, 120))
        script.at(t_counter, lambda: run(c.FileCounterAccount(incident_id=incident_id, by=responding, at=t_counter, account=theirs)))
        t_next = t_counter + timedelta(days=rng.randint(1, 10))
        if outcome == "reconcile":
            for who in (reporting, responding):
                script.at(t_next, lambda who=who: run(c.AgreeReconciliation(
                    incident_id=incident_id, by=who, at=t_next, agreed_fields=("kind", "time"), note="agreed at the monthly meeting")))
        elif outcome in ("dispute", "review", "resolve"):
            script.at(t_next, lambda: run(c.DisputeIncident(
                incident_id=incident_id, by=reporting, at=t_next, disputed_fields=("initiator", "severity"),
                statement="The other side's account omits the warnings given.")))
            if outcome in ("review", "resolve"):
                t_review = t_next + timedelta(days=3)
                script.at(t_review, lambda: run(c.ReferToReview(incident_id=incident_id, by=responding, at=t_review, forum="Joint commission")))
                if outcome == "resolve":
                    t_res = t_review + timedelta(days=14)
                    script.at(t_res, lambda: run(c.ResolveIncident(
                        incident_id=incident_id, by=reporting, at=t_res, finding="Both units kept under 1 nm; procedures reminded.")))
        elif outcome == "clarify":
            cid = app.new_id()
            script.at(t_next, lambda: run(c.RequestClarification(
                incident_id=incident_id, by=reporting, at=t_next, clarification_id=cid, to_party=other,
                question="Which unit fired first, and from which post?")))
            t_answer = t_next + timedelta(days=2)
            script.at(t_answer, lambda: run(c.ProvideClarification(
                incident_id=incident_id, by=responding, at=t_answer, clarification_id=cid,
                answer="Fire came from across the line; our post returned it.")))

    for offset in range(days):
        day = day0 + timedelta(days=offset)
        if rng.random() < 0.18:
            reporter, other = rng.choice([("USA", "RUS"), ("RUS", "USA"), ("USA", "RUS")])
            incident(reporter, other, day + timedelta(hours=rng.randint(8, 18)),
                     rng.choice([Kind.UNSAFE_ENCOUNTER_SEA, Kind.UNSAFE_ENCOUNTER_AIR]),
                     ack=rng.random() < 0.95, counter=rng.random() < 0.8,
                     outcome=rng.choice(["reconcile", "dispute", "review", "resolve", "clarify", "open"]))
        if rng.random() < 0.3:
            reporter, other = rng.choice([("IND", "PAK"), ("PAK", "IND")])
            in_spring = spring[0] <= day < spring[1]
            silent = in_spring and other == "PAK"
            incident(reporter, other, day + timedelta(hours=rng.randint(6, 20)),
                     rng.choice([Kind.CEASEFIRE_VIOLATION, Kind.CEASEFIRE_VIOLATION, Kind.BORDER_INCIDENT]),
                     ack=rng.random() < (0.7 if silent else 0.95), counter=(rng.random() < 0.15) if silent else rng.random() < 0.8,
                     outcome=rng.choice(["reconcile", "dispute", "review", "clarify", "open"]))

    # --- hotline messages ----------------------------------------------------------------------
    subjects = {
        "US-RU": ["Close approach", "Unsafe intercept", "Exercise notification", "Submarine surfacing", "Navigation warning"],
        "IN-PK": ["Ceasefire violation", "Infiltration attempt", "Inadvertent crossing", "Flag meeting request", "Firing in sector"],
    }
    ack_clock = {Precedence.FLASH: 10, Precedence.IMMEDIATE: 30, Precedence.PRIORITY: 180, Precedence.ROUTINE: 360}

    def message(agreement_id: str, sender: str, receiver: str, when: datetime) -> None:
        message_id = app.new_id()
        precedence = rng.choices(list(Precedence), weights=[1, 2, 3, 4])[0]
        limit = ack_clock[precedence]
        slow = receiver == "RUS" and when >= late_phase
        roll = rng.random()
        if roll < (0.15 if slow else 0.04):
            ack_after = None  # never acknowledged: the scheduler records the miss (and escalates FLASH/IMMEDIATE)
        elif roll < (0.55 if slow else 0.15):
            ack_after = timedelta(minutes=limit * rng.uniform(1.1, 3.0))  # late
        else:
            ack_after = timedelta(minutes=limit * rng.uniform(0.05, 0.9))
        subject = rng.choice(subjects[agreement_id])
        body = f"{subject}: please confirm receipt and advise your units. Reference {message_id[-6:]}."
        counts["messages"] += 1
        s, r = officer(sender), officer(receiver)
        script.at(when, lambda: run(m.SendMessage(message_id=message_id, agreement_id=agreement_id, to_party=receiver,
                                                  precedence=precedence, subject=subject, body=body, by=s, at=when)))
        t_delivered = when + timedelta(seconds=rng.randint(2, 40))
        script.at(t_delivered, lambda: run(m.MarkDelivered(message_id=message_id, by=r, at=t_delivered)))
        if ack_after is None:
            return
        t_ack = when + ack_after
        if t_ack >= now - timedelta(minutes=1):
            return
        script.at(t_ack, lambda: run(m.AcknowledgeMessage(message_id=message_id, by=r, at=t_ack)))
        if rng.random() < 0.7:
            t_answer = t_ack + timedelta(minutes=rng.randint(5, 300))
            if t_answer < now - timedelta(minutes=1):
                script.at(t_answer, lambda: run(m.AnswerMessage(message_id=message_id, by=r, at=t_answer,
                                                                body="Received. Our units have been instructed accordingly.")))

    for offset in range(days):
        day = day0 + timedelta(days=offset)
        for agreement_id, pair in (("US-RU", ("USA", "RUS")), ("IN-PK", ("IND", "PAK"))):
            for _ in range(rng.choice([0, 0, 1, 1, 2])):
                sender, receiver = pair if rng.random() < 0.6 else pair[::-1]
                message(agreement_id, sender, receiver, day + timedelta(hours=rng.randint(0, 20), minutes=rng.randint(0, 59)))
    # one fresh FLASH waiting for RUS right now, and one overdue IMMEDIATE: the inbox has something live
    message_now = now - timedelta(minutes=3)
    fresh_id, overdue_id = app.new_id(), app.new_id()
    for message_id, precedence, subject, when in (
        (fresh_id, Precedence.FLASH, "Close approach: alter course", message_now),
        (overdue_id, Precedence.IMMEDIATE, "Aircraft in the exercise area", now - timedelta(minutes=45)),
    ):
        counts["messages"] += 1
        script.at(when, lambda message_id=message_id, precedence=precedence, subject=subject, when=when: run(m.SendMessage(
            message_id=message_id, agreement_id="US-RU", to_party="RUS", precedence=precedence, subject=subject,
            body="Your frigate is closing at 20 kn on a collision course. Alter course to starboard now.",
            by=officer("USA"), at=when)))

    # --- call and explanation requests ---------------------------------------------------------
    for index in range(10):
        when = day0 + timedelta(days=15 + index * 33, hours=10)
        if when >= now - timedelta(days=3):
            break
        agreement_id, sender, receiver = [("US-RU", "USA", "RUS"), ("IN-PK", "PAK", "IND"), ("IN-PK", "IND", "PAK")][index % 3]
        request_id = app.new_id()
        s, r = officer(sender), officer(receiver)
        if index % 2 == 0:
            script.at(when, lambda request_id=request_id, s=s, receiver=receiver, agreement_id=agreement_id, when=when: run(calls.RequestCall(
                request_id=request_id, agreement_id=agreement_id, to_party=receiver, purpose="Discuss last week's incidents", by=s, at=when)))
            if index % 4 == 0:
                t = when + timedelta(hours=20)
                script.at(t, lambda request_id=request_id, r=r, t=t: run(calls.AcceptCall(request_id=request_id, by=r, at=t, scheduled_for=t + timedelta(days=1))))
                t2 = t + timedelta(days=1, hours=1)
                script.at(t2, lambda request_id=request_id, s=s, t2=t2: run(calls.RecordCallHeld(request_id=request_id, by=s, at=t2, note="45 minutes, both DGMOs")))
        else:
            script.at(when, lambda request_id=request_id, s=s, receiver=receiver, agreement_id=agreement_id, when=when: run(x.RequestExplanation(
                request_id=request_id, agreement_id=agreement_id, to_party=receiver, subject="Unannounced exercise",
                question="Explain the live firing announced with less than 24 hours' notice.", by=s, at=when)))
            if index % 3 != 0:
                t = when + timedelta(hours=30)
                script.at(t, lambda request_id=request_id, r=r, t=t: run(x.ReplyExplanation(
                    request_id=request_id, by=r, at=t, text="A scheduled exercise; the notice was sent through the embassy.")))

    # --- check calls: most answered in their window; the scheduler records the rest as missed -------
    for agreement_id, miss in (("US-RU", {"USA": 0.03, "RUS": 0.06}), ("IN-PK", {"IND": 0.05, "PAK": 0.12})):
        found = await app.agreement(agreement_id)
        for slot in slots(found, start=day0, end=now - timedelta(hours=1)):
            if slot.window_end > now:
                continue
            for party in slot.expected:
                rate = miss[party] * (5 if party == "RUS" and slot.start >= late_phase else 1)
                if rng.random() < rate:
                    continue
                t = slot.start + (slot.window_end - slot.start) * rng.uniform(0.05, 0.9)
                script.at(t, lambda slot=slot, party=party, t=t: run(check_calls.AnswerCheckCall(slot=slot, by=officer(party), at=t)))

    # --- inspections (Vienna Document): quotas, one refusal on a stated ground, one without ----------
    visits = [("USA", "RUS", "accept"), ("GBR", "RUS", "accept"), ("FRA", "RUS", "accept"), ("USA", "RUS", "quota"),
              ("RUS", "USA", "accept"), ("RUS", "GBR", "other"), ("FRA", "USA", "accept")]
    for index, (requester, receiver, reply) in enumerate(visits):
        when = day0 + timedelta(days=30 + index * 40, hours=8)
        if when >= now - timedelta(days=4):
            break
        inspection_id = app.new_id()
        req = Principal(actor=PARTIES[requester][1][0][0], role=Role.IMPORTER, party=requester)
        rec = Principal(actor=PARTIES[receiver][1][0][0], role=Role.IMPORTER, party=receiver)
        arrival = when + timedelta(hours=30)
        script.at(when, lambda inspection_id=inspection_id, req=req, receiver=receiver, arrival=arrival, when=when: run(ic.RequestInspection(
            inspection_id=inspection_id, agreement_id="VD", kind=VisitKind.INSPECTION, to_party=receiver,
            reasons="Reported concentration of armour near the border", area=AREA, point_of_entry="Belgorod airfield",
            expected_arrival=arrival, team_size=4, by=req, at=when)))
        t = when + timedelta(hours=12)
        if reply == "accept":
            script.at(t, lambda inspection_id=inspection_id, rec=rec, t=t: run(ic.AcceptInspection(inspection_id=inspection_id, by=rec, at=t)))
            entered, started = arrival - timedelta(hours=1), arrival + timedelta(hours=2)
            done, reported = started + timedelta(hours=30), started + timedelta(days=10)
            for moment, make in (
                (entered, lambda i=inspection_id, w=rec, at=entered: ic.RecordTeamEntered(inspection_id=i, by=w, at=at)),
                (started, lambda i=inspection_id, w=req, at=started: ic.StartInspection(inspection_id=i, by=w, at=at)),
                (done, lambda i=inspection_id, w=req, at=done: ic.CompleteInspection(inspection_id=i, by=w, at=at)),
                (reported, lambda i=inspection_id, w=req, at=reported: ic.SubmitReport(
                    inspection_id=i, by=w, at=at, findings="No activity beyond that notified was observed in the area.")),
            ):
                script.at(moment, lambda make=make: run(make()))
        else:
            ground = Ground.QUOTA_EXHAUSTED if reply == "quota" else Ground.OTHER
            text = "" if reply == "quota" else "The area is closed for a national exercise."
            script.at(t, lambda inspection_id=inspection_id, rec=rec, t=t, ground=ground, text=text: run(ic.RefuseInspection(
                inspection_id=inspection_id, by=rec, at=t, ground=ground, text=text)))

    # --- run the script in business-time order -------------------------------------------------------
    refused: list[str] = []
    for moment, _, action in sorted(script.actions, key=lambda a: (a[0], a[1])):
        if moment >= now:
            continue
        try:
            await action()
        except ParleyError as error:  # reported, never hidden: the script should stay within the rules
            refused.append(f"{moment:%Y-%m-%d %H:%M}: {error.detail}")

    path = None
    if tokens is not None and home is not None:
        path = await write_tokens(tokens, home)
    return DemoSummary(events=await app.store.last_seq(), incidents=counts["incidents"], messages=counts["messages"],
                       refused=tuple(refused), tokens_file=path)


async def write_tokens(tokens: TokenStore, home: Path) -> Path:
    """Officer tokens of each party, an observer and an auditor, in `home/demo-tokens.txt` (0600)."""
    lines = ["# Parley demo tokens: paste one into the sign-in page. Delete this file to forget them."]
    for code, (_, officers) in PARTIES.items():
        secret, _info = await tokens.create(role=Role.OFFICER, party=code, officer_id=officers[0][0], label="demo")
        lines.append(f"{code:4} officer   {officers[0][0]:10} {secret}")
    secret, _info = await tokens.create(role=Role.OBSERVER, party="USA", officer_id="usa-alt", label="demo")
    lines.append(f"USA  observer  usa-alt    {secret}")
    secret, _info = await tokens.create(role=Role.AUDITOR, party=None, officer_id=None, label="demo")
    lines.append(f"-    auditor   -          {secret}")
    path = home / TOKENS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path
