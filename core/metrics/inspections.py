"""Inspection metrics (docs/metrics.md §9–§10), measured on the host: the party that owes the reply
and, once it accepts, the team's entry. Whether a request was refusable under the quota rules and
whether a refusal's ground was valid are judged by the inspection regime at decision time and
arrive in the record; here they are only counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from core.metrics import METRICS_VERSION
from core.metrics.figures import Rate, rate
from core.metrics.records import InspectionRecord, known
from core.metrics.scope import Scope


def _in_scope(requests: Iterable[InspectionRecord], scope: Scope) -> list[InspectionRecord]:
    return [r for r in requests if scope.window.holds(r.requested_at) and scope.pair(r.host, r.requester)
            and r.requested_at <= scope.as_of]


def _reply(r: InspectionRecord, scope: Scope) -> str | None:
    return r.reply if known(r.replied_at, scope.as_of) is not None else None


def acceptance_rate(requests: Iterable[InspectionRecord], scope: Scope) -> Rate:
    """Accepted (at any time by as-of) / requests not refusable under the quota rules whose
    reply deadline has passed. Refusability is known from the quota state recorded in the reply,
    so a request not replied to by as-of counts as not refusable, and as not accepted."""
    due = [r for r in _in_scope(requests, scope)
           if not (r.quota_refusable and _reply(r, scope) is not None) and r.reply_due <= scope.as_of]
    return rate("inspection_acceptance", ((r.id, _reply(r, scope) == "accepted") for r in due))


def unsubstantiated_refusal_rate(requests: Iterable[InspectionRecord], scope: Scope) -> Rate:
    """Refusals whose ground was invalid at decision time / refusals recorded by as-of.
    Here the numerator counts the bad outcome."""
    refused = [r for r in _in_scope(requests, scope) if _reply(r, scope) == "refused"]
    return rate("inspection_unsubstantiated_refusal", ((r.id, r.refusal_ground_valid is False) for r in refused))


def reply_punctuality(requests: Iterable[InspectionRecord], scope: Scope) -> Rate:
    """Replies (either way) by `reply_due` / requests whose `reply_due` has passed."""
    due = [r for r in _in_scope(requests, scope) if r.reply_due <= scope.as_of]
    return rate("inspection_reply_punctuality", (
        (r.id, (t := known(r.replied_at, scope.as_of)) is not None and t <= r.reply_due) for r in due))


def entry_punctuality(requests: Iterable[InspectionRecord], scope: Scope) -> Rate:
    """Teams let in by `entry_due` / accepted requests whose `entry_due` has passed."""
    due = [(r, r.entry_due) for r in _in_scope(requests, scope)
           if _reply(r, scope) == "accepted" and r.entry_due is not None and r.entry_due <= scope.as_of]
    return rate("inspection_entry_punctuality", (
        (r.id, (t := known(r.entered_at, scope.as_of)) is not None and t <= entry_due) for r, entry_due in due))


@dataclass(frozen=True, kw_only=True)
class KindReciprocity:
    """One kind of visit in one quota year: p's active use on q against q's on p, and p's
    passive use (visits it hosted that count against its quota) against its quota."""

    kind: str
    year: int
    p_to_q: tuple[str, ...]  # visits p made to q that count against q's quota
    q_to_p: tuple[str, ...]
    ratio: Fraction | None  # |p_to_q| / |q_to_p|; None when q made none
    passive_used: tuple[str, ...]  # visits p hosted (from anyone) that count against its quota
    passive_quota: int | None  # p's quota as recorded in its latest reply by as-of; None if unknown

    @property
    def passive_share(self) -> Fraction | None:
        return None if not self.passive_quota else Fraction(len(self.passive_used), self.passive_quota)


@dataclass(frozen=True, kw_only=True)
class Reciprocity:
    metric: str
    party: str
    counterpart: str | None  # None: q is "every other party"
    year: int
    kinds: tuple[KindReciprocity, ...]
    version: str = METRICS_VERSION


def quota_reciprocity(requests: Iterable[InspectionRecord], *, party: str, counterpart: str | None, year: int,
                      as_of: datetime) -> Reciprocity:
    """§10 for the quota `year`, as of `as_of` (quota years, not windows, are what the regimes count)."""
    counting = [r for r in requests if r.quota_year == year and r.requested_at <= as_of and r.counts_against_quota(as_of)]

    def other(code: str) -> bool:
        return code != party if counterpart is None else code == counterpart

    kinds = []
    for kind in sorted({r.kind for r in requests if r.quota_year == year and party in (r.host, r.requester)}):
        mine = [r for r in counting if r.kind == kind]
        out = tuple(sorted(r.id for r in mine if r.requester == party and other(r.host)))
        back = tuple(sorted(r.id for r in mine if r.host == party and other(r.requester)))
        hosted = tuple(sorted(r.id for r in mine if r.host == party))
        replies = sorted((t, r.id, r.quota) for r in requests
                         if r.host == party and r.kind == kind and r.quota_year == year
                         and (t := known(r.replied_at, as_of)) is not None)
        kinds.append(KindReciprocity(kind=kind, year=year, p_to_q=out, q_to_p=back,
                                     ratio=Fraction(len(out), len(back)) if back else None,
                                     passive_used=hosted, passive_quota=replies[-1][2] if replies else None))
    return Reciprocity(metric="quota_reciprocity", party=party, counterpart=counterpart, year=year, kinds=tuple(kinds))
