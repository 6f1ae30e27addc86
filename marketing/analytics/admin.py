"""The analytics admin: the dashboards, and the event log (read-only, filtered by day, event, device, source)."""

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketing.analytics import charts, dashboards, reports
from marketing.analytics.models import Dashboard, Event
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


# --- Dashboards ------------------------------------------------------------------------------------------------

DASHBOARDS = {
    "sales": (gettext_lazy("Sales"), dashboards.sales),
    "funnel": (gettext_lazy("Funnel"), dashboards.funnel),
    "marketing": (gettext_lazy("Marketing"), dashboards.marketing),
}
CSV_TABLES = {
    "sales": {
        "days": ["day", "orders", "revenue", "units", "refunds"],
        "products": ["key", "name", "units", "revenue"],
        "categories": ["key", "name", "units", "revenue"],
    },
    "funnel": {
        "steps": ["key", "value", "before", "of_previous", "of_visits"],
        "by_device": ["key", "visits", "adding", "buying", "conversion"],
        "by_source": ["key", "visits", "adding", "buying", "conversion"],
        "by_medium": ["key", "visits", "adding", "buying", "conversion"],
    },
}


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """Not a list of rows: the dashboards, opened by anyone with "Can view dashboard"."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(f"{name}/", view(self._view(name)), name=f"analytics_dashboard_{name}") for name in DASHBOARDS
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return redirect("admin:analytics_dashboard_sales")

    def _view(self, name):
        def view(request):
            return self.dashboard(request, name)

        return view

    def dashboard(self, request, name):
        if not self.has_view_permission(request):
            raise PermissionDenied
        title, build = DASHBOARDS[name]
        error = None
        try:
            period = reports.period(request.GET.get("from") or None, request.GET.get("to") or None)
        except reports.BadPeriod as exc:
            error, period = str(exc), reports.period(None, None)
        compare = request.GET.get("compare", "previous")
        if compare not in reports.COMPARE:
            compare = "previous"
        group = request.GET.get("group", "day")
        if group not in dashboards.GROUPS:
            group = "day"
        data = build(period, compare, **({"group": group} if name == "sales" else {}))
        table = request.GET.get("table")
        if request.GET.get("format") == "csv" and name == "marketing":
            panel = next((p for p in data["panels"] if p["key"] == table), None)
            if panel is not None:
                return _csv(f"{name}-{table}-{period.start}-{period.end}.csv", panel["columns"], panel["table"])
        if request.GET.get("format") == "csv" and table in CSV_TABLES.get(name, {}):
            return _csv(f"{name}-{table}-{period.start}-{period.end}.csv", CSV_TABLES[name][table], data[table])
        context = {
            **self.admin_site.each_context(request),
            "title": _("Analytics: %(name)s") % {"name": title},
            "opts": self.model._meta,
            "name": name,
            "dashboards": [(key, label) for key, (label, _build) in DASHBOARDS.items()],
            "period": period,
            "before": period.before(compare) if name != "marketing" else None,  # panels show the period alone
            "compare": compare,
            "compare_choices": list(reports.COMPARE.items()),
            "group": group,
            "group_choices": list(dashboards.GROUPS.items()),
            "missing": reports.missing(period),
            "before_empty": name != "marketing"
            and bool(period.before(compare))
            and not reports.built(period.before(compare)),
            "error": error,
            "data": data,
            "query": request.GET.urlencode(),
        }
        if name == "marketing":
            for panel in data["panels"]:
                panel["html"] = render_to_string(panel["template"], panel["context"], request=request)
        if name == "sales":
            series = [(_("this period"), data["revenue"])]
            if data["revenue_before"] is not None:
                series.append((_("compared period"), data["revenue_before"]))
            labels = [formats.date_format(row["day"], "SHORT_DATE_FORMAT") for row in data["days"]]
            context["chart"] = charts.line_chart(series, labels, money=True)
        return TemplateResponse(request, f"admin/analytics/{name}.html", context, status=400 if error else 200)


def _csv(filename: str, columns: list[str], rows: list[dict]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return response
