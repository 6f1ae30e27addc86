"""Shared helpers for the loyalty tests: members with points, carts, checkouts, payments."""

import datetime as dt
from decimal import Decimal

from django.db.models import Sum
from django.test import TestCase
from django.utils import timezone

from loyalty import services
from loyalty.models import Account, LedgerEntry, Program
from loyalty.program import forget
from shop.cart.models import Cart
from shop.core.money import Money
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.services import order_mark_paid
from tests.factories import CartLineFactory, ProductFactory

D = Decimal
ADDRESS = ShippingAddress(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")
OTHER_ADDRESS = ShippingAddress(name="Bo", line1="9 Elm Road", city="Leeds", postal_code="LS1 4AP", country="GB")


def committed():
    """Run what the block schedules with transaction.on_commit (signals, emails) when it ends, as a
    real commit would: the tests run inside a transaction that is rolled back."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def rules(**fields) -> Program:
    """Change the program's rules for a test."""
    program, _ = Program.objects.get_or_create(pk=1)
    for name, value in fields.items():
        setattr(program, name, value)
    program.save()
    forget()
    return program


def member_with(points: int):
    """A customer holding `points` usable now, under a running program that redeems from 100 points
    (the member of the cart's and checkout's query-count and kept-cart tests)."""
    from tests.factories import UserFactory

    rules(is_active=True, min_redeem_points=100)
    user = UserFactory()
    give(user, points)
    return user


def give(user, points: int, *, days_ago: int = 0, note: str = "test") -> LedgerEntry:
    """Points usable now, as a staff adjustment made `days_ago` (its expiry counts from then)."""
    from tests.factories import StaffFactory

    staff = StaffFactory()
    now = timezone.now() - dt.timedelta(days=days_ago)
    return services.points_adjust(user=user, points=points, note=note, actor=staff, now=now)


def cart_with(user, price: str = "40.00", quantity: int = 1, stock: int = 100):
    cart = Cart.objects.get_or_create(user=user)[0]
    CartLineFactory(cart=cart, product=ProductFactory(price=D(price), stock=stock), quantity=quantity)
    return cart


def place(user, cart, *, shipping_method="standard", address=ADDRESS, email=None):
    with committed():
        order, _created = checkout_place(
            cart=cart, user=user, email=email or user.email, address=address, shipping_method=shipping_method
        )
    return order


def pay(order):
    with committed():
        order, _changed = order_mark_paid(
            order_id=order.pk, amount=Money(order.total, order.currency), reference="pi_x"
        )
    return order


def ledger_sum(user) -> int:
    return LedgerEntry.objects.filter(account_id=user.pk).aggregate(n=Sum("points"))["n"] or 0


def balance(user) -> int:
    account = Account.objects.filter(pk=user.pk).first()
    return account.balance if account else 0
