"""One pass through the seam: a code on the cart prices the cart, and checkout claims it once."""

from decimal import Decimal

import pytest

from marketing.discounts import services
from marketing.discounts.models import DiscountCode, Promotion, Redemption
from shop.cart.pricing import price_cart
from shop.core.errors import Conflict
from shop.orders.checkout import ShippingAddress, checkout_place
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
ADDRESS = ShippingAddress(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")


def test_it_discounts_the_cart_and_claims_a_single_use_code_once():
    promotion = Promotion.objects.create(name="Yalda 50", kind="percentage", value=Decimal("50"))
    DiscountCode.objects.create(promotion=promotion, code="yalda50", max_uses=1)
    buyer, second = UserFactory(), UserFactory()
    cart = CartFactory(user=buyer)
    line = CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("19.99"), stock=5), quantity=3)

    services.cart_code_apply(cart=cart, code=" Yalda50 ", customer=buyer, client_key="test")
    priced = price_cart(cart, customer=buyer)
    # Per unit, as a product page prices it: 50% of 19.99 is 10.00 off each (9.99 each), 30.00 for three.
    assert [(a.label, a.amount.amount) for a in priced.adjustments] == [("Yalda 50 (YALDA50)", Decimal("-30.00"))]
    assert priced.total.amount == Decimal("29.97")

    order, _created = checkout_place(
        cart=cart, user=buyer, email=buyer.email, address=ADDRESS, shipping_method="standard"
    )
    assert order.total == Decimal("34.97")  # 29.97 + 5.00 shipping (under the free threshold after discount)
    assert order.lines.get().discount == Decimal("30.00")
    assert Redemption.objects.get(order=order).amount == Decimal("30.00")
    assert DiscountCode.objects.get(code="YALDA50").times_used == 1

    other_cart = CartFactory(user=second)
    CartLineFactory(cart=other_cart, product=line.product, quantity=1)
    with pytest.raises(services.CodeNotApplicable, match="already been used"):
        services.cart_code_apply(cart=other_cart, code="YALDA50", customer=second, client_key="test")


def test_it_vetoes_the_order_when_the_code_was_used_meanwhile():
    promotion = Promotion.objects.create(name="One use", kind="fixed", value=Decimal("5"))
    code = DiscountCode.objects.create(promotion=promotion, code="ONCE", max_uses=1)
    buyer = UserFactory()
    cart = CartFactory(user=buyer)
    product = ProductFactory(price=Decimal("20.00"), stock=5)
    CartLineFactory(cart=cart, product=product, quantity=1)
    services.cart_code_apply(cart=cart, code="ONCE", customer=buyer, client_key="test")
    DiscountCode.objects.filter(pk=code.pk).update(times_used=1)  # someone else's checkout won

    with pytest.raises(Conflict, match="no longer applies"):
        checkout_place(cart=cart, user=buyer, email=buyer.email, address=ADDRESS, shipping_method="standard")
    product.refresh_from_db()
    assert product.stock == 5  # the whole order rolled back
    assert not Redemption.objects.exists()
