"""The event log: what visitors did, first-party, append-only.

One row per fact, named in the common e-commerce vocabulary. A row never changes once written
(the recommendations and campaigns apps read it as history); what is deleted with a customer's
account is only the link to them. Visits are ids of our own (`visit`), made without cookies
(marketing.analytics.visits): the database never holds an address or a browser string.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventName(models.TextChoices):
    PAGE_VIEW = "page_view", _("page viewed")
    VIEW_ITEM = "view_item", _("product viewed")
    VIEW_ITEM_LIST = "view_item_list", _("list viewed")
    SELECT_ITEM = "select_item", _("product chosen from a list")
    ADD_TO_CART = "add_to_cart", _("added to cart")
    REMOVE_FROM_CART = "remove_from_cart", _("removed from cart")
    BEGIN_CHECKOUT = "begin_checkout", _("checkout started")
    PLACE_ORDER = "place_order", _("order placed")
    PURCHASE = "purchase", _("order paid")
    REFUND = "refund", _("refund")
    VIEW_PROMOTION = "view_promotion", _("promotion seen")
    SELECT_PROMOTION = "select_promotion", _("promotion chosen")
    APPLY_CODE = "apply_code", _("discount code applied")
    REDEEM_POINTS = "redeem_points", _("points used")
    SIGN_UP = "sign_up", _("account created")
    LOGIN = "login", _("logged in")


class Device(models.TextChoices):
    DESKTOP = "desktop", _("desktop")
    MOBILE = "mobile", _("phone")
    TABLET = "tablet", _("tablet")
    OTHER = "other", _("other (API clients, apps)")


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    name = models.CharField(_("event"), max_length=24, choices=EventName.choices)
    at = models.DateTimeField(_("at"))
    # The store's day (ANALYTICS_TIME_ZONE) the event happened on: what rollups group by.
    day = models.DateField(_("day"))
    # The visit: None when the browser asked not to be tracked (Do-Not-Track, Global Privacy Control).
    visit = models.UUIDField(_("visit"), null=True, blank=True)
    # Only with the customer's consent (Profile.analytics_consent).
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    quantity = models.PositiveIntegerField(_("quantity"), null=True, blank=True)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    # Where the visit came from and on what: copied from the visit, so a figure by source or
    # device never joins another table.
    device = models.CharField(_("device"), max_length=8, choices=Device.choices, default=Device.OTHER)
    source = models.CharField(_("source"), max_length=64, default="direct")
    medium = models.CharField(_("medium"), max_length=32, default="none")
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    path = models.CharField(_("page"), max_length=200, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["day", "name"], name="analytics_event_day_name"),
            models.Index(fields=["visit"], name="analytics_event_visit"),
            models.Index(fields=["customer", "at"], name="analytics_event_customer"),
            models.Index(fields=["product", "name"], name="analytics_event_product"),
            models.Index(fields=["order"], name="analytics_event_order"),
        ]
        constraints = [
            # An order's payment is one purchase, however often its signal comes.
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(name="purchase"), name="analytics_one_purchase_per_order"
            ),
        ]

    def __str__(self):
        return f"{self.name} {self.at:%Y-%m-%d %H:%M}"


class OrderVisit(models.Model):
    """The visit that placed an order: its payment (often through a webhook, with no visitor
    in sight) is recorded as that visit's purchase, with its source and device."""

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, primary_key=True, related_name="+")
    visit = models.UUIDField(null=True, blank=True)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    device = models.CharField(max_length=8, choices=Device.choices, default=Device.OTHER)
    source = models.CharField(max_length=64, default="direct")
    medium = models.CharField(max_length=32, default="none")
    campaign = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = _("order's visit")
        verbose_name_plural = _("orders' visits")

    def __str__(self):
        return f"{self.order_id}: {self.source}/{self.medium}"


class DailyFigure(models.Model):
    """One figure of one store day (marketing.analytics.rollups): what dashboards read.

    `dimension` is "" for the day's total, else what the figure is split by (device, source,
    medium, campaign, product, category) with `key` its value. Money figures are in the store's
    currency (SHOP_CURRENCY). A day's rows are replaced whole when the day is built again.
    """

    day = models.DateField(_("day"))
    measure = models.CharField(_("measure"), max_length=32)
    dimension = models.CharField(_("split by"), max_length=16, blank=True)
    key = models.CharField(_("value"), max_length=100, blank=True)
    value = models.DecimalField(_("figure"), max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = _("daily figure")
        verbose_name_plural = _("daily figures")
        constraints = [
            models.UniqueConstraint(fields=["day", "measure", "dimension", "key"], name="analytics_one_figure_per_key")
        ]
        indexes = [models.Index(fields=["measure", "dimension", "day"], name="analytics_figure_lookup")]

    def __str__(self):
        split = f" {self.dimension}={self.key}" if self.dimension else ""
        return f"{self.day} {self.measure}{split}: {self.value}"


class BuiltDay(models.Model):
    """A day whose figures are built, and when: the rollup job builds what is missing or may have moved."""

    day = models.DateField(primary_key=True)
    built_at = models.DateTimeField()
    # The rollups' version that built it (rollups.VERSION): a day built by an older one, missing
    # figures added since, is built again by the job.
    version = models.PositiveSmallIntegerField(default=1)

    class Meta:
        verbose_name = _("built day")
        verbose_name_plural = _("built days")

    def __str__(self):
        return str(self.day)


class Dashboard(DailyFigure):
    """The dashboards in the admin (marketing.analytics.admin): who may open them is this model's
    view permission ("Can view dashboard"), given to staff like any other."""

    class Meta:
        proxy = True
        verbose_name = _("dashboard")
        verbose_name_plural = _("dashboards")


class Segment(models.TextChoices):
    """RFM segments, from the recency (R) and frequency (F) scores (marketing.analytics.customers)."""

    CHAMPIONS = "champions", _("champions")
    LOYAL = "loyal", _("loyal")
    POTENTIAL = "potential", _("potential loyalists")
    NEW = "new", _("new customers")
    PROMISING = "promising", _("promising")
    NEED_ATTENTION = "need_attention", _("need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("about to sleep")
    CANNOT_LOSE = "cannot_lose", _("can't lose them")
    AT_RISK = "at_risk", _("at risk")
    HIBERNATING = "hibernating", _("hibernating")
    LOST = "lost", _("lost")


class CustomerScore(models.Model):
    """One customer's history and scores as of the last scoring (marketing.analytics.customers).

    A customer is an email (guests count, as on the dashboards). Rows are replaced whole by each
    day's scoring, in one transaction: a reader sees yesterday's scores or today's, never a mix.
    Money in the store's currency (SHOP_CURRENCY): what they paid, less refunds.
    """

    email = models.EmailField(_("email"), unique=True)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    first_day = models.DateField(_("first order"))
    last_day = models.DateField(_("last order"))
    orders = models.PositiveIntegerField(_("orders"))
    revenue = models.DecimalField(_("historical value"), max_digits=14, decimal_places=2)
    recency = models.PositiveIntegerField(_("days since last order"))
    r = models.PositiveSmallIntegerField(_("R"), help_text=_("Recency score, 5 = most recent."))
    f = models.PositiveSmallIntegerField(_("F"), help_text=_("Frequency score, 5 = most orders."))
    m = models.PositiveSmallIntegerField(_("M"), help_text=_("Monetary score, 5 = most spent."))
    segment = models.CharField(_("segment"), max_length=16, choices=Segment.choices)
    alive = models.DecimalField(_("chance still a customer"), max_digits=5, decimal_places=4, null=True, blank=True)
    predicted_orders = models.DecimalField(
        _("predicted orders"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    predicted_value = models.DecimalField(_("predicted value"), max_digits=14, decimal_places=2, null=True, blank=True)
    as_of = models.DateField(_("as of"))

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        indexes = [
            models.Index(fields=["segment", "-revenue"], name="analytics_score_segment"),
            models.Index(fields=["-predicted_value"], name="analytics_score_predicted"),
        ]

    def __str__(self):
        return f"{self.email}: {self.get_segment_display()}"


class CustomerSnapshot(models.Model):
    """What the customers dashboard shows beyond a period's daily figures, as of one day: segments,
    cohorts, lifetime value and how the prediction fared (marketing.analytics.customers)."""

    as_of = models.DateField(_("as of"), unique=True)
    # Scored for a day chosen by hand (`build_figures --score-as-of`: the end of an imported log),
    # not by the daily job: kept, and not written to the CustomerScore rows.
    chosen = models.BooleanField(_("for a chosen day"), default=False)
    built_at = models.DateTimeField(_("built at"))
    customers = models.PositiveIntegerField(_("customers"))
    data = models.JSONField(_("figures"))

    class Meta:
        verbose_name = _("customer snapshot")
        verbose_name_plural = _("customer snapshots")
        ordering = ["-as_of"]

    def __str__(self):
        return str(self.as_of)
