"""Segments, campaigns with their A/B variants, automated flows, and every message sent.

A `Message` is one recipient's copy of a campaign or of a flow step: its unique constraints
are what make "at most once per recipient" hold whatever the retries or the workers, and
its row carries the claim, the outcome and the tracking (docs/campaigns.md).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from shop.accounts.models import Channel


class Suppression(models.Model):
    """An address no marketing may reach on a channel: a bounce, a complaint, or a request."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
        BOUNCED = "bounced", _("bounced")
        COMPLAINED = "complained", _("marked as spam")
        MANUAL = "manual", _("added by staff")

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # An email address (lower case), a phone number, or a push endpoint.
    address = models.CharField(_("address"), max_length=500)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["channel", "address"], name="campaigns_one_suppression")]

    def __str__(self):
        return f"{self.address} ({self.get_reason_display()})"


class Segment(models.Model):
    """Customers chosen by rules, all or any of which must hold (a rule may name another segment,
    which is how "and" and "or" combine). Evaluated live, when used."""

    class Match(models.TextChoices):
        ALL = "all", _("all rules hold")
        ANY = "any", _("any rule holds")

    name = models.CharField(_("name"), max_length=100)
    key = models.SlugField(
        _("key"), max_length=60, unique=True, help_text=_("How promotions and other segments refer to it.")
    )
    description = models.TextField(_("description"), blank=True)
    match = models.CharField(_("customers for whom"), max_length=3, choices=Match.choices, default=Match.ALL)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self):
        return self.name


class SegmentRule(models.Model):
    """One condition: a field of the customer, an operator and a value (marketing.campaigns.rules)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(_("field"), max_length=32)
    operator = models.CharField(_("operator"), max_length=16)
    value = models.CharField(_("value"), max_length=200, blank=True)
    days = models.PositiveIntegerField(
        _("in the last … days"), null=True, blank=True, help_text=_("For behaviour: only this recent.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.field} {self.operator} {self.value}".strip()


class Content(models.Model):
    """What a message says: an email's subject, preheader and parts; an SMS's or a push's text.

    `links` are the addresses the HTML links to, found when saved: a click goes to one of
    these by its number, so the click redirect can never be pointed elsewhere."""

    subject = models.CharField(
        _("subject"), max_length=200, blank=True, help_text=_("Email subject, or the notification's title.")
    )
    preheader = models.CharField(
        _("preheader"), max_length=200, blank=True, help_text=_("The line mail apps show after the subject.")
    )
    body_html = models.TextField(_("HTML body"), blank=True)
    body_text = models.TextField(
        _("text"), blank=True, help_text=_("The email's text part, or the whole SMS, push or on-site message.")
    )
    url = models.CharField(
        _("link"), max_length=500, blank=True, help_text=_("Where a push or on-site message leads (a store path).")
    )
    links = models.JSONField(_("links"), default=list, blank=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        from marketing.campaigns.tracking import links_in, trackable

        found = links_in(self.body_html)
        if self.url and trackable(self.url) and self.url not in found:
            found.append(self.url)
        self.links = found
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "links"}
        super().save(*args, **kwargs)


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SCHEDULED = "scheduled", _("scheduled")
        TESTING = "testing", _("A/B test running")
        SENDING = "sending", _("sending")
        PAUSED = "paused", _("paused")
        SENT = "sent", _("sent")
        CANCELLED = "cancelled", _("cancelled")

    class Test(models.TextChoices):
        NONE = "", _("no test")
        SUBJECT = "subject", _("subject")
        CONTENT = "content", _("content")

    class Metric(models.TextChoices):
        CLICKS = "clicks", _("click rate")
        REVENUE = "revenue", _("revenue per recipient")

    name = models.CharField(_("name"), max_length=150)
    utm_campaign = models.SlugField(
        _("campaign tag"),
        max_length=100,
        blank=True,
        help_text=_("How the analytics name its visits (utm_campaign); the name's slug when empty."),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("segment"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    # A single-use code per recipient, from this promotion's codes (marketing.discounts.services).
    promotion_id = models.PositiveIntegerField(_("promotion for personal codes"), null=True, blank=True)
    attribution_days = models.PositiveSmallIntegerField(
        _("attribution window (days)"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text=_("Orders paid this long after a click count for it (1 to 30 days)."),
    )
    ab_test = models.CharField(_("A/B test on"), max_length=8, choices=Test.choices, default=Test.NONE, blank=True)
    ab_share = models.PositiveSmallIntegerField(
        _("test share (%)"), default=20, help_text=_("Of the segment, split between A and B; the rest gets the winner.")
    )
    ab_wait_hours = models.PositiveSmallIntegerField(_("wait before choosing (hours)"), default=4)
    ab_metric = models.CharField(_("winner by"), max_length=8, choices=Metric.choices, default=Metric.CLICKS)
    ab_winner = models.CharField(_("winner"), max_length=1, blank=True)
    ab_decision = models.JSONField(_("decision"), default=dict, blank=True, editable=False)
    # Recipients are written in chunks by member id; `cursor` is the last id written, so a
    # crashed chunk resumes where it stopped. `phase` 1 is the test (or everyone), 2 the rest.
    phase = models.PositiveSmallIntegerField(default=1, editable=False)
    resume_to = models.CharField(max_length=10, choices=Status.choices, blank=True, editable=False)  # when paused
    cursor = models.BigIntegerField(default=0, editable=False)
    listed_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ab_share__gte=2, ab_share__lte=100), name="campaigns_ab_share_range"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.utm_campaign = self.utm_campaign or slugify(self.name)[:100]
        super().save(*args, **kwargs)

    @property
    def is_ab(self) -> bool:
        return bool(self.ab_test)

    def variant(self, key: str) -> "Variant | None":
        return next((v for v in self.variants.all() if v.key == key), None)


CampaignStatus = Campaign.Status  # named for the API schema's enums (SPECTACULAR_SETTINGS)


class Variant(Content):
    """A campaign's content: "a" always; "b" for an A/B test."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    key = models.CharField(_("variant"), max_length=1, choices=[("a", "A"), ("b", "B")], default="a")

    class Meta:
        verbose_name = _("content")
        verbose_name_plural = _("contents")
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["campaign", "key"], name="campaigns_one_variant_per_key")]

    def __str__(self):
        return f"{self.campaign} {self.key.upper()}"


class Flow(models.Model):
    """An automated series of messages a customer enters on a trigger (sign-up, a cart left
    behind, an order...) and leaves when its exit rule holds (docs/campaigns.md, "Flows")."""

    class Trigger(models.TextChoices):
        WELCOME = "welcome", _("welcome (sign-up with consent)")
        ABANDONED_CART = "abandoned_cart", _("abandoned cart")
        BROWSE = "browse", _("browse abandonment")
        POST_PURCHASE = "post_purchase", _("after a purchase")
        BIRTHDAY = "birthday", _("birthday")
        WINBACK = "winback", _("win-back")
        POINTS_EXPIRY = "points_expiry", _("points about to expire")

    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, unique=True)
    name = models.CharField(_("name"), max_length=100)
    enabled = models.BooleanField(_("on"), default=False)
    # Win-back: no order for this many days. Browse: viewed, no cart, this long ago.
    days = models.PositiveSmallIntegerField(_("days"), null=True, blank=True)
    segment = models.ForeignKey(
        Segment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="flows",
        verbose_name=_("only for"),
        help_text=_("Optional: only customers in this segment enter."),
    )
    exit_on_order = models.BooleanField(
        _("stop when they order"), default=True, help_text=_("A customer who orders leaves the flow at once.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("automated flow")
        verbose_name_plural = _("automated flows")
        ordering = ["trigger"]

    def __str__(self):
        return self.name


class FlowStep(Content):
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("step"), default=1)
    delay_minutes = models.PositiveIntegerField(
        _("wait (minutes)"),
        default=60,
        help_text=_("After the trigger for the first step, else after the step before."),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    promotion_id = models.PositiveIntegerField(_("promotion for personal codes"), null=True, blank=True)
    after_delivery = models.BooleanField(
        _("after delivery"),
        default=False,
        help_text=_("Post-purchase: the wait counts from the order's delivery (checked daily for 30 days)."),
    )

    class Meta:
        verbose_name = _("step")
        verbose_name_plural = _("steps")
        ordering = ["flow", "position"]
        constraints = [models.UniqueConstraint(fields=["flow", "position"], name="campaigns_one_step_per_position")]

    def __str__(self):
        return f"{self.flow}: {self.position}"


class FlowRun(models.Model):
    """One customer's way through a flow for one occasion (`key`: the cart, the order, the year)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        DONE = "done", _("completed")
        EXITED = "exited", _("left")

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=60)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    next_position = models.PositiveSmallIntegerField(default=1)
    next_at = models.DateTimeField(_("next step at"), null=True, blank=True)
    exit_reason = models.CharField(_("left because"), max_length=40, blank=True)
    context = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("flow run")
        verbose_name_plural = _("flow runs")
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["flow", "user", "key"], name="campaigns_one_run_per_occasion")]
        indexes = [
            models.Index(fields=["next_at"], name="campaigns_run_due", condition=Q(status="active")),
            models.Index(fields=["user", "status"], name="campaigns_run_user"),
        ]

    def __str__(self):
        return f"{self.flow} · {self.user_id} · {self.key}"


class Message(models.Model):
    """One recipient's copy of a campaign or a flow step, from its claim to its clicks."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("not sent")
        BOUNCED = "bounced", _("bounced")

    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(FlowStep, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    run = models.ForeignKey(FlowRun, null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    variant = models.CharField(_("variant"), max_length=1, blank=True)
    # In an A/B test's test share (the rest get the winner later): what the decision counts.
    in_test = models.BooleanField(_("in the A/B test"), default=False)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    skip_reason = models.CharField(_("why not sent"), max_length=40, blank=True)
    # Not before: quiet hours and the frequency cap move it later rather than drop it.
    send_after = models.DateTimeField(_("not before"), default=timezone.now)
    code = models.CharField(_("personal code"), max_length=40, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    provider_id = models.CharField(_("provider's id"), max_length=200, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("first clicked"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    dismissed_at = models.DateTimeField(_("dismissed"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at"]
        constraints = [
            # At most one copy per recipient: a retry, a second worker or a resumed chunk
            # that tries again writes nothing (bulk_create(ignore_conflicts=True)).
            models.UniqueConstraint(
                fields=["campaign", "user"], condition=Q(campaign__isnull=False), name="campaigns_once_per_campaign"
            ),
            models.UniqueConstraint(
                fields=["step", "run"], condition=Q(step__isnull=False), name="campaigns_once_per_step"
            ),
            models.CheckConstraint(
                condition=Q(campaign__isnull=False, step__isnull=True) | Q(campaign__isnull=True, step__isnull=False),
                name="campaigns_message_of_campaign_or_step",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="campaigns_message_campaign"),
            models.Index(fields=["step", "status"], name="campaigns_message_step"),
            models.Index(fields=["user", "-sent_at"], name="campaigns_message_user_sent"),
            models.Index(fields=["send_after"], name="campaigns_message_due", condition=Q(status="queued")),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} to {self.user_id}"


class Click(models.Model):
    """The first click of a message on each of its links: unique clicks per link."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="clicks")
    link = models.PositiveSmallIntegerField(_("link"))
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("click")
        verbose_name_plural = _("clicks")
        constraints = [models.UniqueConstraint(fields=["message", "link"], name="campaigns_one_click_per_link")]

    def __str__(self):
        return f"{self.message_id} #{self.link}"


class Conversion(models.Model):
    """An order paid within the attribution window after a click: counted once, for the last click."""

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="+", primary_key=True)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="conversions")
    revenue = models.DecimalField(_("revenue"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    at = models.DateTimeField(_("paid at"))

    class Meta:
        verbose_name = _("attributed order")
        verbose_name_plural = _("attributed orders")

    def __str__(self):
        return f"{self.order_id} ← {self.message_id}"


class PushSubscription(models.Model):
    """A browser where the customer allowed notifications (the Push API's subscription)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    endpoint = models.URLField(_("endpoint"), max_length=500, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(_("browser"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("subscribed"), default=timezone.now)
    gone_at = models.DateTimeField(_("expired"), null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        indexes = [models.Index(fields=["user"], name="campaigns_push_user", condition=Q(gone_at__isnull=True))]

    def __str__(self):
        return f"{self.user_id}: {self.endpoint[:40]}"
