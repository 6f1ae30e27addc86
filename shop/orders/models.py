import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shop.core.money import Money


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    REFUNDED = "refunded", _("Refunded")


S = OrderStatus
# The only moves an order can make. Anything else (paying twice, a late
# "payment failed" after "paid") is refused, so replayed or out-of-order
# webhooks can never move an order backwards.
TRANSITIONS: dict[str, set[str]] = {
    S.PENDING_PAYMENT: {S.PAID, S.PAYMENT_FAILED, S.CANCELLED, S.EXPIRED},
    S.PAYMENT_FAILED: {S.PAID, S.PAYMENT_FAILED, S.CANCELLED, S.EXPIRED},
    S.PAID: {S.SHIPPED, S.CANCELLED, S.REFUNDED},
    S.SHIPPED: {S.DELIVERED, S.REFUNDED},
    S.DELIVERED: {S.REFUNDED},
    S.CANCELLED: set(),
    S.EXPIRED: set(),
    S.REFUNDED: set(),
}
UNPAID = (S.PENDING_PAYMENT, S.PAYMENT_FAILED)
PAID_STATES = (S.PAID, S.SHIPPED, S.DELIVERED)
# Orders still on their way to the customer (or to being paid): an account holding one cannot be
# erased yet (shop/orders/privacy.py).
IN_PROGRESS = (S.PENDING_PAYMENT, S.PAYMENT_FAILED, S.PAID, S.SHIPPED)

# No 0/O, 1/I/L: order numbers are read out over the phone.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_order_number() -> str:
    return "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))


# The parts of a shipping address, each stored as `shipping_<part>` on the order.
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")


class ShippingMethod(models.TextChoices):
    STANDARD = "standard", _("Standard")
    EXPRESS = "express", _("Express")


class Order(models.Model):
    number = models.CharField(_("number"), max_length=16, unique=True, default=new_order_number, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="orders", on_delete=models.SET_NULL
    )
    email = models.EmailField(_("email"))
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=S.PENDING_PAYMENT)
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(_("discounts"), max_digits=12, decimal_places=2, default=0)
    shipping_total = models.DecimalField(_("shipping"), max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    amount_refunded = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)
    shipping_method = models.CharField(_("shipping method"), max_length=20, choices=ShippingMethod.choices)
    shipping_name = models.CharField(_("name"), max_length=150)
    shipping_line1 = models.CharField(_("address line 1"), max_length=200)
    shipping_line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    shipping_city = models.CharField(_("city"), max_length=100)
    shipping_region = models.CharField(_("region"), max_length=100, blank=True)
    shipping_postal_code = models.CharField(_("postal code"), max_length=20)
    shipping_country = models.CharField(_("country"), max_length=2)
    shipping_phone = models.CharField(_("phone"), max_length=30, blank=True)
    carrier = models.CharField(_("carrier"), max_length=60, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=100, blank=True)
    # Who may repeat a checkout request: "user:<id>" or "cart:<token>"; with the
    # client's Idempotency-Key it identifies one checkout, whatever the retries.
    idempotency_scope = models.CharField(max_length=64, editable=False)
    idempotency_key = models.CharField(max_length=100, blank=True, editable=False)
    cart_token = models.UUIDField(null=True, blank=True, editable=False)
    placed_at = models.DateTimeField(_("placed"), db_index=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    expires_at = models.DateTimeField(_("payment due by"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["user", "-placed_at"]),
            models.Index(fields=["email"]),
            # What was sold in a period: the analytics rollups and panels read orders by when they were paid.
            models.Index(fields=["paid_at"], name="orders_paid_at", condition=Q(paid_at__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="one_order_per_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=models.F("total")),
                name="order_refund_within_total",
            ),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("orders:detail", kwargs={"number": self.number})

    def money(self, field: str) -> Money:
        return Money(getattr(self, field), self.currency)

    @property
    def total_money(self) -> Money:
        return self.money("total")

    @property
    def refundable(self) -> Money:
        return Money(self.total - self.amount_refunded, self.currency)

    def can_move_to(self, status: str) -> bool:
        return status in TRANSITIONS[self.status]

    @property
    def is_unpaid(self) -> bool:
        return self.status in UNPAID

    @property
    def is_paid(self) -> bool:
        return self.status in PAID_STATES

    @property
    def tracking_url(self) -> str | None:
        """The carrier's page for this parcel's tracking number, where the carrier is known."""
        from shop.orders.shipping import tracking_url

        return tracking_url(self.carrier, self.tracking_number)

    def shipping_lines(self) -> list[str]:
        region = " ".join(p for p in [self.shipping_postal_code, self.shipping_city, self.shipping_region] if p)
        lines = [self.shipping_name, self.shipping_line1, self.shipping_line2, region, self.shipping_country]
        return [line for line in lines if line]


class OrderLine(models.Model):
    """A snapshot of what was bought: the product may change or vanish later."""

    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    product = models.ForeignKey("catalog.Product", null=True, blank=True, related_name="+", on_delete=models.SET_NULL)
    variant = models.ForeignKey("catalog.Variant", null=True, blank=True, related_name="+", on_delete=models.SET_NULL)
    sku = models.CharField(_("SKU"), max_length=64)
    # The variant's options as they were bought, e.g. {"Size": "42", "Colour": "Blue"}; empty for a
    # product without options.
    options = models.JSONField(_("options"), default=dict, blank=True)
    name = models.CharField(_("name"), max_length=200)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField(_("quantity"))
    subtotal = models.DecimalField(_("subtotal"), max_digits=12, decimal_places=2)
    # This line's share of the order's discounts (for refunds line by line).
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive")]

    def __str__(self):
        return f"{self.quantity} × {self.name}"

    @property
    def total(self):
        return self.subtotal - self.discount


class OrderAdjustment(models.Model):
    """A snapshot of a pricing-pipeline line: discount, shipping or points, as it was at checkout."""

    order = models.ForeignKey(Order, related_name="adjustments", on_delete=models.CASCADE)
    kind = models.CharField(_("kind"), max_length=20)
    label = models.CharField(_("label"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    source = models.CharField(_("source"), max_length=50)
    reference = models.CharField(_("reference"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("adjustment")
        verbose_name_plural = _("adjustments")
        ordering = ["id"]

    def __str__(self):
        return f"{self.label}: {self.amount}"


class EventKind(models.TextChoices):
    PLACED = "placed", _("Order placed")
    PAID = "paid", _("Payment received")
    PAYMENT_DECLINED = "payment_declined", _("Card declined")
    PAYMENT_FAILED = "payment_failed", _("Payment failed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired: not paid in time")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    NOTE = "note", _("Note")


class OrderEvent(models.Model):
    """One line of the order's timeline. Every status change writes one, through orders.services."""

    order = models.ForeignKey(Order, related_name="events", on_delete=models.CASCADE)
    kind = models.CharField(_("event"), max_length=30, choices=EventKind.choices)
    status = models.CharField(_("status after"), max_length=20, choices=OrderStatus.choices)
    message = models.CharField(_("message"), max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("at"), db_index=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("timeline")
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.order}: {self.get_kind_display()}"

    @property
    def customer_visible(self) -> bool:
        return self.kind != EventKind.NOTE


class OrderEmail(models.Model):
    """An email the customer must get, written in the same transaction as the change it reports.

    A task sends it after commit; if the broker was down, the scheduled sweep
    sends it later. (kind, reference) is unique per order, so it goes out once.
    """

    order = models.ForeignKey(Order, related_name="emails", on_delete=models.CASCADE)
    kind = models.CharField(max_length=30)
    reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("order email")
        verbose_name_plural = _("order emails")
        constraints = [
            models.UniqueConstraint(fields=["order", "kind", "reference"], name="one_order_email_per_kind"),
        ]

    def __str__(self):
        return f"{self.kind} for {self.order}"
