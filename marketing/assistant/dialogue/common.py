"""What every part of the dialogue shares: the exchange being answered, the menu, small talk."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from marketing.assistant.contract import Action, Entities, Intent, Reply, Understanding
from marketing.assistant.models import Conversation
from shop.core import ratelimit


@dataclass
class Exchange:
    """One reply in the making: who asks, in which conversation, what they said and what was read."""

    conversation: Conversation
    text: str
    understanding: Understanding
    user: object
    request: object

    @property
    def context(self) -> dict:
        return self.conversation.context

    @property
    def entities(self) -> Entities:
        return self.understanding.entities

    @property
    def customer(self):
        return self.user if self.user is not None and self.user.is_authenticated else None


# --- small talk and the fallback ---------------------------------------------------------------

MENU = (
    lambda: _("Find a product"),
    lambda: _("What's in my cart?"),
    lambda: _("Where is my order?"),
    lambda: _("Talk to a person"),
)


def menu() -> list[str]:
    return [str(item()) for item in MENU]


def unknown(turn: Exchange) -> Reply:
    return Reply(
        _(
            "Sorry, I didn't understand that. I can find products, show your cart, track an order "
            "or pass you to a person."
        ),
        Intent.UNKNOWN,
        quick_replies=menu(),
    )


def greet(turn: Exchange) -> Reply:
    return Reply(_("Hello! What are you looking for today?"), Intent.GREET, quick_replies=menu())


def thanks(turn: Exchange) -> Reply:
    return Reply(_("You're welcome! Anything else?"), Intent.THANKS, quick_replies=menu())


def goodbye(turn: Exchange) -> Reply:
    turn.context.pop("pending", None)
    return Reply(_("Goodbye, and thank you for visiting!"), Intent.GOODBYE)


def help_(turn: Exchange) -> Reply:
    return Reply(
        _(
            "I can find products (“red dresses under 50”), tell you their price and stock, add them to your "
            "cart, apply a discount code, show your points, track an order, answer questions about shipping "
            "and returns, or pass you to a person."
        ),
        Intent.HELP,
        quick_replies=menu(),
    )


def client_key(turn: Exchange) -> str:
    """Whose guesses count together (codes, order numbers): the customer's, else the client's address."""
    if turn.customer is not None:
        return f"user:{turn.customer.pk}"
    address = ratelimit.client_ip(turn.request) if turn.request is not None else None
    return f"ip:{address}" if address else f"conversation:{turn.conversation.pk}"


def login_first(intent: str) -> Reply:
    return Reply(
        _("Log in to see and use your points."),
        intent,
        actions=[Action("link", _("Log in"), url=reverse("accounts:login"))],
    )
