"""The one seam between orders and payments (docs/architecture.md, "The payment gateway").

settings.SHOP_PAYMENT_GATEWAY names the gateway class, as SESSION_ENGINE names
the session backend; orders never import a provider. Another provider is one
class implementing PaymentGateway and one setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from shop.core.errors import ShopError
from shop.core.money import Money


class PaymentUnavailable(ShopError):
    status_code = 503
    code = "payment_unavailable"
    default_message = _("Payments are unavailable for a moment. Your order is saved: please try again in a minute.")


class RefundPending(ShopError):
    """The refund is recorded but the provider could not be reached: it is retried automatically."""

    status_code = 202
    code = "refund_pending"
    default_message = _(
        "The payment provider could not be reached. The refund is saved and will be sent automatically: "
        "do not refund again."
    )


class PaymentDeclined(ShopError):
    status_code = 402
    code = "card_declined"
    default_message = _("Your card was declined. Try another card; your order is kept.")


class InvalidPaymentMethod(ShopError):
    code = "invalid_payment_method"
    default_message = _("That payment method cannot be used.")


@dataclass(frozen=True)
class PaymentSession:
    """What a client needs to pay: the provider's client secret and intent id."""

    intent_id: str
    client_secret: str
    status: str


class PaymentGateway(Protocol):
    def create_payment(self, *, order) -> PaymentSession: ...

    def confirm_payment(self, *, order, payment_method: str) -> PaymentSession: ...

    def sync(self, *, order) -> None: ...

    def refund(self, *, order, amount: Money, actor=None, reason: str = "", cancel: bool = False) -> None:
        """Give money back; raises RefundPending when it is recorded but will only be sent later."""
        ...

    def cancel(self, *, order) -> None: ...


@cache
def _load(path: str) -> PaymentGateway:
    return import_string(path)()


def gateway() -> PaymentGateway:
    return _load(settings.SHOP_PAYMENT_GATEWAY)
