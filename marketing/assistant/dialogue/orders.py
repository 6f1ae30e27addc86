"""Tracking an order (a customer's own, or a guest's by its number and email), store questions from
the FAQ, and handing a conversation over to staff."""

from __future__ import annotations

from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from marketing.assistant import selectors, services
from marketing.assistant.contract import Action, Intent, Reply
from marketing.assistant.dialogue.common import Exchange, client_key, unknown
from marketing.assistant.models import Channel, FaqEntry, Turn, link_is_safe
from shop.core import ratelimit

ORDER_ATTEMPTS = 10  # wrong number-and-email pairs per client (and per number) in a window
ORDER_WINDOW = 15 * 60


# --- orders --------------------------------------------------------------------------------------


def track_order(turn: Exchange) -> Reply:
    entities = turn.entities
    pending = turn.context.get("pending") or {}
    number = entities.order_number or (pending.get("number") if pending.get("kind") == "order" else None)
    email = entities.email
    if turn.customer is not None and not email:
        if number:
            order = selectors.order_of_customer(user=turn.customer, number=number)
            return _order_reply(turn, order) if order else _no_order()
        orders = selectors.recent_orders(user=turn.customer)
        if not orders:
            return Reply(_("You have no orders yet."), Intent.TRACK_ORDER)
        lines = [_order_line(order) for order in orders]
        return Reply(
            "\n".join([_("Your recent orders:"), *lines]),
            Intent.TRACK_ORDER,
            actions=[Action("link", _("All your orders"), url=reverse("orders:mine"))],
        )
    if not number:
        turn.context["pending"] = {"kind": "order"}
        return Reply(_("What is your order number? It is in your confirmation email."), Intent.TRACK_ORDER)
    if not email:
        turn.context["pending"] = {"kind": "order", "number": number}
        return Reply(_("And the email address you ordered with?"), Intent.TRACK_ORDER)
    turn.context.pop("pending", None)
    return _guest_lookup(turn, number, email)


def _guest_lookup(turn: Exchange, number: str, email: str) -> Reply:
    # Limited per client and per number: guessing emails for one number, or numbers from one
    # client, must not pay. A miss and a wrong email answer the same, so nothing tells whether
    # a number exists.
    keys = (f"assistant-order:{client_key(turn)}", f"assistant-order-number:{number.strip().upper()}")
    if any(ratelimit.is_limited(key, limit=ORDER_ATTEMPTS) for key in keys):
        return Reply(_("Too many attempts. Wait 15 minutes and try again."), Intent.TRACK_ORDER)
    order = selectors.order_for_guest(number=number, email=email)
    if order is None:
        for key in keys:
            ratelimit.record_attempt(key, period=ORDER_WINDOW)
        return _no_order()
    if turn.request is not None and hasattr(turn.request, "session"):
        from shop.orders.selectors import remember_guest_order

        remember_guest_order(turn.request, order)  # the order's page opens for them, as after the lookup page
    return _order_reply(turn, order)


def _no_order() -> Reply:
    return Reply(
        _("No order matches that number and email."), Intent.TRACK_ORDER, quick_replies=[_("Talk to a person")]
    )


def _order_line(order) -> str:
    # The date in the store's time zone and the shopper's language, the total as their money reads.
    return _("Order %(number)s of %(date)s, %(total)s: %(status)s") % {
        "number": order.number,
        "date": date_format(localtime(order.placed_at), "DATE_FORMAT"),
        "total": order.total_money.format(),
        "status": order.get_status_display(),
    }


def _order_reply(turn: Exchange, order) -> Reply:
    text = _order_line(order) + "."
    if getattr(order, "tracking_number", ""):
        text += " " + _("Tracking number: %(tracking)s.") % {"tracking": order.tracking_number}
    return Reply(
        text,
        Intent.TRACK_ORDER,
        actions=[Action("link", _("See the order"), url=reverse("orders:detail", kwargs={"number": order.number}))],
    )


# --- store questions and people ------------------------------------------------------------------


def faq(turn: Exchange) -> Reply:
    entry = FaqEntry.objects.filter(pk=turn.entities.faq_id, is_active=True).first() if turn.entities.faq_id else None
    if entry is None:
        return unknown(turn)
    # Checked again as it is shown: a row written before the field's validation, or by code, links nowhere unsafe.
    actions = [Action("link", _("Read more"), url=entry.link)] if entry.link and link_is_safe(entry.link) else []
    return Reply(entry.answer, Intent.FAQ, actions=actions)


def human(turn: Exchange) -> Reply:
    email = turn.customer.email if turn.customer is not None else turn.entities.email
    if not email and turn.conversation.channel == Channel.TELEGRAM:
        return open_ticket(turn, "")  # staff answer in the chat itself (tickets.py): no address needed
    if not email:
        turn.context["pending"] = {"kind": "ticket"}
        return Reply(_("Sure. What email address should our staff answer you at?"), Intent.HUMAN)
    return open_ticket(turn, email)


def open_ticket(turn: Exchange, email: str) -> Reply:
    turn.context.pop("pending", None)
    earlier = Turn.objects.filter(conversation=turn.conversation, role=Turn.Role.SHOPPER).order_by("-created_at", "-id")
    said = [t.text for t in reversed(earlier[:5])] + [turn.text]
    services.ticket_open(conversation=turn.conversation, email=email, question="\n".join(said))
    turn.conversation.handed_over = True
    if not email:
        return Reply(
            _("I've passed your conversation to our staff. Our team will answer here, usually within one working day."),
            Intent.HUMAN,
        )
    return Reply(
        _(
            "I've passed your conversation to our staff. They usually answer within one working day, "
            "by email to %(email)s and here in the chat."
        )
        % {"email": email},
        Intent.HUMAN,
    )
