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
from marketing.analytics.models import CustomerScore, Dashboard, Event
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


@admin.register(CustomerScore)
class CustomerScoreAdmin(ReadOnlyAdmin):
    """Every customer's RFM scores, segment and lifetime value, as of the last daily scoring
    (marketing/analytics/customers.py): who the champions are, who is at risk."""

    menu_order = 2  # in the menu (shop/core/admin_site.py)

    list_display = ["email", "segment", "orders", "revenue", "last_day", "recency", "rfm", "alive", "predicted_value"]
    list_filter = ["segment", "r", "f", "m"]
    search_fields = ["email"]
    search_help_text = gettext_lazy("Search by email.")
    ordering = ["-predicted_value", "-revenue"]
    list_per_page = 100
    actions = ["download_csv"]
    readonly_fields = [f.name for f in CustomerScore._meta.fields]

    @admin.display(description=gettext_lazy("R F M"))
    def rfm(self, score):
        return f"{score.r} {score.f} {score.m}"

    @admin.action(description=gettext_lazy("Download the selected customers as CSV"))
    def download_csv(self, request, queryset):
        columns = ["email", "segment", "orders", "revenue", "first_day", "last_day", "recency", "r", "f", "m",
                   "alive", "predicted_orders", "predicted_value", "as_of"]  # fmt: skip
        return _csv("customer-scores.csv", columns, queryset.values(*columns).iterator())


# --- Dashboards ------------------------------------------------------------------------------------------------

DASHBOARDS = {
    "sales": (gettext_lazy("Sales"), dashboards.sales),
    "funnel": (gettext_lazy("Funnel"), dashboards.funnel),
    "customers": (gettext_lazy("Customers"), dashboards.customers),
    "marketing": (gettext_lazy("Marketing"), dashboards.marketing),
    "forecast": (gettext_lazy("Forecast"), dashboards.forecast),
}
UNCOMPARED = {"marketing", "forecast"}  # shown for the period alone
CSV_TABLES = {
    "sales": {
        "days": ["day", "orders", "revenue", "units", "refunds"],
        "products": ["key", "name", "units", "revenue"],
        "categories": ["key", "name", "units", "revenue"],
        "ranked": ["key", "name", "views", "orders", "units", "revenue", "rate"],
    },
    "customers": {
        "segments": ["key", "name", "customers", "share", "orders", "revenue", "recency", "predicted"],
        "cohorts": ["month", "size", "revenue", *[f"month_{k}" for k in range(dashboards.COHORT_MONTHS)]],
        "top": ["email", "segment", "orders", "revenue", "alive", "predicted"],
        "crossed": ["row", "col", "orders", "revenue"],
    },
    "forecast": {
        "history": ["week", "actual"],
        "ahead": ["week", "forecast", "low", "high", "actual"],
        "methods": ["key", "name", "tested", "error", "mean_error"],
    },
    "funnel": {
        "steps": ["key", "value", "before", "of_previous", "of_visits"],
        "by_device": ["key", "visits", "adding", "buying", "conversion"],
        "by_source": ["key", "visits", "adding", "buying", "conversion"],
        "by_medium": ["key", "visits", "adding", "buying", "conversion"],
    },
}


@admin.register(Dashboard)
class DashboardAdmin(ReadOnlyAdmin):
    """Not a list of rows: the dashboards, opened by anyone with "Can view dashboard"."""

    menu_order = 1  # in the menu (shop/core/admin_site.py)

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
        if compare not in reports.COMPARE or name in UNCOMPARED:
            compare = "previous" if name not in UNCOMPARED else "none"
        chosen = dashboards.options(name, request.GET, strict=False)
        data = build(period, compare, **chosen)
        if name == "customers":
            data["crossed"] = _cells(data["cross"])
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
            "before": period.before(compare),
            "compare": compare,
            "compare_choices": list(reports.COMPARE.items()),
            **chosen,
            "group_choices": list(dashboards.GROUPS.items()),
            "trait_choices": list(dashboards.TRAITS.items()),
            "week_choices": dashboards.WEEKS,
            "uncompared": name in UNCOMPARED,
            "missing": reports.missing(period),
            "before_empty": bool(period.before(compare)) and not reports.built(period.before(compare)),
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
        if name == "forecast":
            context["chart"] = _forecast_chart(data)
        return TemplateResponse(request, f"admin/analytics/{name}.html", context, status=400 if error else 200)


def _cells(cross: dict) -> list[dict]:
    """The crossed table as rows for its CSV: one per (row, column) pair with orders."""
    return [{"row": r, "col": c, **cross["cells"][r][c]} for r in cross["rows"] for c in cross["cols"]
            if c in cross["cells"][r]]  # fmt: skip


def _forecast_chart(data: dict) -> dict:
    """Weeks of revenue, then the forecast (starting from the last full week) and, when known, what happened."""
    weeks = [row["week"] for row in data["history"]] + [row["week"] for row in data["ahead"]]
    actual = [row["actual"] for row in data["history"]] + [row["actual"] for row in data["ahead"]]
    forecast = [None] * len(data["history"]) + [row["forecast"] for row in data["ahead"]]
    if data["history"] and data["ahead"]:
        forecast[len(data["history"]) - 1] = data["history"][-1]["actual"]  # the line starts where history ends
    labels = [formats.date_format(week, "SHORT_DATE_FORMAT") for week in weeks]
    return charts.line_chart([(_("revenue per week"), actual), (_("forecast"), forecast)], labels, money=True)


def _csv(filename: str, columns: list[str], rows: list[dict]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return response
