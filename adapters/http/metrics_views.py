"""How metric figures look on the wire: JSON objects and CSV rows (docs/metrics.md §3).

Every figure keeps its metric version, numerator, denominator and record ids; exact fractions go
out as strings beside their floats, and +∞ (which JSON cannot hold) as null with `*_unbounded`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from fastapi.responses import Response

from core.metrics import METRICS_VERSION
from core.metrics import incidents as inc
from core.metrics import inspections as insp
from core.metrics.account_agreement import AgreementSummary
from core.metrics.consistency import ConsistencyIndex
from core.metrics.figures import Latency, Rate
from core.metrics.hotline import LatencyByPrecedence, Streaks
from core.metrics.report import Report
from core.metrics.scope import Window


# --- JSON -------------------------------------------------------------------------------

def fraction(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


def rate_json(found: Rate) -> dict[str, Any]:
    return {
        "metric": found.metric, "version": found.version, "value": found.value,
        "numerator": found.numerator, "denominator": found.denominator,
        "records": {"counted": list(found.counted), "met": list(found.met), "breaches": list(found.breaches)},
        **({"breakdown": {k: rate_json(v) for k, v in found.breakdown.items()}} if found.breakdown else {}),
    }


def _seconds(value: float | None) -> float | None:
    return None if value is None or value == math.inf else value


def latency_json(found: Latency) -> dict[str, Any]:
    """+∞ has no JSON number: `p90_seconds` is null and `p90_unbounded` true when censored."""
    return {
        "metric": found.metric, "version": found.version, "count": found.count,
        "p50_seconds": _seconds(found.p50), "p50_unbounded": found.p50 == math.inf,
        "p90_seconds": _seconds(found.p90), "p90_unbounded": found.p90 == math.inf,
        "records": {"counted": list(found.counted), "censored": list(found.censored)},
    }


def latencies_json(found: LatencyByPrecedence) -> dict[str, Any]:
    return {**latency_json(found.overall), "breakdown": {k: latency_json(v) for k, v in found.breakdown.items()}}


def streaks_json(found: Streaks) -> dict[str, Any]:
    return {"metric": found.metric, "version": found.version, "party": found.party, "longest": found.longest,
            "current": found.current, "counted": found.counted,
            "records": {"longest_run": list(found.longest_run), "current_run": list(found.current_run)}}


def agreement_json(found: AgreementSummary) -> dict[str, Any]:
    return {
        "metric": found.metric, "version": found.version, "count": found.count,
        "mean_score": None if found.mean_score is None else float(found.mean_score),
        "mean_score_exact": fraction(found.mean_score),
        "kappa": {name: {"n": k.n, "observed": fraction(k.observed), "expected": fraction(k.expected),
                         "kappa": None if k.kappa is None else float(k.kappa), "kappa_exact": fraction(k.kappa)}
                  for name, k in found.kappa.items()},
        "records": [{"id": p.id, "incident_id": p.incident_id, "rater_a": p.rater_a, "rater_b": p.rater_b,
                     "score": float(p.score), "score_exact": str(p.score), "matches": p.matches}
                    for p in found.pairs],
    }


def counts_json(found: inc.IncidentCounts) -> dict[str, Any]:
    return {key: (list(value) if isinstance(value, tuple) else value) for key, value in vars(found).items()}


def index_json(found: ConsistencyIndex | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"party": found.party, "counterpart": found.counterpart, "version": found.version, "value": found.value,
            "exact": fraction(found.exact),
            "components": [{"metric": c.metric, "weight": str(c.weight), "numerator": c.numerator,
                            "denominator": c.denominator, "used": c.used} for c in found.components]}


def reciprocity_json(found: insp.Reciprocity | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"metric": found.metric, "version": found.version, "party": found.party, "counterpart": found.counterpart,
            "year": found.year, "kinds": [{
                "kind": k.kind, "p_to_q": len(k.p_to_q), "q_to_p": len(k.q_to_p),
                "ratio": fraction_float(k.ratio), "ratio_exact": fraction(k.ratio),
                "passive_used": len(k.passive_used), "passive_quota": k.passive_quota,
                "passive_share": fraction_float(k.passive_share),
                "records": {"p_to_q": list(k.p_to_q), "q_to_p": list(k.q_to_p), "passive_used": list(k.passive_used)},
            } for k in found.kinds]}


def report_json(found: Report) -> dict[str, Any]:
    return {
        "party": found.scope.party, "counterpart": found.scope.counterpart,
        "rates": {name: rate_json(r) for name, r in found.rates.items()},
        "ack_latency": latencies_json(found.ack_latency), "answer_latency": latencies_json(found.answer_latency),
        "check_call_streaks": streaks_json(found.streaks), "reporting_delay": latency_json(found.reporting.delay),
        "consistency_index": index_json(found.consistency), "quota_reciprocity": reciprocity_json(found.reciprocity),
    }


def head(as_of: datetime, as_of_seq: int | None, window: Window) -> dict[str, Any]:
    return {"version": METRICS_VERSION, "as_of": as_of, "as_of_seq": as_of_seq,
            "window": {"label": window.label, "start": window.start, "end": window.end}}


# --- CSV -----------------------------------------------------------------------------------------

CSV_COLUMNS = ("metric", "party", "counterpart", "window", "as_of", "version", "value", "numerator", "denominator")


def csv_response(rows: Iterable[Mapping[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("+inf" if v == math.inf else v) for k, v in row.items()})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def report_rows(found: Report, *, as_of: datetime, window: Window) -> list[dict[str, Any]]:
    base = {"party": found.scope.party or "", "counterpart": found.scope.counterpart or "", "window": window.label,
            "as_of": as_of.isoformat(), "version": METRICS_VERSION}
    rows: list[dict[str, Any]] = []
    for name, r in found.rates.items():
        rows.append({**base, "metric": name, "value": r.value, "numerator": r.numerator, "denominator": r.denominator})
        for key, part in r.breakdown.items():
            rows.append({**base, "metric": f"{name}[{key}]", "value": part.value, "numerator": part.numerator,
                         "denominator": part.denominator})
    for name, lat in (("ack_latency", found.ack_latency.overall), ("answer_latency", found.answer_latency.overall),
                      ("reporting_delay", found.reporting.delay)):
        for q, value in (("p50", lat.p50), ("p90", lat.p90)):
            rows.append({**base, "metric": f"{name}_{q}_seconds", "value": value, "denominator": lat.count})
    rows.append({**base, "metric": "check_call_longest_missed_streak", "value": found.streaks.longest})
    rows.append({**base, "metric": "check_call_current_missed_streak", "value": found.streaks.current})
    if found.consistency is not None:
        rows.append({**base, "metric": "consistency_index", "value": found.consistency.value})
    return rows


def fraction_float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def encode(value: Any) -> Any:
    """JSON-ready: datetimes as ISO 8601 (Z), everything else as is."""
    if type(value) is str:  # most leaves are record ids: one check, not four (a year's slot ids)
        return value
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [v if type(v) is str else encode(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
