"""Confidence metrics over HTTP (docs/metrics.md): per party, per dyad, monthly series with change
detection, incident statistics; JSON or CSV, each figure with the metrics version, its numerator
and denominator and the ids of the records it counted.

Every route takes `as_of` (default: now) and `as_of_seq` (cut the log at a stream sequence too),
so a figure served earlier can be asked for again and comes back the same. A party's officers and
observers see the metrics of the dyads their party belongs to; auditors see all.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from adapters.http import metrics_views as v
from adapters.http.auth import requires
from adapters.http.routes.reads import MinSeq, wait_for
from adapters.sql import metrics_source
from core.errors import Invalid, NotFound
from core.identity import Principal, Role
from core.metrics import METRICS_VERSION
from core.metrics import incidents as inc
from core.metrics.consistency import dyad_consistency
from core.metrics.report import SERIES_METRICS, Series, monthly_series, report
from core.metrics.scope import ROLLING_DAYS, Scope, Window, everything, month, rolling

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])
reading = requires(Role.OFFICER, Role.OBSERVER, Role.AUDITOR)

AsOf = Query(default=None, description="The moment the figures are computed as of (ISO 8601 with offset); default now.")
AsOfSeq = Query(default=None, ge=0, description="Also ignore events after this stream sequence (exact replay of a served figure).")
WindowQ = Query(default="30d", description="30d, 90d, 365d (rolling, ending at as_of), YYYY-MM (calendar month, UTC) or all.")
Format = Query(default="json", pattern="^(json|csv)$")


# --- parameters and visibility -----------------------------------------------------------------

def _as_of(request: Request, as_of: datetime | None) -> datetime:
    if as_of is None:
        return request.app.state.runtime.app.clock.now().astimezone(UTC)
    if as_of.tzinfo is None:
        raise Invalid("as_of needs a time zone offset, e.g. 2026-03-31T00:00:00Z")
    try:
        return as_of.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-14:00 is past the year 9999 in UTC
        raise Invalid(f"as_of {as_of.isoformat()} is outside the calendar once converted to UTC") from None


def window_of(text: str, as_of: datetime) -> Window:
    if text == "all":
        return everything(as_of)
    if (days := re.fullmatch(r"(\d+)d", text)) and int(days.group(1)) in ROLLING_DAYS:
        return rolling(as_of, int(days.group(1)))
    if found := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, number = int(found.group(1)), int(found.group(2))
        if 1 <= number <= 12:
            return month(year, number)
    raise Invalid(f"unknown window {text!r}; use {', '.join(f'{d}d' for d in ROLLING_DAYS)}, YYYY-MM or all")


def _see(who: Principal, *parties: str) -> None:
    """Auditors see every dyad; a party's officers and observers only dyads their party is in.
    Anyone else gets the 404 of a missing record, as for the hotline records behind the figures."""
    if who.role is Role.AUDITOR:
        return
    if who.party is None or who.party not in parties:
        raise NotFound(f"no metrics of {' and '.join(parties) or 'all parties'} are visible to {who.party}")


def _party_code(code: str) -> str:
    if not re.fullmatch(r"[A-Z0-9_-]{2,16}", code):
        raise Invalid(f"{code!r} is not a party code")
    return code


# --- routes --------------------------------------------------------------------------------------

@router.get("", summary="The metrics version and what can be asked")
async def describe() -> JSONResponse:
    return JSONResponse({"version": METRICS_VERSION, "documentation": "docs/metrics.md",
                         "windows": [*(f"{d}d" for d in ROLLING_DAYS), "YYYY-MM", "all"],
                         "series_metrics": list(SERIES_METRICS)})


@router.get("/parties/{code}", summary="Every metric of one party (toward all counterparts)")
async def party_metrics(request: Request, code: str, as_of: datetime | None = AsOf, as_of_seq: int | None = AsOfSeq,
                        window: str = WindowQ, format: str = Format, min_seq: int | None = MinSeq,
                        who: Principal = Depends(reading)) -> Response:
    party = _party_code(code)
    _see(who, party)
    await wait_for(request, min_seq)
    moment = _as_of(request, as_of)
    span = window_of(window, moment)
    histories = await metrics_source.load(request.app.state.runtime.engine, as_of=moment, since=span.start,
                                          parties=(party,), until_seq=as_of_seq)
    found = report(histories, Scope(as_of=moment, window=span, party=party))
    if format == "csv":
        return v.csv_response(v.report_rows(found, as_of=moment, window=span), f"metrics-{party}-{span.label}.csv")
    return JSONResponse(v.encode({**v.head(moment, as_of_seq, span), **v.report_json(found),
                                 "incident_counts": v.counts_json(found.counts),
                                 "account_agreement": v.agreement_json(found.agreement)}))


@router.get("/dyads/{p}/{q}", summary="Both directions of a dyad, the accounts' agreement, C_p, C_q and |C_p − C_q|")
async def dyad_metrics(request: Request, p: str, q: str, as_of: datetime | None = AsOf, as_of_seq: int | None = AsOfSeq,
                       window: str = WindowQ, format: str = Format, min_seq: int | None = MinSeq,
                       who: Principal = Depends(reading)) -> Response:
    p, q = _party_code(p), _party_code(q)
    if p == q:
        raise Invalid("a dyad is two different parties")
    _see(who, p, q)
    await wait_for(request, min_seq)
    moment = _as_of(request, as_of)
    span = window_of(window, moment)
    histories = await metrics_source.load(request.app.state.runtime.engine, as_of=moment, since=span.start,
                                          parties=(p, q), until_seq=as_of_seq)
    forward = report(histories, Scope(as_of=moment, window=span, party=p, counterpart=q))
    backward = report(histories, Scope(as_of=moment, window=span, party=q, counterpart=p))
    if format == "csv":
        rows = v.report_rows(forward, as_of=moment, window=span) + v.report_rows(backward, as_of=moment, window=span)
        return v.csv_response(rows, f"metrics-{p}-{q}-{span.label}.csv")
    assert forward.consistency is not None and backward.consistency is not None
    both = dyad_consistency(forward.consistency, backward.consistency)
    return JSONResponse(v.encode({
        **v.head(moment, as_of_seq, span), "p": p, "q": q,
        "p_to_q": v.report_json(forward), "q_to_p": v.report_json(backward),
        "account_agreement": v.agreement_json(forward.agreement),  # rater A is p, as §8 asks
        "incident_counts": v.counts_json(forward.counts),
        "consistency": {"p": v.index_json(both.p), "q": v.index_json(both.q), "asymmetry": v.fraction_float(both.asymmetry),
                        "asymmetry_exact": v.fraction(both.asymmetry), "version": both.version},
    }))


@router.get("/series/{metric}", summary="A metric month by month, with the shifts change detection finds")
async def series(request: Request, metric: str, party: str | None = Query(default=None),
                 counterpart: str | None = Query(default=None), start: str = Query(alias="from", pattern=r"^\d{4}-\d{2}$"),
                 k: int = Query(default=6, ge=2, le=24), as_of: datetime | None = AsOf, as_of_seq: int | None = AsOfSeq,
                 format: str = Format, min_seq: int | None = MinSeq, who: Principal = Depends(reading)) -> Response:
    if metric not in SERIES_METRICS:
        raise Invalid(f"unknown metric {metric!r}; use one of {', '.join(SERIES_METRICS)}")
    if who.role is not Role.AUDITOR and party is None:
        party = who.party  # a party's own series by default
    chosen = tuple(_party_code(x) for x in (party, counterpart) if x is not None)
    if counterpart is not None and party is None:
        raise Invalid("give party together with counterpart")
    _see(who, *chosen)
    await wait_for(request, min_seq)
    moment = _as_of(request, as_of)
    first = window_of(start, moment).start
    if first > moment:
        raise Invalid("the series starts after as_of")
    histories = await metrics_source.load(request.app.state.runtime.engine, as_of=moment, since=first,
                                          parties=chosen or None, until_seq=as_of_seq)
    found: Series = monthly_series(histories, metric, as_of=moment, first=first, party=party,
                                   counterpart=counterpart, k=k)
    if format == "csv":
        return v.csv_response(({"metric": metric, "party": party or "", "counterpart": counterpart or "", "window": label,
                      "as_of": moment.isoformat(), "version": found.version, "value": value}
                     for label, value in found.points), f"series-{metric}.csv")
    return JSONResponse(v.encode({
        "version": found.version, "metric": metric, "party": party, "counterpart": counterpart, "as_of": moment,
        "as_of_seq": as_of_seq, "points": [{"month": label, "value": value} for label, value in found.points],
        "shifts": [vars(s) for s in found.shifts],
    }))


@router.get("/incidents", summary="Incident statistics: counts per party, pair, kind, severity, status, casualties")
async def incident_statistics(
    request: Request, party: str | None = Query(default=None), counterpart: str | None = Query(default=None),
    kind: list[str] = Query(default=[]), severity: list[int] = Query(default=[]), status: list[str] = Query(default=[]),
    reporter: list[str] = Query(default=[]), include_retracted: bool = Query(default=False),
    as_of: datetime | None = AsOf, as_of_seq: int | None = AsOfSeq, window: str = WindowQ, format: str = Format,
    min_seq: int | None = MinSeq, who: Principal = Depends(reading),
) -> Response:
    if who.role is not Role.AUDITOR and party is None:
        party = who.party  # a party sees the incidents it is involved in
    chosen = tuple(_party_code(x) for x in (party, counterpart) if x is not None)
    _see(who, *chosen)
    await wait_for(request, min_seq)
    moment = _as_of(request, as_of)
    span = window_of(window, moment)
    histories = await metrics_source.load(request.app.state.runtime.engine, as_of=moment, since=span.start,
                                          parties=chosen or None, until_seq=as_of_seq)
    where = inc.IncidentFilter(kinds=tuple(kind), severities=tuple(severity), statuses=tuple(status),
                               reporters=tuple(reporter), include_retracted=include_retracted)
    found = inc.incident_counts(histories.incidents, Scope(as_of=moment, window=span, party=party,
                                                           counterpart=counterpart), where=where)
    if format == "csv":
        base = {"party": party or "", "counterpart": counterpart or "", "window": span.label,
                "as_of": moment.isoformat(), "version": found.version}
        rows = [{**base, "metric": "incidents", "value": found.total}]
        for group in ("by_party", "by_ordered_pair", "by_unordered_pair", "by_kind", "by_severity", "by_status"):
            rows += [{**base, "metric": f"incidents[{group}={key}]", "value": n} for key, n in getattr(found, group).items()]
        rows += [{**base, "metric": "casualties_known", "value": found.casualties_known},
                 {**base, "metric": "casualties_unknown", "value": found.casualties_unknown},
                 {**base, "metric": "casualties_total", "value": found.casualties_total}]
        return v.csv_response(rows, f"incidents-{span.label}.csv")
    return JSONResponse(v.encode({**v.head(moment, as_of_seq, span), "party": party, "counterpart": counterpart,
                                 **v.counts_json(found)}))
