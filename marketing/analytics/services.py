"""What other apps may write to the event log (docs/architecture.md, "Import rules"): events of the
past (a demo's history, an import), and the daily figures of the days they change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.cache import cache

from marketing.analytics import recorder, rollups
from marketing.analytics.models import CustomerScore, Event, OrderVisit
from shop.core.errors import ShopError

VISIT_FIELDS = ("device", "source", "medium", "campaign")
CHUNK = 900  # visits per lookup of their fields (SQLite takes 999 parameters)


def events_record(events: Iterable[dict]) -> int:
    """Record past events, each a dict with `name`, `at` and any of the event's fields (visit,
    customer_id, product_id, order_id, quantity, value, currency, path, data). An event of a visit
    the log already knows takes that visit's device and source, so a figure by device still counts
    the visit once. Refused whole (ShopError) if a name is not an event's. The number written."""
    events = list(events)
    unknown = {event["name"] for event in events} - recorder.NAMES
    if unknown:
        raise ShopError(f"Unknown events: {', '.join(sorted(unknown))}. Known: {', '.join(sorted(recorder.NAMES))}.")
    visits = list({event["visit"] for event in events if event.get("visit")})
    known: dict = {}
    for start in range(0, len(visits), CHUNK):
        rows = Event.objects.filter(visit__in=visits[start : start + CHUNK]).values_list("visit", *VISIT_FIELDS)
        for visit, *fields in rows.order_by():
            known.setdefault(visit, dict(zip(VISIT_FIELDS, fields, strict=True)))
    rows = []
    for event in events:
        fields = {key: value for key, value in event.items() if key not in ("name", "at")}
        rows.append(recorder.event(event["name"], event["at"], **{**known.get(event.get("visit"), {}), **fields}))
    Event.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def figures_rebuild(first: dt.date, last: dt.date) -> int:
    """Build the daily figures of these store days again (after events_record). Rows written."""
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return sum(rollups.build_days(a, b) for a, b in rollups.runs(days))


def customer_forget(*, user_id: int, email: str) -> None:
    """The customer's erasure (marketing/analytics/privacy.py): their events and their orders' visits
    stay, counted in every figure, but no longer name them; their score is deleted. The only update
    an event ever gets (docs/architecture.md, "Analytics: the event log")."""
    Event.objects.filter(customer_id=user_id).update(customer=None)
    OrderVisit.objects.filter(customer_id=user_id).update(customer=None)
    CustomerScore.objects.filter(customer_id=user_id).delete()
    CustomerScore.objects.filter(email=email).delete()
    # Their consent, remembered for a few minutes, ends with the profile the erasure deletes.
    cache.delete(recorder.consent_key(user_id))
