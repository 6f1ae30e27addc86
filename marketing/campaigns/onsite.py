"""Messages in the store: an on-site message is "sent" when written, and shown to its customer on
their account page and cart until they dismiss it or it is 30 days old. Showing it counts as
an open (reliable, unlike an email's); its link is the message's tracked click."""

import datetime as dt

from django.utils import timezone

from marketing.campaigns import render
from marketing.campaigns.models import Message
from shop.accounts.models import Channel

SHOWN_DAYS = 30
AT_ONCE = 3


def messages_for(user, *, now=None) -> list[dict]:
    """The customer's on-site messages to show now (newest first), marked seen."""
    if not getattr(user, "is_authenticated", False):
        return []
    now = now or timezone.now()
    rows = list(
        Message.objects.filter(
            user=user,
            channel=Channel.ONSITE,
            status=Message.Status.SENT,
            dismissed_at=None,
            sent_at__gte=now - dt.timedelta(days=SHOWN_DAYS),
        )
        .select_related("campaign", "step", "run")
        .order_by("-sent_at")[:AT_ONCE]
    )
    if not rows:
        return []
    Message.objects.filter(pk__in=[m.pk for m in rows], opened_at=None).update(opened_at=now)
    shown = []
    for message in rows:
        content = message.campaign.variant(message.variant or "a") if message.campaign_id else message.step
        rendered = render.render(
            content=content,
            user=user,
            channel=Channel.ONSITE,
            message_id=message.pk,
            code=message.code,
            extra=message.run.context if message.run_id else None,
        )
        shown.append(
            {
                "id": message.pk,
                "title": rendered.subject,
                "text": rendered.text,
                "url": rendered.url if content.url else "",
            }
        )
    return shown


def message_dismiss(*, user, message_id: int, now=None) -> bool:
    """The customer closes their own message; someone else's id changes nothing."""
    return bool(
        Message.objects.filter(pk=message_id, user=user, channel=Channel.ONSITE, dismissed_at=None).update(
            dismissed_at=now or timezone.now()
        )
    )
