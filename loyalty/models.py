"""The loyalty program: its rules, members, and the append-only points ledger.

The ledger (LedgerEntry) is the truth: entries are written by loyalty.services
only, never edited or deleted. Every positive entry is a *lot* with its own
available and expiry dates; every negative entry records which lots it used
(LotUse), oldest expiry first. A lot's remaining points are its points less its
uses, and an account's balance (kept on Account, under its row lock) is the
ledger's sum.
"""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# Referral codes are typed from a friend's message: no 0/O, 1/I/L.
REFERRAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(8))


class Program(models.Model):
    """The program's rules: one row (pk=1), edited in the admin. Read through loyalty.program.current()."""

    is_active = models.BooleanField(
        _("program running"), default=True, help_text=_("Off: nobody earns or redeems; balances are kept.")
    )
    earn_rate = models.DecimalField(
        _("points per currency unit spent"),
        max_digits=8,
        decimal_places=2,
        default=Decimal(5),
        validators=[MinValueValidator(0)],
        help_text=_("On merchandise, after discounts and points; multiplied by the customer's tier."),
    )
    redeem_rate = models.PositiveIntegerField(
        _("points per currency unit redeemed"),
        default=100,
        validators=[MinValueValidator(1)],
        help_text=_("e.g. 100: 100 points take 1.00 off an order."),
    )
    min_redeem_points = models.PositiveIntegerField(
        _("minimum points per redemption"), default=500, validators=[MinValueValidator(1)]
    )
    max_redeem_percent = models.PositiveSmallIntegerField(
        _("maximum share paid with points (%)"),
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Of the merchandise after discounts; shipping is always paid in money."),
    )
    pending_days = models.PositiveSmallIntegerField(
        _("pending period (days)"),
        default=14,
        help_text=_("Points earned on an order become usable once the return window has passed."),
    )
    expiry_days = models.PositiveIntegerField(
        _("points expire after (days)"), default=365, help_text=_("Counted from when they were earned; 0: never.")
    )
    expiry_reminder_days = models.PositiveSmallIntegerField(
        _("remind this many days before expiry"), default=30, help_text=_("0: no reminder email.")
    )
    tier_window_days = models.PositiveSmallIntegerField(
        _("tier spend window (days)"), default=365, validators=[MinValueValidator(1)]
    )
    signup_points = models.PositiveIntegerField(_("points for signing up"), default=100)
    review_points = models.PositiveIntegerField(_("points for a first review of a purchased product"), default=50)
    birthday_points = models.PositiveIntegerField(_("birthday points (once a year)"), default=200)
    referral_points = models.PositiveIntegerField(
        _("referral: advocate's points"), default=500, help_text=_("When the friend's first order is paid.")
    )
    referral_discount_percent = models.PositiveSmallIntegerField(
        _("referral: friend's first-order discount (%)"), default=10, validators=[MaxValueValidator(100)]
    )
    referral_discount_max = models.DecimalField(
        _("referral: friend's discount at most"),
        max_digits=12,
        decimal_places=2,
        default=Decimal(20),
        validators=[MinValueValidator(0)],
        help_text=_("In the store currency."),
    )
    referral_monthly_cap = models.PositiveSmallIntegerField(_("referral rewards per advocate per month"), default=5)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("program rules")
        verbose_name_plural = _("program rules")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="loyalty_program_single_row")]

    def __str__(self):
        return str(_("Loyalty program rules"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    def clean(self):
        if self.expiry_days and self.expiry_days <= self.pending_days:
            raise ValidationError(
                {
                    "expiry_days": _("Points must expire after their pending period, or never (0): more than %(days)d.")
                    % {"days": self.pending_days}
                }
            )


class Tier(models.Model):
    name = models.CharField(_("name"), max_length=40, unique=True)
    min_spend = models.DecimalField(
        _("spend to reach it"),
        max_digits=12,
        decimal_places=2,
        unique=True,
        validators=[MinValueValidator(0)],
        help_text=_("Paid over the tier window (rolling), in the store currency. The first tier starts at 0."),
    )
    multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(1))],
    )
    perks = models.CharField(_("perks"), max_length=200, blank=True, help_text=_("Shown to customers."))

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["min_spend"]

    def __str__(self):
        return self.name


class Account(models.Model):
    """A customer's membership. `balance` is the ledger's sum, changed only with the row locked."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="loyalty"
    )
    balance = models.IntegerField(_("balance"), default=0)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    tier_since = models.DateTimeField(_("in this tier since"), null=True, blank=True)
    referral_code = models.CharField(_("referral code"), max_length=12, unique=True, default=new_referral_code)
    created_at = models.DateTimeField(_("member since"), auto_now_add=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="loyalty_balance_not_negative")]

    def __str__(self):
        return str(self.user)


class Kind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    REVERSE = "reverse", _("Reversed")
    ADJUST = "adjust", _("Adjusted")


class Reason(models.TextChoices):
    ORDER = "order", _("Order")
    SIGNUP = "signup", _("Sign-up")
    REVIEW = "review", _("Review")
    BIRTHDAY = "birthday", _("Birthday")
    REFERRAL = "referral", _("Referral")
    REFUND = "refund", _("Refund")
    CANCEL = "cancel", _("Cancellation")
    EXPIRY = "expiry", _("Expiry")
    STAFF = "staff", _("Staff adjustment")
    ERASURE = "erasure", _("Account erased")


class LedgerEntry(models.Model):
    """One change to a balance. Append-only: written by loyalty.services, never edited or deleted."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    points = models.IntegerField(_("points"))
    balance_after = models.IntegerField(_("balance after"))
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("order")
    )
    # What makes a reward unique besides an order: "signup", "birthday:2026", "review:<product id>", "referral:<id>".
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    # Positive entries (lots) only: when they can be spent, and when what is left of them expires.
    available_at = models.DateTimeField(_("usable from"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("date"), db_index=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-created_at"]),
            models.Index(fields=["expires_at"], condition=Q(points__gt=0), name="loyalty_lot_expiry"),
        ]
        constraints = [
            # Earning is idempotent: an order earns once and redeems once, whatever the retries.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(order__isnull=False, kind__in=["earn", "redeem"]),
                name="loyalty_one_earn_and_one_redeem_per_order",
            ),
            models.UniqueConstraint(
                fields=["account", "reference"],
                condition=Q(kind="earn") & ~Q(reference=""),
                name="loyalty_one_reward_per_reference",
            ),
            models.CheckConstraint(condition=~Q(points=0), name="loyalty_entry_not_zero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="loyalty_entry_balance_not_negative"),
            models.CheckConstraint(
                condition=(Q(kind="earn", points__gt=0) | Q(kind__in=["redeem", "expire"], points__lt=0))
                | Q(kind__in=["reverse", "adjust"]),
                name="loyalty_entry_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind="adjust") | (~Q(note="") & Q(actor__isnull=False)),
                name="loyalty_adjustment_has_note_and_author",
            ),
        ]

    def __str__(self):
        return f"{self.account}: {self.points:+d} ({self.kind})"

    @property
    def description(self) -> str:
        """What the customer reads in their history (select_related("order") when listing)."""
        number = self.order.number if self.order_id else ""
        if self.reason == Reason.ERASURE:
            return _("Forfeited: the account was erased")
        if self.kind == Kind.ADJUST:
            return _("Adjusted by our team: %(note)s") % {"note": self.note}
        if self.kind == Kind.EXPIRE:
            return _("Points expired")
        if self.kind == Kind.REDEEM:
            return _("Used on order %(number)s") % {"number": number}
        if self.kind == Kind.REVERSE:
            if self.reason == Reason.REFERRAL:
                return _("Referral reward taken back: your friend's order was refunded")
            if self.reason == Reason.REVIEW:
                product = self.data.get("product", "")
                if self.points > 0:
                    return _("Given back: your review of %(product)s is published again") % {"product": product}
                return _("Taken back: a moderator took down your review of %(product)s") % {"product": product}
            if self.points > 0:
                if self.reason == Reason.CANCEL:
                    return _("Given back: order %(number)s was cancelled") % {"number": number}
                return _("Given back: order %(number)s was refunded") % {"number": number}
            if self.reason == Reason.CANCEL:
                return _("Taken back: order %(number)s was cancelled") % {"number": number}
            return _("Taken back: order %(number)s was refunded") % {"number": number}
        earned = {
            Reason.ORDER: lambda: _("Earned on order %(number)s") % {"number": number},
            Reason.SIGNUP: lambda: _("Welcome bonus for joining"),
            Reason.REVIEW: lambda: _("Thanks for reviewing %(product)s") % {"product": self.data.get("product", "")},
            Reason.BIRTHDAY: lambda: _("Happy birthday!"),
            Reason.REFERRAL: lambda: (
                _("Your friend %(friend)s placed their first order") % {"friend": self.data.get("friend", "")}
            ),
        }
        return earned.get(self.reason, lambda: self.get_reason_display())()

    def is_pending(self, now) -> bool:
        return self.points > 0 and self.available_at is not None and self.available_at > now


class LotUse(models.Model):
    """How many points a negative entry took from one lot (append-only, like the ledger)."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="lots_used")
    lot = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="uses")
    points = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="loyalty_lot_use_positive"),
            models.UniqueConstraint(fields=["entry", "lot"], name="loyalty_one_use_per_entry_and_lot"),
        ]

    def __str__(self):
        return f"{self.points} from #{self.lot_id} by #{self.entry_id}"


class TierChange(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tier_changes")
    from_name = models.CharField(_("from"), max_length=40, blank=True)
    to_name = models.CharField(_("to"), max_length=40, blank=True)
    spend = models.DecimalField(_("spend in window"), max_digits=12, decimal_places=2)
    is_upgrade = models.BooleanField(_("upgrade"))
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.account}: {self.from_name or '-'} → {self.to_name or '-'}"


class Referral(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the friend's first order")
        REWARDED = "rewarded", _("Rewarded")
        REFUSED = "refused", _("Not rewarded")

    class Refusal(models.TextChoices):
        SAME_EMAIL = "same_email", _("Same email as the advocate")
        SAME_ADDRESS = "same_address", _("Ships to the advocate's address")
        NOT_FIRST_ORDER = "not_first_order", _("Not the friend's first paid order")
        MONTHLY_CAP = "monthly_cap", _("The advocate's monthly cap was reached")

    advocate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="referrals_made", verbose_name=_("advocate")
    )
    friend = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="referred_by", verbose_name=_("friend")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    refusal = models.CharField(_("why not rewarded"), max_length=20, choices=Refusal.choices, blank=True)
    # The friend's order that took the welcome discount (claimed at checkout, released if it never completes).
    welcome_order = models.OneToOneField(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("order with the welcome discount"),
    )
    rewarded_order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("first paid order"),
    )
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(advocate=models.F("friend")), name="loyalty_no_self_referral"),
        ]

    def __str__(self):
        return f"{self.advocate} → {self.friend}"


class CartPoints(models.Model):
    """The points a customer chose to spend on their cart; debited at checkout."""

    cart = models.OneToOneField("cart.Cart", on_delete=models.CASCADE, related_name="loyalty_points")
    points = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(points__gt=0), name="loyalty_cart_points_positive")]

    def __str__(self):
        return f"{self.points} points on cart {self.cart_id}"


class ExpiryNotice(models.Model):
    """An email telling a member that points will expire: an outbox row, sent once by a task."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="expiry_notices", verbose_name=_("member")
    )
    points = models.PositiveIntegerField(_("points"))
    first_expiry = models.DateTimeField(_("first expiry"))
    # Lots expiring up to here are announced by this notice; the next one starts after it.
    covers_until = models.DateTimeField(_("covers expiries until"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("expiry reminder")
        verbose_name_plural = _("expiry reminders")
        indexes = [models.Index(fields=["account", "-covers_until"])]

    def __str__(self):
        return f"{self.points} points expiring for {self.account}"
