"""Request bodies of the API. Unknown fields are refused: a party code slipped into a body can
never change who acts (the token decides that)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.incidents.accounts import Account
from core.identity import Role

Text = Annotated[str, Field(min_length=1, max_length=20_000)]
Code = Annotated[str, Field(min_length=2, max_length=16)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: AwareDatetime | None = Field(
        default=None, description="Business time of the fact. Importers only: backfills history."
    )


class PartyIn(Body):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]


class OfficerIn(Body):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=200)]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    party: Code | None = None
    officer_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    label: Annotated[str, Field(max_length=200)] = ""
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ReportIn(Body):
    parties: Annotated[list[Code], Field(min_length=1, max_length=10)] = Field(
        description="The parties involved; the reporter's own party is added if missing."
    )
    account: Account


class AcknowledgeIn(Body):
    pass


class AccountIn(Body):
    account: Account


class AmendIn(Body):
    account: Account
    reason: Text


class ReasonIn(Body):
    reason: Text


class ClarificationIn(Body):
    id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    to_party: Code
    question: Text


class AnswerIn(Body):
    answer: Text


class ReconcileIn(Body):
    agreed_fields: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    note: Annotated[str, Field(max_length=20_000)] = ""


class DisputeIn(Body):
    disputed_fields: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    statement: Text


class ReviewIn(Body):
    forum: Annotated[str, Field(min_length=1, max_length=200)]


class ResolveIn(Body):
    finding: Text
