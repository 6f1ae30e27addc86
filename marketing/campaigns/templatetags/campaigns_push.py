"""The account page's notifications panel (templates/campaigns/push_panel.html)."""

import hashlib

from django import template
from django.conf import settings
from django.urls import reverse

from marketing.campaigns.models import PushSubscription
from marketing.campaigns.push import PUSH_BUTTON_WORDING

register = template.Library()


def endpoint_digest(endpoint: str) -> str:
    """How the panel recognises a browser the customer turned on (push.js computes the same)."""
    return hashlib.sha256(endpoint.encode()).hexdigest()[:32]


@register.simple_tag
def push_panel(user) -> dict | None:
    """What the panel needs, or None when the store has no VAPID key (no notifications to offer)."""
    if not settings.CAMPAIGNS_VAPID_PUBLIC_KEY or not getattr(user, "is_authenticated", False):
        return None
    endpoints = PushSubscription.objects.filter(user=user, gone_at=None).values_list("endpoint", flat=True)
    return {
        "key": settings.CAMPAIGNS_VAPID_PUBLIC_KEY,
        "wording": PUSH_BUTTON_WORDING,
        "subscribe_url": reverse("campaigns_push:subscribe"),
        "unsubscribe_url": reverse("campaigns_push:unsubscribe"),
        # Which of this customer's browsers are on, without putting their addresses in the page.
        "browsers": " ".join(endpoint_digest(endpoint) for endpoint in endpoints),
    }
