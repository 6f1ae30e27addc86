"""The orders' figures on the admin home (SHOP_ADMIN_HOME_FIGURES): today's orders and revenue, and the
paid orders waiting to be shipped. One query for the three."""

from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop.core.admin_home import Figure, today_bounds
from shop.core.money import Money
from shop.core.money_sql import from_minor_units, minor_units_sum
from shop.orders.models import PAID_STATES, Order, OrderStatus


def _list(**query) -> str:
    return reverse("admin:orders_order_changelist") + "?" + urlencode(query)


def figures(request) -> list[Figure]:
    if not request.user.has_perm("orders.view_order"):
        return []
    start, end = today_bounds()
    currency = settings.SHOP_CURRENCY
    placed = Q(placed_at__gte=start, placed_at__lt=end)
    paid = Q(paid_at__gte=start, paid_at__lt=end, status__in=PAID_STATES)
    to_ship = Q(status=OrderStatus.PAID)
    # Only the rows one of the figures counts: today's orders and the paid ones (both indexed).
    row = Order.objects.filter(placed | paid | to_ship).aggregate(
        placed=Count("id", filter=placed),
        paid=Count("id", filter=paid),
        revenue=minor_units_sum("total", currency=currency, filter=paid),  # in cents: SQLite adds doubles
        to_ship=Count("id", filter=to_ship),
        waiting_since=Min("paid_at", filter=to_ship),
    )
    day = {"gte": str(start), "lt": str(end)}  # the list's own "Today" filter
    paid_today = {"paid_at__gte": day["gte"], "paid_at__lt": day["lt"], "status__in": ",".join(PAID_STATES)}
    waiting = ""
    if row["to_ship"]:
        waiting = _("the oldest paid %(time)s ago") % {"time": timesince(row["waiting_since"], depth=1)}
    return [
        Figure(
            label=_("Orders today"),
            value=number_format(row["placed"], force_grouping=True),
            url=_list(placed_at__gte=day["gte"], placed_at__lt=day["lt"]),
            note=ngettext("%(n)s paid", "%(n)s paid", row["paid"]) % {"n": number_format(row["paid"])},
        ),
        Figure(
            label=_("Revenue today"),
            value=Money(from_minor_units(row["revenue"], currency), currency).format(),
            url=_list(**paid_today),
            note=ngettext("from %(n)s paid order", "from %(n)s paid orders", row["paid"])
            % {"n": number_format(row["paid"], force_grouping=True)},
        ),
        Figure(
            label=_("Orders to ship"),
            value=number_format(row["to_ship"], force_grouping=True),
            url=_list(status__exact=OrderStatus.PAID),
            note=waiting or _("none waiting"),
            attention=bool(row["to_ship"]),
        ),
    ]
