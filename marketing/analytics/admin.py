"""The event log in the admin: read-only, filtered by day, event, device and source."""

from django.contrib import admin
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from marketing.analytics.models import Event
from shop.core.admin import ReadOnlyAdmin


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Append-only: written by the store as visitors shop (marketing/analytics/receivers.py)."""

    list_display = ["when", "name", "visit_short", "customer", "product_link", "order_link", "quantity", "value",
                    "device", "source", "medium", "path"]  # fmt: skip
    list_filter = ["name", "device", "medium", "day"]
    list_select_related = ["customer", "product", "order"]
    search_fields = ["=visit", "customer__email", "=order__number", "product__name", "source", "campaign"]
    search_help_text = gettext_lazy("Search by visit id, customer email, order number, product, source or campaign.")
    date_hierarchy = "day"
    ordering = ["-id"]  # newest first, on the primary key (no sort over the whole log)
    list_per_page = 100
    show_full_result_count = False  # the log only grows: spare a count of the whole table on filtered lists
    fields = ["at", "day", "name", "visit", "customer", "product_link", "order_link", "quantity", "value",
              "currency", "device", "source", "medium", "campaign", "path", "data"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description=gettext_lazy("at"), ordering="at")
    def when(self, event):
        return formats.date_format(timezone.localtime(event.at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("visit"))
    def visit_short(self, event):
        return str(event.visit)[:8] if event.visit else "—"

    @admin.display(description=gettext_lazy("product"))
    def product_link(self, event):
        if event.product_id is None:
            return "—"
        if event.product is None:
            return f"#{event.product_id}"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:catalog_product_change", args=[event.product_id]), event.product
        )

    @admin.display(description=gettext_lazy("order"))
    def order_link(self, event):
        if event.order_id is None:
            return "—"
        if event.order is None:
            return f"#{event.order_id}"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[event.order_id]), event.order.number
        )
