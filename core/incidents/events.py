"""Incident events: past-tense facts, one per accepted command. Who and when are in the envelope."""

from __future__ import annotations

from pydantic import Field

from core.events import DomainEvent, register
from core.incidents.accounts import Account

AGGREGATE = "incident"


@register
class IncidentReported(DomainEvent):
    TYPE = "parley.incident.reported.v1"
    parties: list[str]
    account: Account


@register
class IncidentAcknowledged(DomainEvent):
    """The counterparty confirms it has received the report (not that it agrees)."""

    TYPE = "parley.incident.acknowledged.v1"


@register
class CounterAccountFiled(DomainEvent):
    TYPE = "parley.incident.counter-account-filed.v1"
    account: Account


@register
class AccountAmended(DomainEvent):
    """The acting party's account, replaced by a new version; the old one stays in the log."""

    TYPE = "parley.incident.account-amended.v1"
    account: Account
    reason: str


@register
class IncidentRetracted(DomainEvent):
    TYPE = "parley.incident.retracted.v1"
    reason: str


@register
class ClarificationRequested(DomainEvent):
    TYPE = "parley.incident.clarification-requested.v1"
    clarification_id: str
    to_party: str
    question: str


@register
class ClarificationProvided(DomainEvent):
    TYPE = "parley.incident.clarification-provided.v1"
    clarification_id: str
    answer: str


@register
class ReconciliationAgreed(DomainEvent):
    """One party agrees the accounts are reconciled; the incident is reconciled when all have."""

    TYPE = "parley.incident.reconciliation-agreed.v1"
    agreed_fields: list[str] = Field(default_factory=list)
    note: str = ""


@register
class IncidentDisputed(DomainEvent):
    TYPE = "parley.incident.disputed.v1"
    disputed_fields: list[str]
    statement: str


@register
class IncidentReferredToReview(DomainEvent):
    TYPE = "parley.incident.referred-to-review.v1"
    forum: str


@register
class IncidentResolved(DomainEvent):
    TYPE = "parley.incident.resolved.v1"
    finding: str
