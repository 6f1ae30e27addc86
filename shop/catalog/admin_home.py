"""The catalog's figure on the admin home (SHOP_ADMIN_HOME_FIGURES): products on sale that are running out."""

from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop.catalog.models import Product
from shop.core.admin_home import Figure


def figures(request) -> list[Figure]:
    if not request.user.has_perm("catalog.view_product"):
        return []
    row = Product.objects.filter(is_active=True, stock__lte=settings.SHOP_LOW_STOCK).aggregate(
        low=Count("id", filter=Q(stock__gt=0)), out=Count("id", filter=Q(stock=0))
    )
    # The products list's own stock filter ("Low", 1 to SHOP_LOW_STOCK), on the products for sale.
    url = reverse("admin:catalog_product_changelist") + "?" + urlencode({"is_active__exact": 1, "stock_status": "low"})
    return [
        Figure(
            label=_("Low stock"),
            value=number_format(row["low"], force_grouping=True),
            url=url,
            note=ngettext("%(n)s product sold out", "%(n)s products sold out", row["out"])
            % {"n": number_format(row["out"], force_grouping=True)},
            attention=bool(row["low"] or row["out"]),
        )
    ]
