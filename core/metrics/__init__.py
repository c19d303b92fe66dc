"""Confidence metrics: pure functions over plain records (see docs/metrics.md).

Every figure carries `METRICS_VERSION`, its numerator and denominator and the ids of the records
it counted, so a reader can recompute it by hand and an auditor can replay it. The functions take
records filled by an adapter (SQL read models, or a test's reference history) and an as-of moment;
they never read a clock.
"""

#: The version of the definitions in docs/metrics.md; bump it whenever a formula changes.
METRICS_VERSION = "1.0.0"
