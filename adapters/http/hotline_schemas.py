"""Request bodies of the agreement and hotline routes (unknown fields refused, like every body)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, Field

from adapters.http.schemas import Body, Code, Text
from core.agreements.terms import Precedence, Terms

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Short = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=2000)]


class AgreementIn(Body):
    id: Id | None = Field(default=None, description="Chosen by the server when left out")
    name: Short
    parties: list[Code] = Field(min_length=2, max_length=64)
    terms: Terms = Field(default_factory=Terms)
    effective_from: AwareDatetime | None = None


class TermsIn(Body):
    terms: Terms
    effective_from: AwareDatetime | None = Field(default=None, description="Default: now. Never in the past.")
    reason: Note = ""


class ContactsIn(Body):
    party: Code
    primary: Id
    alternate: Id | None = None


class CheckCallAnswerIn(Body):
    slot_start: AwareDatetime = Field(description="The scheduled start of the check call being answered")


class MessageIn(Body):
    id: Id | None = None
    agreement_id: Id
    to_party: Code
    precedence: Precedence
    subject: Short
    body: Text
    in_reply_to: Id | None = None
    answer_required: bool = True


class AnswerMessageIn(Body):
    body: Text


class Empty(Body):
    pass


class CallRequestIn(Body):
    id: Id | None = None
    agreement_id: Id
    to_party: Code
    purpose: Annotated[str, Field(min_length=1, max_length=2000)]


class AcceptCallIn(Body):
    scheduled_for: AwareDatetime | None = None


class DeclineCallIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class NoteIn(Body):
    note: Note = ""


class ExplanationIn(Body):
    id: Id | None = None
    agreement_id: Id
    to_party: Code
    subject: Short
    question: Text
    incident_id: Id | None = None


class ReplyIn(Body):
    text: Text
