"""The agreement aggregate: its parties, its contacts, and its terms versions over time.

An agreement binds a dyad or a multilateral group. Its terms are versioned: a new version takes
effect from a stated moment and never rewrites what was decided under an earlier one, because
every decision that depends on the terms records the version it used (`terms_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from pydantic import Field

from core.agreements.terms import Terms, TermsVersion
from core.decider import Decider, Fact
from core.errors import Forbidden, Invalid, NotFound, Rejected
from core.events import DomainEvent, register
from core.identity import Principal, Role, check_id, check_party_code

AGGREGATE = "agreement"


# --- events ------------------------------------------------------------------------------------

@register
class AgreementConcluded(DomainEvent):
    TYPE = "parley.agreement.concluded.v1"
    name: str
    parties: list[str]
    terms: Terms
    effective_from: datetime


@register
class TermsAmended(DomainEvent):
    """A new terms version; earlier decisions keep the version they recorded."""

    TYPE = "parley.agreement.terms-amended.v1"
    version: int
    terms: Terms
    effective_from: datetime
    reason: str = ""


@register
class ContactsDesignated(DomainEvent):
    """Who answers for a party on this agreement's hotline: a primary and an alternate officer."""

    TYPE = "parley.agreement.contacts-designated.v1"
    party: str
    primary: str
    alternate: str | None = None


# --- commands ----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class _AgreementCommand:
    agreement_id: str
    by: Principal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ConcludeAgreement(_AgreementCommand):
    name: str
    parties: tuple[str, ...]
    terms: Terms = field(default_factory=Terms)
    effective_from: datetime | None = None  # None: from `at`


@dataclass(frozen=True, kw_only=True)
class AmendTerms(_AgreementCommand):
    terms: Terms
    effective_from: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class DesignateContacts(_AgreementCommand):
    party: str
    primary: str
    alternate: str | None = None


Command = ConcludeAgreement | AmendTerms | DesignateContacts


# --- state -------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Contacts:
    primary: str
    alternate: str | None = None


@dataclass(frozen=True, kw_only=True)
class Agreement:
    id: str
    name: str
    parties: tuple[str, ...]
    concluded_at: datetime
    versions: tuple[TermsVersion, ...]
    contacts: dict[str, Contacts] = field(default_factory=dict)

    def binds(self, *codes: str) -> bool:
        return all(code in self.parties for code in codes)

    def terms_at(self, moment: datetime) -> TermsVersion:
        """The terms version in force at `moment` (the latest that took effect at or before it).
        Before the first version took effect, the first version applies: an agreement's clocks
        never fall back to code defaults."""
        current = self.versions[0]
        for version in self.versions:
            if version.effective_from <= moment:
                current = version
        return current

    @property
    def latest(self) -> TermsVersion:
        return self.versions[-1]


def _effective(command: ConcludeAgreement | AmendTerms) -> datetime:
    moment = command.effective_from or command.at
    if moment.tzinfo is None:
        raise Invalid("effective_from must include a time zone (e.g. 2026-01-01T00:00:00Z)")
    if moment < command.at:
        raise Invalid(
            f"terms cannot take effect in the past ({moment.isoformat()} is before"
            f" {command.at.isoformat()}): decisions already taken keep the terms they used"
        )
    return moment


def decide(state: Agreement | None, command: Command) -> list[DomainEvent]:
    match command:
        case ConcludeAgreement():
            command.by.require(Role.ADMIN, Role.IMPORTER)
            check_id(command.agreement_id, what="agreement id")
            if state is not None:
                raise Rejected(f"agreement {command.agreement_id} already exists ({state.name!r})")
            parties = [check_party_code(code) for code in command.parties]
            if len(set(parties)) != len(parties) or len(parties) < 2:
                raise Invalid("an agreement binds at least two different parties")
            name = command.name.strip()
            if not 1 <= len(name) <= 200:
                raise Invalid("the agreement's name must be 1–200 characters")
            _check_caller(command.terms, parties)
            return [AgreementConcluded(name=name, parties=parties, terms=command.terms, effective_from=_effective(command))]
    if state is None:
        raise NotFound(f"agreement {command.agreement_id} does not exist")
    match command:
        case AmendTerms():
            command.by.require(Role.ADMIN, Role.IMPORTER)
            moment = _effective(command)
            if moment <= state.latest.effective_from:
                raise Rejected(
                    f"version {state.latest.version} takes effect {state.latest.effective_from.isoformat()};"
                    " a new version must take effect after it"
                )
            _check_caller(command.terms, list(state.parties))
            return [TermsAmended(version=state.latest.version + 1, terms=command.terms,
                                 effective_from=moment, reason=command.reason.strip()[:2000])]
        case DesignateContacts():
            if command.party not in state.parties:
                raise Invalid(f"{command.party} is not a party to agreement {state.id} ({', '.join(state.parties)})")
            if command.by.role is Role.OFFICER and command.by.party != command.party:
                raise Forbidden(f"an officer of {command.by.party} cannot designate {command.party}'s contacts")
            if command.by.role not in (Role.ADMIN, Role.OFFICER, Role.IMPORTER):
                command.by.require(Role.ADMIN, Role.OFFICER)
            primary = check_id(command.primary, what="primary contact")
            alternate = None if command.alternate is None else check_id(command.alternate, what="alternate contact")
            return [ContactsDesignated(party=command.party, primary=primary, alternate=alternate)]
    raise Invalid(f"unknown agreement command {type(command).__name__}")


def _check_caller(terms: Terms, parties: list[str]) -> None:
    caller = terms.hotline.check_calls.caller
    if caller is not None and caller not in parties:
        raise Invalid(f"the check-call caller {caller} is not a party to the agreement")


def evolve(state: Agreement | None, event: DomainEvent, fact: Fact) -> Agreement:
    match event:
        case AgreementConcluded():
            first = TermsVersion(version=1, effective_from=event.effective_from, terms=event.terms)
            return Agreement(id=fact.aggregate_id, name=event.name, parties=tuple(event.parties),
                             concluded_at=fact.time, versions=(first,))
        case TermsAmended() if state is not None:
            added = TermsVersion(version=event.version, effective_from=event.effective_from, terms=event.terms)
            return replace(state, versions=(*state.versions, added))
        case ContactsDesignated() if state is not None:
            contacts = Contacts(primary=event.primary, alternate=event.alternate)
            return replace(state, contacts={**state.contacts, event.party: contacts})
    raise ValueError(f"{type(event).__name__} cannot apply to agreement state {state!r}")


DECIDER: Decider[Agreement, Command] = Decider(type=AGGREGATE, decide=decide, evolve=evolve)
