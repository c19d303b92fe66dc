"""What a hotline decision needs to know about its agreement, resolved by the application.

Deciders are pure, so they cannot look the agreement up themselves: the application loads it and
passes a `Binding` inside the command — the parties, the contacts, and the terms version in force
at the command's time. The events then record that version, so an auditor sees which clock applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.agreements.agreement import Agreement, Contacts
from core.agreements.terms import TermsVersion
from core.errors import Invalid, NotFound, Rejected
from core.identity import Principal, Role


@dataclass(frozen=True, kw_only=True)
class Binding:
    agreement_id: str
    parties: tuple[str, ...]
    terms: TermsVersion
    contacts: dict[str, Contacts] = field(default_factory=dict)

    @classmethod
    def of(cls, agreement: Agreement, *, at: datetime) -> "Binding":
        return cls(agreement_id=agreement.id, parties=agreement.parties, terms=agreement.terms_at(at),
                   contacts=dict(agreement.contacts))

    def channel(self, sender: str, recipient: str) -> None:
        """Both ends must be parties of the agreement, and different."""
        if sender not in self.parties:
            raise NotFound(f"agreement {self.agreement_id} does not exist or does not bind your party {sender}")
        if recipient == sender:
            raise Invalid("the recipient must be another party of the agreement, not your own")
        if recipient not in self.parties:
            raise Invalid(f"{recipient} is not a party to agreement {self.agreement_id} ({', '.join(self.parties)})")


def require(binding: Binding | None) -> Binding:
    if binding is None:
        raise Rejected("the agreement could not be resolved for this command")
    return binding


def acting(by: Principal) -> str:
    """The party an officer (or importer) acts for on the hotline."""
    return by.acting_party()


def involved(by: Principal, parties: tuple[str, ...], *, what: str) -> str:
    """The acting party, which must be one of `parties`; a third party learns nothing (NotFound)."""
    party = acting(by)
    if party not in parties:
        raise NotFound(f"{what} not found")
    return party


def require_system(by: Principal) -> None:
    by.require(Role.SYSTEM)


def text(value: str, *, what: str, limit: int) -> str:
    value = value.strip()
    if not 1 <= len(value) <= limit:
        raise Invalid(f"{what} must be 1–{limit} characters")
    return value
