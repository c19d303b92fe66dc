"""Who is acting: the principal behind a command, and the shapes of party codes and ids.

A principal comes from a verified API token (or the CLI's local admin). Commands never take a
party from the request body: the officer's party is the principal's, so an officer cannot write
as another party by typing its code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from core.errors import Forbidden, Invalid

PARTY_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{1,15}$")
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Role(StrEnum):
    OFFICER = "officer"
    OBSERVER = "observer"
    AUDITOR = "auditor"
    ADMIN = "admin"
    IMPORTER = "importer"
    SYSTEM = "system"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """An authenticated actor: an officer of a party, or a party-less admin/auditor/system."""

    actor: str
    role: Role
    party: str | None = None

    @property
    def source(self) -> str:
        """CloudEvents `source`: where the fact came from, e.g. `/parties/USA/officers/ab12`."""
        if self.party:
            return f"/parties/{self.party}/officers/{self.actor}"
        return f"/{self.role.value}/{self.actor}"

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this action needs the role {allowed}; you are {self.role.value}")

    def acting_party(self) -> str:
        """The party an officer or importer acts for (an error for party-less roles)."""
        if self.role not in (Role.OFFICER, Role.IMPORTER) or not self.party:
            raise Forbidden(f"only an officer of a party may do this; you are {self.role.value}")
        return self.party


SYSTEM = Principal(actor="system", role=Role.SYSTEM)


def check_party_code(code: str) -> str:
    if not PARTY_CODE.match(code):
        raise Invalid(
            f"party code {code!r} must be 2–16 characters: capital letters, digits, '-' or '_',"
            " starting with a letter (e.g. USA, RUS, UKR)"
        )
    return code


def check_id(value: str, *, what: str) -> str:
    if not SAFE_ID.match(value):
        raise Invalid(f"{what} {value!r} must be 1–64 letters, digits, '-' or '_'")
    return value
