"""Every write of campaigns: starting, listing recipients, sending each message once, A/B
decisions, tracking, unsubscribing and suppressions (docs/campaigns.md).

Sending a message is a claim: a conditional update moves it from queued to sending, so of
two workers (or a retry and the sweep) only one sends it. A message whose worker died while
sending is never sent again: the sweep marks it failed, because a second copy is worse than
a missing one. A failure the channel reports as passing (a timeout) puts it back in the
queue with a delay.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from marketing.campaigns import push, render, segments, stats, tracking
from marketing.campaigns.channels import ChannelError, get_backend
from marketing.campaigns.models import (
    Campaign,
    Click,
    Conversion,
    FlowRun,
    Message,
    PushSubscription,
    Suppression,
)
from marketing.discounts import selectors as discount_selectors
from marketing.discounts import services as discount_services
from shop.accounts.models import Channel, Consent, ConsentSource
from shop.accounts.services import consent_set
from shop.core.errors import Conflict, ShopError
from shop.core.queue import enqueue_on_commit

log = logging.getLogger(__name__)
CLAIM = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
S = Campaign.Status


# -- Starting, pausing, resuming


def campaign_problems(campaign: Campaign) -> list[str]:
    """What stops the campaign from being sent, in words staff can act on."""
    problems = []
    variants = {v.key: v for v in campaign.variants.all()}
    wanted = ["a", "b"] if campaign.is_ab else ["a"]
    for key in wanted:
        v = variants.get(key)
        if v is None:
            problems.append(_("Write content %(key)s.") % {"key": key.upper()})
        elif campaign.channel == Channel.EMAIL and not (v.subject and v.body_html):
            problems.append(_("Content %(key)s needs a subject and an HTML body.") % {"key": key.upper()})
        elif campaign.channel != Channel.EMAIL and not v.body_text:
            problems.append(_("Content %(key)s needs a text.") % {"key": key.upper()})
    try:
        segments.members(campaign.segment).exists()
    except ShopError as exc:
        problems.append(str(exc))
    except Exception as exc:  # a rule that no longer reads (RuleError is a ValidationError)
        problems.append(
            _("The segment's rules: %(error)s") % {"error": "; ".join(getattr(exc, "messages", [str(exc)]))}
        )
    if campaign.promotion_id and not discount_selectors.promotion_is_active(campaign.promotion_id):
        problems.append(_("The promotion for personal codes is switched off or gone."))
    return problems


def campaign_start(*, campaign: Campaign, at: dt.datetime | None = None) -> Campaign:
    """Send now, or at `at`. Raises Conflict with what to fix when it cannot be sent."""
    problems = campaign_problems(campaign)
    if problems:
        raise Conflict(" ".join(problems))
    now = timezone.now()
    if at is not None and at > now:
        changed = Campaign.objects.filter(pk=campaign.pk, status__in=[S.DRAFT, S.SCHEDULED]).update(
            status=S.SCHEDULED, scheduled_at=at
        )
    else:
        changed = Campaign.objects.filter(pk=campaign.pk, status__in=[S.DRAFT, S.SCHEDULED]).update(
            status=S.TESTING if campaign.is_ab else S.SENDING, started_at=now, phase=1, cursor=0, listed_at=None
        )
        if changed:
            _enqueue_listing(campaign.pk)
    if not changed:
        raise Conflict(_("This campaign has already started."))
    campaign.refresh_from_db()
    return campaign


def campaign_test_send(*, campaign: Campaign, to) -> int:
    """Each content, as `to` would get it, to `to`'s inbox, marked as a test; links untracked."""
    if campaign.channel != Channel.EMAIL:
        raise Conflict(_("Test sends go by email; the preview shows the text of other channels."))
    sent = 0
    for variant in campaign.variants.all():
        rendered = render.render(content=variant, user=to, channel=Channel.EMAIL, message_id=None, code="TEST-CODE")
        email = EmailMultiAlternatives(
            subject=f"[{_('Test')} {variant.key.upper()}] {rendered.subject}",
            body=rendered.text,
            from_email=settings.CAMPAIGNS_FROM_EMAIL,
            to=[to.email],
        )
        email.attach_alternative(rendered.html, "text/html")
        sent += email.send()
    return sent


def campaigns_due(*, now: dt.datetime | None = None) -> list[int]:
    """Start the scheduled campaigns whose time has come; their ids."""
    now = now or timezone.now()
    started = []
    for campaign in Campaign.objects.filter(status=S.SCHEDULED, scheduled_at__lte=now):
        if Campaign.objects.filter(pk=campaign.pk, status=S.SCHEDULED).update(
            status=S.TESTING if campaign.is_ab else S.SENDING, started_at=now, phase=1, cursor=0
        ):
            _enqueue_listing(campaign.pk)
            started.append(campaign.pk)
    return started


def campaign_pause(*, campaign: Campaign) -> None:
    """Stop sending: queued messages wait; those being sent finish."""
    for status in (S.SENDING, S.TESTING, S.SCHEDULED):
        if Campaign.objects.filter(pk=campaign.pk, status=status).update(status=S.PAUSED, resume_to=status):
            return
    raise Conflict(_("Only a campaign being sent or scheduled can be paused."))


def campaign_resume(*, campaign: Campaign) -> None:
    campaign.refresh_from_db()
    back = campaign.resume_to or S.SENDING
    if not Campaign.objects.filter(pk=campaign.pk, status=S.PAUSED).update(status=back, resume_to=""):
        raise Conflict(_("Only a paused campaign can be resumed."))
    if back != S.SCHEDULED:
        if campaign.listed_at is None:
            _enqueue_listing(campaign.pk)
        _enqueue_queued(campaign.pk)


def campaign_cancel(*, campaign: Campaign) -> int:
    """Stop for good: queued messages are not sent. How many were left unsent."""
    if (
        not Campaign.objects.filter(pk=campaign.pk)
        .exclude(status__in=[S.SENT, S.CANCELLED])
        .update(status=S.CANCELLED, finished_at=timezone.now())
    ):
        raise Conflict(_("This campaign has finished already."))
    return Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED).update(
        status=Message.Status.SKIPPED, skip_reason="cancelled"
    )


def _enqueue_listing(campaign_id: int) -> None:
    from marketing.campaigns import tasks

    enqueue_on_commit(tasks.list_recipients, campaign_id=campaign_id)  # the broker down: the tick lists it


def _enqueue_batches(ids: list[int]) -> None:
    from marketing.campaigns import tasks

    size = settings.CAMPAIGNS_BATCH_SIZE
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        enqueue_on_commit(tasks.send_batch, message_ids=chunk)  # the broker down: the tick queues them again


def _enqueue_queued(campaign_id: int) -> None:
    ids = list(
        Message.objects.filter(campaign_id=campaign_id, status=Message.Status.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _enqueue_batches(ids)


# -- Recipients, chunk by chunk


def campaign_list_chunk(*, campaign_id: int) -> bool:
    """Write the next chunk of recipients (by customer id, after the cursor) and queue their
    sending. True while more remain. Safe to run twice: the cursor moves by a conditional
    update and the unique (campaign, customer) writes nothing a second time."""
    campaign = Campaign.objects.select_related("segment").filter(pk=campaign_id).first()
    if campaign is None or campaign.status not in (S.SENDING, S.TESTING) or campaign.listed_at is not None:
        return False
    chunk = settings.CAMPAIGNS_LIST_CHUNK
    consenting = Consent.objects.filter(user=OuterRef("pk"), channel=campaign.channel, given=True)
    ids = list(
        segments.members(campaign.segment)
        .filter(Exists(consenting), pk__gt=campaign.cursor)
        .order_by("pk")
        .values_list("pk", flat=True)[:chunk]
    )
    rows = []
    in_test = campaign.is_ab and campaign.phase == 1
    for user_id in ids:
        variant = _variant_for(campaign, user_id)
        if variant:
            rows.append(
                Message(campaign=campaign, user_id=user_id, channel=campaign.channel, variant=variant, in_test=in_test)
            )
    with transaction.atomic():
        moved = Campaign.objects.filter(pk=campaign.pk, cursor=campaign.cursor, listed_at=None).update(
            cursor=ids[-1] if ids else campaign.cursor, listed_at=None if len(ids) == chunk else timezone.now()
        )
        if not moved:
            return False  # another task wrote this chunk
        Message.objects.bulk_create(rows, ignore_conflicts=True)
        new = list(
            Message.objects.filter(campaign=campaign, user_id__in=ids, status=Message.Status.QUEUED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        _enqueue_batches(new)
    if len(ids) < chunk:
        _finish_if_done(campaign.pk)
        return False
    return True


def _variant_for(campaign: Campaign, user_id: int) -> str:
    """ "a" without a test. In a test: "a" or "b" for the test share in phase 1; the winner
    for everyone else in phase 2 (A when the test was inconclusive)."""
    if not campaign.is_ab:
        return "a"
    drawn = stats.assign_variant(key=str(user_id), seed=f"campaign:{campaign.pk}", test_share=campaign.ab_share)
    if campaign.phase == 1:
        return drawn or ""
    return "" if drawn else (campaign.ab_winner or "a")


def _finish_if_done(campaign_id: int) -> None:
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.listed_at is None or campaign.status != S.SENDING:
        return
    if campaign.is_ab and campaign.phase == 1:
        return
    open_ = Message.objects.filter(campaign_id=campaign_id, status__in=[Message.Status.QUEUED, Message.Status.SENDING])
    if not open_.exists():
        Campaign.objects.filter(pk=campaign_id, status=S.SENDING).update(status=S.SENT, finished_at=timezone.now())


# -- Sending one message


def message_send(*, message_id: int, connection=None, now: dt.datetime | None = None, contents=None) -> str:
    """Send one queued message if it is due and still allowed; what happened, in a word."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Message.objects.filter(pk=message_id, status=Message.Status.QUEUED, send_after__lte=now).update(
            status=Message.Status.SENDING, claimed_until=now + CLAIM, attempts=F("attempts") + 1
        )
        if not claimed:
            return "not due or taken"
        message = Message.objects.select_related("campaign", "step__flow", "run", "user__profile").get(pk=message_id)
        held = _held(message)
        if held:
            Message.objects.filter(pk=message_id).update(status=Message.Status.QUEUED, claimed_until=None)
            return held
        reason = _not_allowed(message)
        if reason:
            _skip(message, reason)
            return reason
        later = _deferred(message, now)
        if later is not None:
            Message.objects.filter(pk=message_id).update(
                status=Message.Status.QUEUED, claimed_until=None, send_after=later, attempts=F("attempts") - 1
            )
            return "deferred"
    # Outside the transaction: the claim is committed, so the slow call holds no lock.
    try:
        provider_id = _deliver(message, connection=connection, contents=contents)
    except ChannelError as exc:
        return _failed(message, exc, now=now)
    except Exception as exc:  # a bug or an outage of ours: this message waits, the batch goes on
        log.exception("Message %s could not be sent", message_id)
        return _failed(message, ChannelError(f"{type(exc).__name__}: {exc}"), now=now)
    Message.objects.filter(pk=message_id, status=Message.Status.SENDING).update(
        status=Message.Status.SENT, sent_at=timezone.now(), provider_id=provider_id[:200], last_error=""
    )
    if message.campaign_id and contents is None:  # alone; a batch closes its campaigns once, at its end
        _finish_if_done(message.campaign_id)
    return "sent"


def _held(message: Message) -> str:
    if message.campaign_id and message.campaign.status not in (S.SENDING, S.TESTING):
        return "campaign paused"
    return ""


def address_of(message: Message) -> str:
    if message.channel == Channel.EMAIL:
        return message.user.email
    if message.channel == Channel.SMS:
        return getattr(getattr(message.user, "profile", None), "phone", "")
    return ""


def _not_allowed(message: Message) -> str:
    user = message.user
    if message.step_id and not message.step.flow.enabled:
        return "flow off"
    if message.run_id and message.run.status == FlowRun.Status.EXITED:
        return "left the flow"
    if not user.is_active:
        return "inactive"
    if not Consent.objects.filter(user=user, channel=message.channel, given=True).exists():
        return "no consent"
    address = address_of(message)
    if message.channel in (Channel.EMAIL, Channel.SMS):
        if not address:
            return "no address"
        if Suppression.objects.filter(channel=message.channel, address=address.lower()).exists():
            return "suppressed"
    if message.channel == Channel.PUSH and not PushSubscription.objects.filter(user=user, gone_at=None).exists():
        return "no browser"
    return ""


def _deferred(message: Message, now: dt.datetime) -> dt.datetime | None:
    """When the message must wait: quiet hours, or the customer's cap of marketing messages."""
    quiet = _quiet_until(message.channel, now)
    if quiet is not None:
        return quiet
    if message.channel == Channel.ONSITE:
        return None  # shown on a visit, never pushed at anyone: outside the cap
    cap, hours = settings.CAMPAIGNS_FREQUENCY_CAP
    window = now - dt.timedelta(hours=hours)
    # The customer's row is locked, so two workers sending them two campaigns count each other:
    # a message another worker claimed (sending, not yet sent) counts as sent now.
    get_user_model().objects.select_for_update().filter(pk=message.user_id).first()
    others = Message.objects.filter(user_id=message.user_id).exclude(pk=message.pk).exclude(channel=Channel.ONSITE)
    sending = others.filter(status=Message.Status.SENDING).count()
    recent = list(others.filter(sent_at__gte=window).order_by("-sent_at").values_list("sent_at", flat=True)[:cap])
    times = [now] * sending + recent  # newest first
    if len(times) >= cap:
        return times[cap - 1] + dt.timedelta(hours=hours, minutes=1)  # when the cap-th newest leaves the window
    return None


def _quiet_until(channel: str, now: dt.datetime) -> dt.datetime | None:
    if channel == Channel.ONSITE or (channel == Channel.EMAIL and not settings.CAMPAIGNS_QUIET_EMAIL):
        return None
    start, end = settings.CAMPAIGNS_QUIET_HOURS
    local = now.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    until = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if until <= local:
        until += dt.timedelta(days=1)
    return until


def _skip(message: Message, reason: str) -> None:
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SKIPPED, skip_reason=reason, claimed_until=None)


def _failed(message: Message, exc: ChannelError, *, now: dt.datetime) -> str:
    if exc.permanent or message.attempts >= MAX_ATTEMPTS:
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.FAILED, last_error=str(exc)[:300], claimed_until=None
        )
        if exc.permanent and message.channel in (Channel.EMAIL, Channel.SMS):
            suppress(
                channel=message.channel,
                address=address_of(message),
                reason=Suppression.Reason.BOUNCED,
                detail=str(exc)[:300],
            )
        return "failed"
    backoff = dt.timedelta(minutes=2**message.attempts)
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.QUEUED, claimed_until=None, send_after=now + backoff, last_error=str(exc)[:300]
    )
    return "retry"


def _content(message: Message):
    if message.campaign_id:
        return message.campaign.variant(message.variant or "a")
    return message.step


def _tag(message: Message) -> str:
    """How the analytics name the visits a message brings (utm_campaign)."""
    if message.campaign_id:
        return message.campaign.utm_campaign or slugify(message.campaign.name)
    return f"flow-{message.step.flow.trigger}"


def _deliver(message: Message, *, connection=None, contents=None) -> str:
    key = (message.campaign_id, message.variant, message.step_id)
    content = contents.get(key) if contents is not None else None
    if content is None:
        content = _content(message)
        if contents is not None:  # a batch reads each content once
            contents[key] = content
    code = message.code
    promotion_id = message.campaign.promotion_id if message.campaign_id else message.step.promotion_id
    if promotion_id and not code:
        try:
            code = discount_services.personal_code_issue(promotion_id=promotion_id)
        except ShopError as exc:
            raise ChannelError(str(exc), permanent=True) from None
        Message.objects.filter(pk=message.pk).update(code=code)
    rendered = render.render(
        content=content,
        user=message.user,
        channel=message.channel,
        message_id=message.pk,
        code=code,
        campaign=_tag(message),
        extra=message.run.context if message.run_id else None,
    )
    if message.channel == Channel.EMAIL:
        email = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.CAMPAIGNS_FROM_EMAIL,
            to=[message.user.email],
            headers=rendered.headers,
            connection=connection,
        )
        email.attach_alternative(rendered.html, "text/html")
        try:
            email.send()
        except Exception as exc:  # the email service or SMTP server: try again later
            raise ChannelError(str(exc), permanent=False) from exc
        return getattr(email, "anymail_status", None) and str(email.anymail_status.message_id or "") or ""
    if message.channel == Channel.SMS:
        return get_backend("CAMPAIGNS_SMS_BACKEND").send(
            to=address_of(message), text=rendered.text, reference=str(message.pk)
        )
    if message.channel == Channel.PUSH:
        return _push(message, rendered)
    return "onsite"  # shown on the customer's next visit (marketing.campaigns.onsite)


def _push(message: Message, rendered) -> str:
    backend = get_backend("CAMPAIGNS_PUSH_BACKEND")
    # The service worker (templates/pwa/sw.js) opens `url` only on the store's own site; `tag`
    # makes a second copy on one device replace the first.
    payload = {
        "title": rendered.subject or settings.SHOP_NAME,
        "body": rendered.text,
        "url": rendered.url,
        "tag": f"message-{message.pk}",
    }
    sent = []
    for subscription in PushSubscription.objects.filter(user_id=message.user_id, gone_at=None):
        try:
            sent.append(backend.send(subscription=subscription, payload=payload))
        except ChannelError as exc:
            if not exc.permanent:
                raise
            push.push_subscription_gone(subscription_id=subscription.pk)
    if not sent:
        raise ChannelError(_("No browser accepted the notification."), permanent=True)
    return sent[0]


def batch_send(*, message_ids: list[int]) -> dict[str, int]:
    """Send a batch through one connection to the email service; counts per outcome. Each content
    is read once for the batch, and each campaign closed (if done) once, at the end."""
    outcomes: dict[str, int] = {}
    contents: dict = {}
    connection = get_connection()
    try:
        connection.open()
    except Exception:
        connection = None  # each message then tries its own, and fails into its retry
    try:
        for pk in message_ids:
            outcome = message_send(message_id=pk, connection=connection, contents=contents)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        if connection is not None:
            connection.close()
    # order_by(): the model's ordering would make each message's row distinct.
    for campaign_id in (
        Message.objects.filter(pk__in=message_ids, campaign__isnull=False)
        .order_by()
        .values_list("campaign_id", flat=True)
        .distinct()
    ):
        _finish_if_done(campaign_id)
    return outcomes


def messages_sweep(*, now: dt.datetime | None = None, limit: int = 5000) -> dict[str, int]:
    """Find what a lost task left: due queued messages are queued again; messages whose worker
    died while sending are marked failed (never sent twice)."""
    now = now or timezone.now()
    interrupted = Message.objects.filter(status=Message.Status.SENDING, claimed_until__lt=now).update(
        status=Message.Status.FAILED, last_error="interrupted while sending: not sent again", claimed_until=None
    )
    live = Q(campaign__status__in=[S.SENDING, S.TESTING]) | Q(step__flow__enabled=True)
    due = list(
        Message.objects.filter(live, status=Message.Status.QUEUED, send_after__lte=now - dt.timedelta(minutes=2))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue_batches(due)
    stalled = 0
    for campaign in Campaign.objects.filter(status__in=[S.SENDING, S.TESTING], listed_at=None):
        _enqueue_listing(campaign.pk)
        stalled += 1
    for pk in Campaign.objects.filter(status=S.SENDING).exclude(listed_at=None).values_list("pk", flat=True):
        _finish_if_done(pk)
    return {"interrupted": interrupted, "requeued": len(due), "listings": stalled}


# -- A/B tests


def variant_figures(campaign: Campaign, *, test_only: bool = False) -> dict[str, dict]:
    """Per variant: sent, delivered, opened, clicked, unsubscribed, orders, revenue. For an A/B
    test the keys are "a" and "b" (the test share) and "rest" (the winner, sent after)."""
    messages = Message.objects.filter(campaign=campaign)
    if test_only:
        messages = messages.filter(in_test=True)
    rows = (
        messages.annotate(group=_group())
        .values("group")
        .annotate(
            listed=Count("pk"),
            sent=Count("pk", filter=Q(status__in=[Message.Status.SENT, Message.Status.BOUNCED])),
            bounced=Count("pk", filter=Q(status=Message.Status.BOUNCED)),
            skipped=Count("pk", filter=Q(status=Message.Status.SKIPPED)),
            failed=Count("pk", filter=Q(status=Message.Status.FAILED)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
        )
    )
    figures = {row["group"]: {**row, "delivered": row["sent"] - row["bounced"]} for row in rows}
    # Summed here, exactly: SQLite adds decimals as floating point. Orders are few beside messages.
    conversions = Conversion.objects.filter(message__in=messages).annotate(group=_group("message__"))
    for variant, message, revenue in conversions.values_list("group", "message_id", "revenue"):
        row = figures.setdefault(variant, {})
        row["orders"] = row.get("orders", 0) + 1
        row["revenue"] = row.get("revenue", Decimal("0.00")) + revenue
        row.setdefault("_buyers", set()).add(message)
    for row in figures.values():
        row["buyers"] = len(row.pop("_buyers", ()))
    return figures


def _group(prefix: str = ""):
    """A message's group in the results: its variant, or "rest" for the winner sent after a test."""
    from django.db.models import Case, CharField, Value, When
    from django.db.models.functions import Coalesce

    return Case(
        When(**{f"{prefix}in_test": False, f"{prefix}campaign__ab_test__gt": ""}, then=Value("rest")),
        default=Coalesce(f"{prefix}variant", Value("")),
        output_field=CharField(),
    )


def ab_decide(*, campaign: Campaign, now: dt.datetime | None = None) -> dict | None:
    """After the wait, choose the winner (or say the test was inconclusive, and send A) and
    send it to the rest of the segment. None when not yet due."""
    now = now or timezone.now()
    campaign.refresh_from_db()
    if campaign.status != S.TESTING or campaign.listed_at is None:
        return None
    if Message.objects.filter(campaign=campaign, status__in=[Message.Status.QUEUED, Message.Status.SENDING]).exists():
        return None  # the test is still being sent
    last = Message.objects.filter(campaign=campaign).exclude(sent_at=None).order_by("-sent_at").first()
    if last and last.sent_at + dt.timedelta(hours=campaign.ab_wait_hours) > now:
        return None
    comparison = ab_comparison(campaign)
    decision = {
        "metric": campaign.ab_metric,
        "winner": comparison.winner or "",
        "reason": comparison.reason,
        "p_value": comparison.p_value,
        "a": str(comparison.a_value),
        "b": str(comparison.b_value),
        "lift": comparison.lift,
        "verdict": comparison.verdict(),
        "decided_at": now.isoformat(),
    }
    if Campaign.objects.filter(pk=campaign.pk, status=S.TESTING).update(
        status=S.SENDING, ab_winner=comparison.winner or "", ab_decision=decision, phase=2, cursor=0, listed_at=None
    ):
        _enqueue_listing(campaign.pk)
    return decision


def ab_comparison(campaign: Campaign):
    figures = variant_figures(campaign, test_only=True)
    a, b = figures.get("a", {}), figures.get("b", {})
    if campaign.ab_metric == Campaign.Metric.CLICKS:
        return stats.compare_rates(
            a_successes=a.get("clicked", 0),
            a_trials=a.get("delivered", 0),
            b_successes=b.get("clicked", 0),
            b_trials=b.get("delivered", 0),
        )
    sums = {}
    for key in ("a", "b"):
        per_message: dict[int, Decimal] = {}
        for message, revenue in Conversion.objects.filter(
            message__campaign=campaign, message__variant=key, message__in_test=True
        ).values_list("message_id", "revenue"):
            per_message[message] = per_message.get(message, Decimal(0)) + revenue
        totals = list(per_message.values())
        sums[key] = (sum(totals, start=Decimal(0)), sum((t * t for t in totals), start=Decimal(0)), len(totals))
    return stats.compare_means_summary(
        a_n=a.get("delivered", 0),
        a_sum=sums["a"][0],
        a_sum_squares=sums["a"][1],
        a_nonzero=sums["a"][2],
        b_n=b.get("delivered", 0),
        b_sum=sums["b"][0],
        b_sum_squares=sums["b"][1],
        b_nonzero=sums["b"][2],
    )


def ab_tests_due(*, now: dt.datetime | None = None) -> int:
    decided = 0
    for campaign in Campaign.objects.filter(status=S.TESTING).exclude(listed_at=None):
        decided += ab_decide(campaign=campaign, now=now) is not None
    return decided


# -- Tracking and unsubscribing


def message_opened(*, message_id: int, now: dt.datetime | None = None) -> None:
    Message.objects.filter(pk=message_id, opened_at=None).update(opened_at=now or timezone.now())


def message_clicked(*, message_id: int, link: int, now: dt.datetime | None = None) -> str | None:
    """Record the click and return where it leads, or None for a link the message does not have."""
    now = now or timezone.now()
    message = Message.objects.select_related("campaign", "step__flow").filter(pk=message_id).first()
    content = _content(message) if message else None
    if content is None or not 0 <= link < len(content.links):
        return None
    Click.objects.bulk_create([Click(message=message, link=link, at=now)], ignore_conflicts=True)
    Message.objects.filter(pk=message_id, clicked_at=None).update(clicked_at=now)
    Message.objects.filter(pk=message_id, opened_at=None).update(opened_at=now)  # a click is an open
    return tracking.destination(content.links[link], campaign=_tag(message), medium=message.channel)


def message_unsubscribe(*, message_id: int, now: dt.datetime | None = None) -> Message | None:
    """The one-click unsubscribe: the message's channel consent withdrawn, with the evidence."""
    message = Message.objects.select_related("user", "campaign", "step__flow").filter(pk=message_id).first()
    if message is None:
        return None
    now = now or timezone.now()
    name = message.campaign.name if message.campaign_id else message.step.flow.name
    consent_set(
        user=message.user,
        channel=message.channel,
        given=False,
        source=ConsentSource.UNSUBSCRIBE,
        wording=_("Unsubscribe link in the message “%(name)s” (%(channel)s)")
        % {"name": name, "channel": Channel(message.channel).label},
        at=now,
    )
    Message.objects.filter(pk=message_id, unsubscribed_at=None).update(unsubscribed_at=now)
    return message


def suppress(*, channel: str, address: str, reason: str, detail: str = "") -> bool:
    """Keep all marketing away from an address on a channel. True if it was new."""
    if not address:
        return False
    _row, created = Suppression.objects.get_or_create(
        channel=channel, address=address.strip().lower(), defaults={"reason": reason, "detail": detail[:300]}
    )
    return created


def delivery_event(*, provider_id: str, event: str, recipient: str = "", detail: str = "") -> None:
    """A report from the email service (django-anymail's tracking signal): bounces and complaints
    suppress the address; a bounce marks the message."""
    if event in ("bounced", "rejected"):
        Message.objects.filter(provider_id=provider_id, status=Message.Status.SENT).update(
            status=Message.Status.BOUNCED
        )
        suppress(channel=Channel.EMAIL, address=recipient, reason=Suppression.Reason.BOUNCED, detail=detail)
    elif event == "complained":
        suppress(channel=Channel.EMAIL, address=recipient, reason=Suppression.Reason.COMPLAINED, detail=detail)
    elif event == "unsubscribed":
        message = Message.objects.filter(provider_id=provider_id).first()
        if message is not None:
            message_unsubscribe(message_id=message.pk)


# -- Orders after a click


ATTRIBUTION_MAX_DAYS = 30  # the longest window the admin offers


def clicked_lately(*, user_id: int) -> bool:
    since = timezone.now() - dt.timedelta(days=ATTRIBUTION_MAX_DAYS)
    return Message.objects.filter(user_id=user_id, clicked_at__gte=since).exists()


def order_attribute(*, order) -> Conversion | None:
    """Credit a paid order to the customer's last clicked message within its window (once)."""
    if order.user_id is None:
        return None
    paid_at = order.paid_at or timezone.now()
    clicked = (
        Message.objects.filter(user_id=order.user_id, clicked_at__lte=paid_at)
        .filter(clicked_at__gte=paid_at - dt.timedelta(days=ATTRIBUTION_MAX_DAYS))
        .select_related("campaign")
        .order_by("-clicked_at")
    )
    for message in clicked[:20]:
        window = message.campaign.attribution_days if message.campaign_id else 7
        if message.clicked_at >= paid_at - dt.timedelta(days=window):
            conversion, _created = Conversion.objects.get_or_create(
                order=order,
                defaults={"message": message, "revenue": order.total, "currency": order.currency, "at": paid_at},
            )
            return conversion
    return None


def customer_forget(*, user) -> None:
    """A customer's erasure: their browsers forgotten, queued messages dropped, codes cleared."""
    PushSubscription.objects.filter(user=user).delete()
    Message.objects.filter(user=user, status=Message.Status.QUEUED).update(
        status=Message.Status.SKIPPED, skip_reason="erased"
    )
    Message.objects.filter(user=user).exclude(code="").update(code="")
