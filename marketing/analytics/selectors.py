"""What other apps may read of the event log (docs/architecture.md, "Import rules"): the
recommendations read a visitor's recent products and the history their tables are built from.

The log keeps no one against their will: a visit is ours only for as long as it lasts (no cookie,
marketing.analytics.visits), and a customer's events carry their id only with their consent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from django.db.models import Q

from marketing.analytics import recorder, visits
from marketing.analytics.models import CustomerScore, Event, EventName, Segment

VIEW_ITEM, ADD_TO_CART = EventName.VIEW_ITEM.value, EventName.ADD_TO_CART.value


def visit_id(request) -> str | None:
    """The id of the request's visit (the one its events are recorded under), or None: a robot,
    or a browser that asked not to be tracked."""
    visit = visits.visit_for(request)
    return None if visit is None else visit.id


def tracked_customer_id(user) -> int | None:
    """The customer's id when they allow their shopping to be tied to them, else None (cached)."""
    return recorder.consenting(user)


def recent_products(
    *,
    visit: str | None = None,
    customer_id: int | None = None,
    names: Iterable[str] = (VIEW_ITEM, ADD_TO_CART),
    limit: int = 40,
) -> list[tuple[str, int, dt.datetime]]:
    """(event name, product id, moment) of the visit's or the customer's latest product events,
    newest first: one query. Nothing when neither is known."""
    if visit is None and customer_id is None:
        return []
    events = Event.objects.filter(name__in=list(names), product_id__isnull=False)
    events = events.filter(customer_id=customer_id) if customer_id is not None else events.filter(visit=visit)
    return list(events.order_by("-at", "-id").values_list("name", "product_id", "at")[:limit])


def product_events(*, since: dt.date, names: Iterable[str] = (VIEW_ITEM, ADD_TO_CART)) -> Iterator[tuple]:
    """(event name, visit, customer id, product id, moment) of every product event from the store day
    `since` on, in no particular order, streamed in chunks (a year of a busy store is millions of rows)."""
    return (
        Event.objects.filter(day__gte=since, name__in=list(names), product_id__isnull=False)
        .order_by()
        .values_list("name", "visit", "customer_id", "product_id", "at")
        .iterator(chunk_size=20_000)
    )


# -- Lists: what was shown, chosen, and what followed a click


def list_figures(
    *,
    first: dt.date,
    last: dt.date,
    prefix: str = "",
    names: Iterable[str] | None = None,
    zone: dt.tzinfo | None = None,
) -> dict[tuple[dt.date, str], dict]:
    """{(store day, list name): {"views", "impressions", "clicks", "add_to_carts", "orders",
    "revenue"}} for the lists whose name starts with `prefix` (or only those in `names`), from the
    days `first` to `last`: what each showed and had chosen, and the adds and paid orders that
    followed a click on it in the same visit (the attribution is marketing.analytics.lists'). A
    few grouped queries, whatever the period holds; revenue a Decimal in the store's currency."""
    from dataclasses import asdict

    from marketing.analytics import lists

    found = lists.figures(first, last, prefix=prefix, names=names, zone=zone)
    return {key: asdict(entry) for key, entry in found.items()}


def figure_totals(*, first: dt.date, last: dt.date, measures: list[str], dimension: str = "") -> dict:
    """The daily figures (rollups, ANALYTICS_DAILY_SOURCES) summed over the store days `first` to
    `last`: {measure: total}, or {(measure, key): total} split by `dimension`; today worked out live.
    What a dashboard panel's `figures` reader gives, for pages outside the dashboards."""
    from marketing.analytics import reports

    return reports.totals(reports.Period(first, last), measures, dimension=dimension)


# -- Segments (marketing.campaigns.rules): who did what, as subqueries of customer ids


def customers_with_events(*, names: Iterable[str], since: dt.datetime | None = None, category_path: str = ""):
    """The ids of customers with one of these events since then, on a product of this category
    (its path, sub-categories included) if one is named: a subquery, never evaluated here.
    Only customers who allow their shopping to be tied to them have events with their id."""
    events = Event.objects.filter(name__in=list(names), customer_id__isnull=False)
    if since is not None:
        events = events.filter(at__gte=since)
    if category_path:
        path = category_path.rstrip("/")
        events = events.filter(Q(product__category__path=path) | Q(product__category__path__startswith=path + "/"))
    return events.order_by().values("customer_id")


def customers_in_rfm(*, segments: Iterable[str]):
    """The ids of customers in these RFM segments as of the last scoring: a subquery."""
    return CustomerScore.objects.filter(segment__in=list(segments), customer_id__isnull=False).values("customer_id")


def rfm_choices() -> list[tuple[str, str]]:
    return list(Segment.choices)


def visits_from(*, source: str, campaign: str, since: dt.datetime) -> list[tuple]:
    """(first moment, customer id or None, order id or None) of each visit that came from this
    source and campaign since then, oldest first: what a campaign's history reads (its demo)."""
    from django.db.models import Max, Min

    rows = (
        Event.objects.filter(source=source, campaign=campaign, at__gte=since, visit__isnull=False)
        .values("visit")
        .annotate(first=Min("at"), customer=Max("customer_id"), order=Max("order_id"))
        .order_by("first")
    )
    return [(r["first"], r["customer"], r["order"]) for r in rows]
