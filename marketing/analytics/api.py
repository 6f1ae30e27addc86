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
from marketing.analytics.models import Segment
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
TRAITS = [
    OpenApiParameter("rows", str, enum=list(dashboards.TRAITS), description="The table's rows (default region)."),
    OpenApiParameter("cols", str, enum=list(dashboards.TRAITS),
                     description="The crossed table's columns, another trait than `rows` (default: age)."),
]  # fmt: skip
WEEKS = OpenApiParameter(
    "weeks", int, enum=dashboards.WEEKS, description="Weeks to forecast after the period's last full week (default 8)."
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
    kind = serializers.ChoiceField(choices=["money", "count", "percent"], help_text="percent: 0.25 is 25%.")
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


class ProductRateOutput(serializers.Serializer):
    key = serializers.CharField(help_text="The product's id.")
    name = serializers.CharField()
    views = figure(help_text="Product-page views in the period.")
    orders = figure(help_text="Orders paid in the period with the product.")
    units = figure()
    revenue = figure(help_text="Revenue of its lines: after their discounts, without shipping.")
    rate = share(help_text="View to purchase: orders / views; null without views.")


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
    best_revenue = ProductRateOutput(many=True, help_text="Products viewed or sold, most revenue first.")
    worst_revenue = ProductRateOutput(many=True, help_text="Products viewed or sold, least revenue first.")
    best_rate = ProductRateOutput(many=True, help_text="Best view-to-purchase rate, over `min_views` views or more.")
    worst_rate = ProductRateOutput(many=True, help_text="Worst view-to-purchase rate, over `min_views` views or more.")
    min_views = serializers.IntegerField()


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


class SegmentOutput(serializers.Serializer):
    key = serializers.ChoiceField(choices=[k for k, _label in Segment.choices])
    name = serializers.CharField()
    note = serializers.CharField(help_text="Who they are, and what a store usually does for them.")
    customers = serializers.IntegerField()
    share = share(help_text="Of all customers.")
    orders = serializers.IntegerField()
    revenue = figure(help_text="What they paid since their first order, less refunds.")
    recency = figure(allow_null=True, help_text="Average days since their last order.")
    predicted = figure(allow_null=True, help_text="Their predicted value, summed; null when the models are not fitted.")


class CohortOutput(serializers.Serializer):
    month = serializers.DateField(help_text="The month of the first paid order (its first day).")
    size = serializers.IntegerField(help_text="Customers whose first paid order fell that month.")
    active = serializers.ListField(child=serializers.IntegerField(), help_text="Customers who paid, month 0, 1, 2…")
    shares = serializers.ListField(child=share(), help_text="`active` over `size`.")
    revenue = figure(help_text="What the cohort paid since, less refunds.")


class ClvOutput(serializers.Serializer):
    months = serializers.IntegerField(help_text="How far ahead value is predicted.")
    fitted = serializers.BooleanField(help_text="False when too few customers came back to fit the models.")
    method = serializers.CharField(help_text="e.g. 'BG/NBD + Gamma-Gamma'.")
    parameters = serializers.DictField(child=serializers.FloatField())
    correlation = serializers.FloatField(
        allow_null=True, help_text="Between repeat customers' frequency and order value."
    )
    predicted = figure(allow_null=True)
    average_predicted = figure(allow_null=True)
    alive = share(help_text="The average chance that a customer has not left for good.")


class CheckOutput(serializers.Serializer):
    cut = serializers.DateField(help_text="Fitted on the history up to this day.")
    days = serializers.IntegerField(help_text="Then predicted these days after it.")
    customers = serializers.IntegerField()
    actual = serializers.IntegerField(help_text="Repeat purchase days the customers made.")
    predicted = serializers.FloatField()
    naive = serializers.FloatField(help_text="Each customer at their past pace.")
    error = serializers.FloatField(help_text="Mean absolute error per customer, purchase days.")
    naive_error = serializers.FloatField()


class TopCustomerOutput(serializers.Serializer):
    email = serializers.EmailField()
    segment = serializers.CharField()
    orders = serializers.IntegerField()
    revenue = figure()
    alive = share()
    predicted = figure(allow_null=True)


class CellOutput(serializers.Serializer):
    row = serializers.CharField()
    col = serializers.CharField()
    orders = figure()
    revenue = figure()


class CustomersOutput(serializers.Serializer):
    period = PeriodOutput()
    compared = PeriodOutput(allow_null=True)
    currency = serializers.CharField()
    missing_days = serializers.ListField(child=serializers.DateField())
    cards = CardOutput(many=True)
    as_of = serializers.DateField(
        allow_null=True, help_text="The last scoring (null: none yet); what follows is as of it."
    )
    customers = serializers.IntegerField(required=False)
    repeat_rate = share(required=False, help_text="Customers with two orders or more, of all.")
    historical = figure(required=False)
    average_historical = figure(required=False, allow_null=True)
    segments = SegmentOutput(many=True, required=False)
    cohorts = CohortOutput(many=True, required=False, help_text="Cohorts that began in the period, the last 12.")
    clv = ClvOutput(required=False)
    check = CheckOutput(
        required=False, allow_null=True, help_text="The model tried on the past; null if it could not be."
    )
    top = TopCustomerOutput(many=True, required=False)
    rows = serializers.ChoiceField(choices=list(dashboards.TRAITS))
    cols = serializers.ChoiceField(choices=list(dashboards.TRAITS))
    crossed = CellOutput(many=True, help_text="Orders and revenue in the period by `rows` and `cols`.")


class MethodOutput(serializers.Serializer):
    key = serializers.ChoiceField(choices=list(dashboards.METHODS))
    name = serializers.CharField()
    description = serializers.CharField()
    tested = serializers.IntegerField(help_text="Weeks forecast in the backtest.")
    error = share(help_text="Sum of misses over the revenue of those weeks; null: not enough history.")
    mean_error = figure(allow_null=True, help_text="Average miss per week.")


class WeekOutput(serializers.Serializer):
    week = serializers.DateField(help_text="Monday.")
    actual = figure(allow_null=True)


class AheadOutput(serializers.Serializer):
    week = serializers.DateField(help_text="Monday.")
    forecast = figure()
    low = figure()
    high = figure()
    actual = figure(allow_null=True, help_text="What happened, for a week already over.")


class ForecastOutput(serializers.Serializer):
    period = PeriodOutput()
    compared = PeriodOutput(allow_null=True)
    currency = serializers.CharField()
    missing_days = serializers.ListField(child=serializers.DateField())
    weeks = serializers.IntegerField()
    origin = serializers.DateField(help_text="The Sunday ending the last full week the forecast starts from.")
    history = WeekOutput(many=True)
    ahead = AheadOutput(many=True)
    methods = MethodOutput(many=True)
    chosen = serializers.ChoiceField(choices=list(dashboards.METHODS), allow_null=True)


def _plain(value):
    """A panel's cell as JSON: amounts as decimal strings (never floats), the rest as text or numbers."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


class _DashboardView(APIView):
    permission_classes = [CanViewDashboards]
    dashboard = ""  # its name (and its own options: dashboards.OPTIONS)
    compared = True  # False: shown for the period alone, `compare` ignored
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
        if not self.compared:
            compare = "none"
        try:
            chosen = dashboards.options(self.dashboard, request.query_params)
        except dashboards.BadOption as exc:
            raise ShopError(str(exc), field=exc.field) from None
        data = self.shape(type(self).build(period, compare, **chosen))
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
    dashboard = "sales"

    @extend_schema(parameters=[*PARAMETERS, GROUP], responses=SalesOutput)
    def get(self, request):
        return super().get(request)


class FunnelView(_DashboardView):
    """The funnel: visits, product views, carts, checkouts and payments; conversion and cart
    abandonment; by device, source and medium."""

    build = staticmethod(dashboards.funnel)
    output = FunnelOutput
    dashboard = "funnel"

    @extend_schema(parameters=PARAMETERS, responses=FunnelOutput)
    def get(self, request):
        return super().get(request)


class MarketingView(_DashboardView):
    """The marketing panels: promotions and codes, loyalty, and what later apps add."""

    build = staticmethod(dashboards.marketing)
    output = MarketingOutput
    dashboard = "marketing"

    def shape(self, data: dict) -> dict:
        return {"panels": [
            {"key": p["key"], "title": p["title"], "columns": p["columns"],
             "rows": [{c: _plain(row.get(c)) for c in p["columns"]} for row in p["table"]]}
            for p in data["panels"]
        ]}  # fmt: skip

    @extend_schema(parameters=PARAMETERS, responses=MarketingOutput)
    def get(self, request):
        return super().get(request)


class CustomersView(_DashboardView):
    """Customers: new and returning in the period, any two of region, age band and gender crossed;
    RFM segments, cohort retention and lifetime value (historical and predicted) as of the last daily scoring."""

    build = staticmethod(dashboards.customers)
    output = CustomersOutput
    dashboard = "customers"

    def shape(self, data: dict) -> dict:
        cross = data.pop("cross")
        data["crossed"] = [{"row": r, "col": c, **cross["cells"][r][c]} for r in cross["rows"] for c in cross["cols"]
                           if c in cross["cells"][r]]  # fmt: skip
        return data

    @extend_schema(parameters=[*PARAMETERS, *TRAITS], responses=CustomersOutput)
    def get(self, request):
        return super().get(request)


class ForecastView(_DashboardView):
    """Forecast: weekly revenue for the weeks after the period's last full week, by the method that
    erred least when tried on the past weeks, with each method's error. `compare` is ignored."""

    build = staticmethod(dashboards.forecast)
    output = ForecastOutput
    dashboard = "forecast"
    compared = False

    @extend_schema(parameters=[*PARAMETERS, WEEKS], responses=ForecastOutput)
    def get(self, request):
        return super().get(request)
