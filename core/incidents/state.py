"""The incident as the log makes it: status, each party's account, and the open questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.incidents.accounts import Account


class Status(StrEnum):
    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    COUNTER_ACCOUNT_FILED = "counter_account_filed"
    RECONCILED = "reconciled"
    DISPUTED = "disputed"
    UNDER_REVIEW = "under_review"
    RESOLVED = "resolved"
    RETRACTED = "retracted"


TERMINAL = frozenset({Status.RESOLVED, Status.RETRACTED})


@dataclass(frozen=True, kw_only=True)
class AccountRecord:
    """A party's current account; `version` counts the filing plus each amendment."""

    party: str
    account: Account
    filed_at: datetime
    version: int = 1
    amended_at: datetime | None = None
    amendment_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class Clarification:
    id: str
    from_party: str
    to_party: str
    question: str
    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Incident:
    id: str
    reporter: str
    parties: tuple[str, ...]
    status: Status
    reported_at: datetime
    accounts: dict[str, AccountRecord]
    acknowledged: dict[str, datetime] = field(default_factory=dict)
    clarifications: dict[str, Clarification] = field(default_factory=dict)
    reconciliation: dict[str, tuple[str, ...]] = field(default_factory=dict)
    disputed_by: str | None = None
    disputed_fields: tuple[str, ...] = ()
    dispute_statement: str | None = None
    review_forum: str | None = None
    finding: str | None = None
    retraction_reason: str | None = None
    updated_at: datetime | None = None
