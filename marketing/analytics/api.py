"""The dashboards' data for staff API clients: `GET /api/v1/analytics/<dashboard>/?from=&to=&compare=`.

The same figures as the admin pages (marketing.analytics.dashboards), for staff with the
"Can view dashboard" permission, with a token or a session.
"""

from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from marketing.analytics import dashboards, reports
from shop.core.errors import ShopError

PARAMETERS = [
    OpenApiParameter("from", str, description="First store day, YYYY-MM-DD (default: 29 days before `to`)."),
    OpenApiParameter("to", str, description="Last store day, YYYY-MM-DD, today at the latest (default: today)."),
    OpenApiParameter(
        "compare", str, enum=list(reports.COMPARE), description="What to compare with (default: previous)."
    ),
]
GROUP = OpenApiParameter(
    "group", str, enum=list(dashboards.GROUPS), description="Sales `days` by day, week (from Monday) or month."
)


class CanViewDashboards(permissions.BasePermission):
    """Staff with the dashboards' permission, as in the admin."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm("analytics.view_dashboard"))


def figure(**kwargs):
    return serializers.DecimalField(max_digits=18, decimal_places=2, **kwargs)


def share(**kwargs):
    # Wide enough for any change between two figures (a cent last period, a fortune this one).
    return serializers.DecimalField(max_digits=30, decimal_places=4, allow_null=True, **kwargs)


class PeriodOutput(serializers.Serializer):
    start = serializers.DateField(help_text="First store day, included.")
    end = serializers.DateField(help_text="Last store day, included.")


class CardOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=["money", "count"])
    value = figure(allow_null=True, help_text="Null when it cannot be worked out (an average of no orders).")
    before = figure(allow_null=True, help_text="The compared period's figure; null without a comparison.")
    change = share(help_text="(value - before) / before: 0.25 is +25%; null when before is zero or missing.")


class DayOutput(serializers.Serializer):
    day = serializers.DateField()
    orders = figure()
    revenue = figure()
    units = figure()
    refunds = figure()


class RankedOutput(serializers.Serializer):
    key = serializers.CharField(help_text="The product's or category's id, or 'unknown'.")
    name = serializers.CharField()
    units = figure()
    revenue = figure(help_text="Revenue of the lines: after their discounts, without shipping.")


class SalesOutput(serializers.Serializer):
    period = PeriodOutput()
    compared = PeriodOutput(allow_null=True)
    currency = serializers.CharField()
    missing_days = serializers.ListField(child=serializers.DateField(), help_text="Days not built yet: read as 0.")
    cards = CardOutput(many=True)
    group = serializers.ChoiceField(choices=["day", "week", "month"])
    days = DayOutput(many=True, help_text="Per day, or per week or month (`day` is the first day of each).")
    products = RankedOutput(many=True)
    categories = RankedOutput(many=True)


class StepOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    value = figure()
    before = figure(allow_null=True)
    change = share()
    of_previous = share(help_text="Share of the step before; null for the first step.")
    of_visits = share()


class SplitOutput(serializers.Serializer):
    key = serializers.CharField()
    visits = figure()
    adding = figure()
    buying = figure()
    conversion = share()


class FunnelOutput(serializers.Serializer):
    period = PeriodOutput()
    compared = PeriodOutput(allow_null=True)
    missing_days = serializers.ListField(child=serializers.DateField())
    steps = StepOutput(many=True)
    page_views = figure()
    conversion = share()
    conversion_before = share()
    abandonment = share(help_text="Visits that added to the cart and did not pay, out of those that added.")
    by_device = SplitOutput(many=True)
    by_source = SplitOutput(many=True)
    by_medium = SplitOutput(many=True)


class PanelOutput(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(
        child=serializers.DictField(),
        help_text="One object per row, keyed by `columns`; amounts as decimal strings in `currency`.",
    )


class MarketingOutput(serializers.Serializer):
    period = PeriodOutput()
    compared = PeriodOutput(allow_null=True)
    currency = serializers.CharField()
    missing_days = serializers.ListField(child=serializers.DateField())
    panels = PanelOutput(many=True, help_text="What each app adds (settings.ANALYTICS_PANELS).")


def _plain(value):
    """A panel's cell as JSON: amounts as decimal strings (never floats), the rest as text or numbers."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


class _DashboardView(APIView):
    permission_classes = [CanViewDashboards]
    grouped = False  # takes ?group=day|week|month
    error_responses = {400: "A bad period: its reason, e.g. a date not written YYYY-MM-DD or after today."}
    build = None
    output = None

    def get(self, request):
        try:
            period = reports.period(request.query_params.get("from"), request.query_params.get("to"))
        except reports.BadPeriod as exc:
            raise ShopError(str(exc), field="from") from None
        compare = request.query_params.get("compare", "previous")
        if compare not in reports.COMPARE:
            raise ShopError(f"compare must be one of: {', '.join(reports.COMPARE)}.", field="compare")
        group = request.query_params.get("group", "day")
        if group not in dashboards.GROUPS:
            raise ShopError(f"group must be one of: {', '.join(dashboards.GROUPS)}.", field="group")
        data = self.shape(type(self).build(period, compare, **({"group": group} if self.grouped else {})))
        before = period.before(compare)
        body = {
            **data,
            "period": period,
            "compared": before,
            "currency": settings.SHOP_CURRENCY,
            "missing_days": reports.missing(period),
        }
        return Response(self.output(body).data)

    def shape(self, data: dict) -> dict:
        return data


class SalesView(_DashboardView):
    """Sales: revenue, net revenue, orders, average order, units, refunds, discounts and new customers
    beside the compared period; each day; the best products and categories."""

    build = staticmethod(dashboards.sales)
    output = SalesOutput
    grouped = True

    @extend_schema(parameters=[*PARAMETERS, GROUP], responses=SalesOutput)
    def get(self, request):
        return super().get(request)


class FunnelView(_DashboardView):
    """The funnel: visits, product views, carts, checkouts and payments; conversion and cart
    abandonment; by device, source and medium."""

    build = staticmethod(dashboards.funnel)
    output = FunnelOutput

    @extend_schema(parameters=PARAMETERS, responses=FunnelOutput)
    def get(self, request):
        return super().get(request)


class MarketingView(_DashboardView):
    """The marketing panels: promotions and codes, loyalty, and what later apps add."""

    build = staticmethod(dashboards.marketing)
    output = MarketingOutput

    def shape(self, data: dict) -> dict:
        return {"panels": [
            {"key": p["key"], "title": p["title"], "columns": p["columns"],
             "rows": [{c: _plain(row.get(c)) for c in p["columns"]} for row in p["table"]]}
            for p in data["panels"]
        ]}  # fmt: skip

    @extend_schema(parameters=PARAMETERS, responses=MarketingOutput)
    def get(self, request):
        return super().get(request)
