"""Discount claims under real concurrency: threads, each on its own database connection, released at once.

Each buyer has their own product, so the checkouts do not queue on one stock
row: the only thing they fight over is the promotion or the code. Marked `race`:
skipped on SQLite, which serialises transactions; CI runs them on PostgreSQL:
    .ci/with-postgres.sh .venv/bin/pytest tests/marketing/discounts/test_races.py -p no:xdist --require-races
"""

from decimal import Decimal

import pytest

from marketing.discounts import services
from marketing.discounts.models import CartCode, DiscountCode, Promotion, Redemption
from shop.cart.models import CartLine
from shop.core.errors import Conflict
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order
from tests.concurrency import run_at_once
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

D = Decimal
ADDRESS = ShippingAddress(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")
REFUSALS = (
    "no longer applies to your order",  # the pricing inside the checkout already saw the code used up
    "has just been fully claimed",  # it priced before another committed; the claim under the lock refused
    "has already been used",
)


def buyer_with_code(code: str, price: str = "30.00"):
    """A customer whose cart holds one unit of their own product and the code."""
    user = UserFactory()
    cart = CartFactory(user=user)
    product = ProductFactory(price=D(price), stock=3)
    CartLineFactory(cart=cart, product=product, quantity=1)
    services.cart_code_apply(cart=cart, code=code, customer=user, client_key=f"race-{user.pk}")
    return user, cart, product


def checkout(user, cart):
    return lambda: checkout_place(cart=cart, user=user, email=user.email, address=ADDRESS, shipping_method="standard")


def split(results):
    orders = [r[0] for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, Conflict)]
    unexpected = [r for r in results if not isinstance(r, tuple | Conflict)]
    assert not unexpected, f"unexpected exceptions in the threads: {unexpected!r}"
    for conflict in refused:
        assert conflict.field == "code" and conflict.status_code == 409
        assert any(text in str(conflict.message) for text in REFUSALS), conflict.message
    return orders, refused


@pytest.mark.parametrize("limited", ["promotion usage_limit=5", "shared code max_uses=5"])
def test_20_customers_racing_for_5_uses_make_exactly_5_discounted_orders(limited):
    by_promotion = limited.startswith("promotion")
    promotion = Promotion.objects.create(
        name="First five", kind="fixed", value=D("10"), usage_limit=5 if by_promotion else None
    )
    code = DiscountCode.objects.create(promotion=promotion, code="FIRST5", max_uses=None if by_promotion else 5)
    buyers = [buyer_with_code("first5") for _ in range(20)]

    orders, refused = split(
        run_at_once([checkout(user, cart) for user, cart, _product in buyers], exceptions_allowed=True)
    )

    assert (len(orders), len(refused)) == (5, 15)
    promotion.refresh_from_db()
    code.refresh_from_db()
    assert (promotion.times_used, code.times_used) == (5, 5)
    assert Order.objects.count() == 5
    for order in Order.objects.all():
        assert (order.discount_total, order.total) == (D("10.00"), D("25.00"))
        assert order.lines.get().discount == D("10.00")
    assert sorted(Redemption.objects.values_list("order_id", flat=True)) == sorted(o.pk for o in orders)
    assert set(Redemption.objects.values_list("customer_id", flat=True)) == {o.user_id for o in orders}
    winners = {o.user_id for o in orders}
    for user, cart, product in buyers:
        product.refresh_from_db()
        if user.pk in winners:
            assert product.stock == 2
            assert not CartLine.objects.filter(cart=cart).exists()
        else:
            assert product.stock == 3, "a vetoed checkout took no stock"
            assert CartLine.objects.filter(cart=cart).count() == 1, "the refused buyer keeps the cart"
            assert CartCode.objects.filter(cart=cart).exists(), "and the code, to see why it no longer applies"


def test_a_single_use_code_on_two_carts_makes_exactly_one_order():
    promotion = Promotion.objects.create(name="Gift", kind="percentage", value=D("50"))
    for round_ in range(5):
        code = DiscountCode.objects.create(promotion=promotion, code=f"GIFT{round_}", max_uses=1)
        buyers = [buyer_with_code(code.code) for _ in range(2)]

        orders, refused = split(
            run_at_once([checkout(user, cart) for user, cart, _product in buyers], exceptions_allowed=True)
        )

        assert (len(orders), len(refused)) == (1, 1), round_
        code.refresh_from_db()
        assert code.times_used == 1
        assert Redemption.objects.get(code=code).order == orders[0]
        assert orders[0].discount_total == D("15.00")
    promotion.refresh_from_db()
    assert promotion.times_used == 5
    assert Order.objects.count() == 5
