from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shop.orders.models import Order


class Payment(models.Model):
    """One Stripe PaymentIntent for an order. A retry after a declined card makes a new one;
    at most one per order is open at a time (the constraint)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")
        # Stripe took an amount or currency other than the order's: given back in full, never applied.
        MISMATCHED = "mismatched", _("Did not match the order (given back)")

    order = models.ForeignKey(Order, related_name="payments", on_delete=models.CASCADE)
    provider = models.CharField(max_length=20, default="stripe")
    intent_id = models.CharField(_("payment intent"), max_length=100, unique=True)
    client_secret = models.CharField(max_length=200)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(status="open"), name="one_open_payment_per_order"),
        ]

    def __str__(self):
        return self.intent_id


class Refund(models.Model):
    """Money given back through Stripe, one row per refund.

    A refund we decide (staff, a cancellation, a payment for a closed order) is written
    first with status "requested" and committed; Stripe is called afterwards, outside
    any transaction, with an idempotency key derived from this row's id
    (shop.payments.refunds). A failed call is retried with backoff and found again by
    a sweep, as shop.core.outbox does for emails. A refund made elsewhere (Stripe's
    dashboard) arrives by webhook as a row that has already succeeded.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed: needs staff")
        RESOLVED = "resolved", _("Resolved by staff")

    order = models.ForeignKey(Order, related_name="refunds", on_delete=models.CASCADE)
    payment = models.ForeignKey(Payment, related_name="refunds", on_delete=models.CASCADE)
    refund_id = models.CharField(_("Stripe refund"), max_length=100, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUCCEEDED)
    # False for money the order never counted as paid (a payment after it closed, or for
    # the wrong amount): giving it back does not change the order's refunded amount.
    applies_to_order = models.BooleanField(default=True)
    # Part of a cancellation, which sets the order's status itself.
    keep_status = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            # Each Stripe refund once, whoever reports it first: our call or a webhook.
            models.UniqueConstraint(fields=["refund_id"], condition=~Q(refund_id=""), name="one_row_per_stripe_refund"),
            # A payment the order never counted is given back once, however often Stripe reports it.
            models.UniqueConstraint(
                fields=["payment"], condition=Q(applies_to_order=False), name="one_return_per_unapplied_payment"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self):
        return self.refund_id or f"#{self.pk} ({self.get_status_display()})"

    @property
    def needs_attention(self) -> bool:
        return self.status == self.Status.FAILED or (self.status == self.Status.REQUESTED and self.attempts > 0)


class WebhookEvent(models.Model):
    """Each Stripe event once: the unique event id makes a redelivery a no-op."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.type} {self.event_id}"
