"""Notification lead-time compliance (docs/metrics.md §11): did the notifying party give at least
the lead time its terms required? The event records both leads, so a notification is judged the
moment it is made; there is nothing to wait for.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.metrics.figures import Rate, rate
from core.metrics.records import NotificationRecord
from core.metrics.scope import Scope


def lead_time_compliance(notifications: Iterable[NotificationRecord], scope: Scope) -> Rate:
    """Notifiable activities notified in the window with lead ≥ required lead / all of them.
    With a counterpart, only notifications addressed to it."""
    due = [n for n in notifications
           if n.notifiable and scope.window.holds(n.notified_at) and n.notified_at <= scope.as_of
           and (scope.party is None or n.party == scope.party)
           and (scope.counterpart is None or scope.counterpart in n.to_parties)]
    return rate("notification_lead_time", ((n.id, n.lead_seconds >= n.required_lead_seconds) for n in due))
