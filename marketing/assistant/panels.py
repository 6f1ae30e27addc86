"""The assistant's panel on the analytics dashboards (settings.ANALYTICS_PANELS; see
marketing/discounts/panels.py for what a panel returns): conversations per day, how often the
assistant did not understand, how often it handed over to a person, and the orders placed within
24 hours after a chat. Five queries whatever the period: the per-day counts, the messages, the
customers' orders (one EXISTS), and the guests' chats and orders, matched by the cart they used."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from marketing.assistant.models import Conversation, Turn
from shop.orders.models import Order

AFTER = dt.timedelta(hours=24)
# The dialogue records the cart an anonymous shopper used under this key of the conversation's
# context, so that a guest's order (which knows its cart, not its session) can be matched to the chat.
CART_KEY = "cart_token"


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summary(start: dt.datetime, end: dt.datetime) -> dict:
    per_day = (
        Conversation.objects.filter(started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at", tzinfo=_zone()))
        .values("day")
        .annotate(n=Count("id"), handed=Count("id", filter=Q(handed_over=True)))
        .order_by("day")
    )
    days = [{"day": row["day"], "conversations": row["n"], "handed_over": row["handed"]} for row in per_day]
    conversations = sum(d["conversations"] for d in days)
    handed = sum(d["handed_over"] for d in days)
    turns = Turn.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        asked=Count("id", filter=Q(role=Turn.Role.SHOPPER)), fallbacks=Count("id", filter=Q(fallback=True))
    )
    return {
        "days": days,
        "conversations": conversations,
        "handed_over": handed,
        "messages": turns["asked"],
        "fallbacks": turns["fallbacks"],
        "fallback_rate": _rate(turns["fallbacks"], turns["asked"]),
        "handover_rate": _rate(handed, conversations),
        "orders_after_chat": orders_after_chat(start, end),
    }


def orders_after_chat(start: dt.datetime, end: dt.datetime) -> int:
    """Orders placed in the period by someone who chatted in the 24 hours before: a customer by
    their account, a guest by the cart their chat used."""
    chatted = Conversation.objects.filter(
        user=OuterRef("user"),
        started_at__lte=OuterRef("placed_at"),
        updated_at__gte=ExpressionWrapper(OuterRef("placed_at") - Value(AFTER), output_field=DateTimeField()),
    )
    placed = Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
    customers = placed.filter(user__isnull=False).filter(Exists(chatted)).count()
    windows = defaultdict(list)
    guests = Conversation.objects.filter(
        user=None, started_at__lt=end, updated_at__gte=start - AFTER, **{f"context__{CART_KEY}__isnull": False}
    ).values_list(f"context__{CART_KEY}", "started_at", "updated_at")
    for token, began, last in guests:
        windows[str(token).replace("-", "")].append((began, last + AFTER))
    if not windows:
        return customers
    orders = placed.filter(user=None, cart_token__in=list(windows)).values_list("cart_token", "placed_at")
    guests_after = sum(1 for token, at in orders if any(began <= at <= until for began, until in windows[token.hex]))
    return customers + guests_after


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.ANALYTICS_TIME_ZONE)  # the store's day, as every other figure


def assistant(start: dt.datetime, end: dt.datetime, **_figures) -> dict:
    data = summary(start, end)
    table = [{"day": d["day"].isoformat(), **{k: v for k, v in d.items() if k != "day"}} for d in data["days"]]
    return {
        "key": "assistant",
        "title": _("Shopping assistant"),
        "template": "assistant/analytics_panel.html",
        "context": data,
        "columns": ["day", "conversations", "handed_over"],
        "table": table,
    }
