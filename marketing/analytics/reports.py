"""Reading the daily figures for a period, compared with another: what the dashboards show.

Past days come from `DailyFigure`; today, which has not ended, is worked out live
(rollups.figures_for_day) and kept for a minute. A day the job has not built yet reads as zeros
and is named on the page (`missing`), never silently mixed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from marketing.analytics import rollups
from marketing.analytics.models import BuiltDay, DailyFigure
from shop.core.money_sql import from_minor_units, minor_units_sum

LIVE_SECONDS = 60
MAX_DAYS = 3 * 366
COMPARE = {"previous": _("the previous period"), "year": _("the same days a year before"), "none": _("nothing")}


def _exact_sum(field: str):
    """SUM of figures, exact on SQLite too: counts and amounts in the store's currency alike."""
    return minor_units_sum(field, currency=settings.SHOP_CURRENCY)


def from_cents(total) -> Decimal:
    return from_minor_units(total, settings.SHOP_CURRENCY)


class BadPeriod(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # included

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def __len__(self):
        return (self.end - self.start).days + 1

    def before(self, compare: str) -> Period | None:
        if compare == "previous":
            return Period(self.start - dt.timedelta(days=len(self)), self.start - dt.timedelta(days=1))
        if compare == "year":
            return Period(_year_before(self.start), _year_before(self.end))
        return None


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def period(start: str | None, end: str | None, *, default_days: int = 30) -> Period:
    """The period asked for (ISO dates, both included); the last `default_days` days up to today by default."""
    today = rollups.today()
    try:
        last = dt.date.fromisoformat(end) if end else today
        first = dt.date.fromisoformat(start) if start else last - dt.timedelta(days=default_days - 1)
    except ValueError:
        raise BadPeriod(_("Dates are written YYYY-MM-DD, e.g. 2026-01-31.")) from None
    if first > last:
        raise BadPeriod(_("The period starts after it ends: give the earlier day first."))
    if last > today:
        raise BadPeriod(_("The period ends after today."))
    if (last - first).days + 1 > MAX_DAYS:
        raise BadPeriod(_("A period is at most three years long."))
    return Period(first, last)


def _live(day: dt.date) -> list[DailyFigure]:
    key = f"analytics:live:{day.isoformat()}"
    rows = cache.get(key)
    if rows is None:
        rows = [(f.measure, f.dimension, f.key, f.value) for f in rollups.figures_for_day(day)]
        cache.set(key, rows, LIVE_SECONDS)
    return [DailyFigure(day=day, measure=m, dimension=d, key=k, value=v) for m, d, k, v in rows]


def totals(p: Period, measures: list[str], *, dimension: str = "") -> dict:
    """{measure: total} over the period (or {(measure, key): total} split by `dimension`)."""
    out: dict = {}
    rows = (
        DailyFigure.objects.filter(_days_and_months(p, dimension), measure__in=measures)
        .values("measure", "key")
        .annotate(total=_exact_sum("value"))
    )
    for row in rows:
        out[(row["measure"], row["key"]) if dimension else row["measure"]] = from_cents(row["total"])
    today = rollups.today()
    if p.start <= today <= p.end:
        for f in _live(today):
            if f.measure in measures and f.dimension == dimension:
                k = (f.measure, f.key) if dimension else f.measure
                out[k] = out.get(k, Decimal(0)) + f.value
    if not dimension:
        for measure in measures:
            out.setdefault(measure, Decimal(0))
    return out


def _days_and_months(p: Period, dimension: str) -> Q:
    """Where a period's figures split by `dimension` are: its days' rows, or, for a split summed by
    month (rollups.MONTHLY), the monthly rows of the whole months it covers (past ones: the current
    month keeps changing) and the daily rows of the days around them."""
    days = Q(day__gte=p.start, day__lte=p.end, dimension=dimension)
    if dimension not in rollups.MONTHLY:
        return days
    today = rollups.today()
    months = []
    month = rollups.month_start(p.start)
    if month < p.start:
        month = rollups.month_end(month) + dt.timedelta(days=1)
    while rollups.month_end(month) <= p.end and rollups.month_end(month) < today:
        months.append(month)
        month = rollups.month_end(month) + dt.timedelta(days=1)
    if not months:
        return days
    head = Q(day__gte=p.start, day__lt=months[0], dimension=dimension)
    tail = Q(day__gt=rollups.month_end(months[-1]), day__lte=p.end, dimension=dimension)
    whole = Q(day__in=months, dimension=rollups.monthly(dimension))
    return head | whole | tail


def daily(p: Period, measures: list[str]) -> dict[str, list[Decimal]]:
    """Each measure's total per day of the period, in order (zeros where a day has none)."""
    index = {day: n for n, day in enumerate(p.days)}
    out = {m: [Decimal(0)] * len(p) for m in measures}
    rows = DailyFigure.objects.filter(day__gte=p.start, day__lte=p.end, measure__in=measures, dimension="").values_list(
        "day", "measure", "value"
    )
    for day, measure, value in rows:
        out[measure][index[day]] = Decimal(value)
    today = rollups.today()
    if p.start <= today <= p.end:
        for f in _live(today):
            if f.measure in measures and f.dimension == "":
                out[f.measure][index[today]] = f.value
    return out


def missing(p: Period) -> list[dt.date]:
    """Past days of the period without built figures (the job has not reached them)."""
    today = rollups.today()
    built = set(BuiltDay.objects.filter(day__gte=p.start, day__lte=p.end).values_list("day", flat=True))
    return [d for d in p.days if d != today and d not in built]


def built(p: Period) -> bool:
    """Whether any day of the period has its figures (or is today)."""
    today = rollups.today()
    return p.start <= today <= p.end or BuiltDay.objects.filter(day__gte=p.start, day__lte=p.end).exists()


def change(now: Decimal, before: Decimal | None) -> Decimal | None:
    """The change from `before` to `now` as a fraction (0.25 for +25%); None when there is nothing to compare."""
    if before is None or before == 0:
        return None
    return (now - before) / before


def ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if not whole else part / whole
