"""Parties and their officers: registered once, by an admin, with well-formed codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.decider import Fact
from core.errors import Forbidden, Invalid, Rejected
from core.identity import Principal, Role
from core.parties import DECIDER, OfficerRegistered, PartyRegistered, RegisterOfficer, RegisterParty, decide, evolve

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = Principal(actor="root", role=Role.ADMIN)


def register_party(code="USA", name="United States", by=ADMIN):
    return RegisterParty(code=code, name=name, by=by, at=T0)


def register_officer(officer_id="usa-1", name="Lt. Cdr. Smith", party="USA", by=ADMIN):
    return RegisterOfficer(party=party, officer_id=officer_id, name=name, by=by, at=T0)


def run(*commands):
    state = DECIDER.initial
    for seq, command in enumerate(commands, start=1):
        for event in decide(state, command):
            fact = Fact(event_id=f"e{seq}", aggregate_id="USA", party="USA", actor="root", time=command.at, seq=seq)
            state = evolve(state, event, fact)
    return state


def test_registering_a_party_records_code_and_trimmed_name():
    events = decide(None, register_party(name="  United States  "))

    assert events == [PartyRegistered(code="USA", name="United States")]
    party = run(register_party())
    assert (party.code, party.name, party.registered_at, party.officers) == ("USA", "United States", T0, {})


def test_registering_a_party_twice_is_rejected_naming_it():
    with pytest.raises(Rejected, match=r"party USA is already registered \(as 'United States'\)"):
        decide(run(register_party()), register_party(name="Another name"))


def test_officer_on_an_unregistered_party_is_rejected():
    with pytest.raises(Rejected, match="party USA is not registered; register it first"):
        decide(None, register_officer())


def test_registered_officer_belongs_to_the_party():
    party = run(register_party(), register_officer(), register_officer(officer_id="usa-2", name="Ens. Jones"))

    assert party.officers == {"usa-1": "Lt. Cdr. Smith", "usa-2": "Ens. Jones"}


def test_registering_an_officer_twice_is_rejected_naming_officer_and_party():
    with pytest.raises(Rejected, match="officer usa-1 is already registered with USA"):
        decide(run(register_party(), register_officer()), register_officer())


def test_registering_an_officer_leaves_the_previous_state_untouched():
    before = run(register_party())

    after = evolve(before, OfficerRegistered(officer_id="usa-1", name="X"), Fact(
        event_id="e2", aggregate_id="USA", party="USA", actor="root", time=T0, seq=2))

    assert before.officers == {}
    assert after.officers == {"usa-1": "X"}


NON_ADMINS = [
    Principal(actor="usa-1", role=Role.OFFICER, party="USA"),
    Principal(actor="obs-1", role=Role.OBSERVER),
    Principal(actor="aud-1", role=Role.AUDITOR),
    Principal(actor="imp-1", role=Role.IMPORTER, party="USA"),
    Principal(actor="system", role=Role.SYSTEM),
]


@pytest.mark.parametrize("principal", NON_ADMINS, ids=lambda p: p.role.value)
def test_only_an_admin_may_register_a_party(principal):
    with pytest.raises(Forbidden, match=f"needs the role admin; you are {principal.role.value}"):
        decide(None, register_party(by=principal))


@pytest.mark.parametrize("principal", NON_ADMINS, ids=lambda p: p.role.value)
def test_only_an_admin_may_register_an_officer(principal):
    with pytest.raises(Forbidden, match="needs the role admin"):
        decide(run(register_party()), register_officer(by=principal))


@pytest.mark.parametrize("code", ["usa", "U", "1AB", "USA!", "US A", "-US", "A" * 17, "", "ÜSA"])
def test_malformed_party_code_is_rejected_with_a_readable_message(code):
    with pytest.raises(Invalid) as caught:
        decide(None, register_party(code=code))

    message = str(caught.value)
    assert repr(code) in message
    assert "2–16 characters" in message
    assert "e.g. USA" in message


@pytest.mark.parametrize("code", ["US", "USA", "NATO-1", "UN_MISSION", "A" * 16])
def test_well_formed_party_code_is_accepted(code):
    assert decide(None, register_party(code=code))[0].code == code


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_party_name_must_be_1_to_200_characters(name):
    with pytest.raises(Invalid, match="party name must be 1–200 characters"):
        decide(None, register_party(name=name))


@pytest.mark.parametrize("officer_id", ["", "has space", "a/b", "x" * 65])
def test_malformed_officer_id_is_rejected(officer_id):
    with pytest.raises(Invalid, match=f"officer id {officer_id!r} must be"):
        decide(run(register_party()), register_officer(officer_id=officer_id))


def test_officer_name_must_not_be_blank():
    with pytest.raises(Invalid, match="officer name"):
        decide(run(register_party()), register_officer(name=" "))


def test_officer_event_without_a_registered_party_cannot_be_folded():
    with pytest.raises(ValueError, match="OfficerRegistered"):
        evolve(None, OfficerRegistered(officer_id="usa-1", name="X"),
               Fact(event_id="e1", aggregate_id="USA", party="USA", actor="root", time=T0))


# --- the command handler: creating an aggregate costs no load, and is still checked ---------------

class _CountingStore:
    """The in-memory store, counting how often the handler loads an aggregate."""

    def __init__(self) -> None:
        from tests.unit.fakes import MemoryEventStore

        self.inner = MemoryEventStore()
        self.loads = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def load(self, ref):
        self.loads += 1
        return await self.inner.load(ref)


async def test_registering_a_new_party_appends_without_loading_it_first():
    from core.service import CommandHandler

    store = _CountingStore()
    outcome = await CommandHandler(store=store).execute(DECIDER, "USA", register_party())

    assert store.loads == 0
    assert outcome.seq == 1 and [e.type for e in outcome.events] == [PartyRegistered.TYPE]


async def test_a_fresh_handler_still_refuses_to_create_an_aggregate_that_exists():
    from core.service import CommandHandler

    store = _CountingStore()
    await CommandHandler(store=store).execute(DECIDER, "USA", register_party())

    with pytest.raises(Rejected, match="party USA is already registered"):
        await CommandHandler(store=store).execute(DECIDER, "USA", register_party(name="Someone else"))
    assert await store.inner.last_seq() == 1


async def test_a_fresh_handler_loads_an_existing_aggregate_before_changing_it():
    from core.service import CommandHandler

    store = _CountingStore()
    await CommandHandler(store=store).execute(DECIDER, "USA", register_party())

    outcome = await CommandHandler(store=store).execute(DECIDER, "USA", register_officer())

    assert store.loads == 1 and outcome.seq == 2 and outcome.state.officers == {"usa-1": "Lt. Cdr. Smith"}


async def test_creating_with_if_match_zero_on_an_existing_aggregate_is_a_conflict():
    from core.errors import Conflict
    from core.service import CommandHandler

    store = _CountingStore()
    await CommandHandler(store=store).execute(DECIDER, "USA", register_party())

    with pytest.raises(Conflict) as raised:
        await CommandHandler(store=store).execute(DECIDER, "USA", register_party(), expected_seq=0)
    assert raised.value.current_seq == 1
