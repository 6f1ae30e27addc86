"""The admin home's figures: what staff look at first each day (orders, revenue, stock, promotions, points).

Each app says what it adds through SHOP_ADMIN_HOME_FIGURES, a list of dotted paths to providers, so the
shop never imports the apps that extend it. A provider is a function of the request returning a list of
Figure; it shows only what the user may see (it checks their permissions itself) and spends one query,
or a few, for all of its figures.
"""

import datetime as dt
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Figure:
    label: str  # "Orders today"
    value: str  # already formatted: "12", "€1,234.50"
    url: str = ""  # the list it sums up, filtered to the same rows
    note: str = ""  # one short line under the value
    attention: bool = False  # something waits for staff (orders to ship, products running out)


@cache
def _providers(paths: tuple[str, ...]) -> list:
    return [import_string(path) for path in paths]


def home_figures(request) -> list[Figure]:
    figures = []
    for provider in _providers(tuple(settings.SHOP_ADMIN_HOME_FIGURES)):
        figures.extend(provider(request))
    return figures


def today_bounds(now=None) -> tuple[dt.datetime, dt.datetime]:
    """Midnight to midnight of the store's today (TIME_ZONE), as aware datetimes."""
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Through the date, not +24 h: a day with a clock change is 23 or 25 hours long.
    tomorrow = start.date() + dt.timedelta(days=1)
    end = timezone.make_aware(dt.datetime.combine(tomorrow, dt.time.min), start.tzinfo)
    return start, end
