import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from shop.cart import services
from shop.cart.models import Cart, CartLine
from shop.cart.pricing import Adjustment, AdjustmentKind, price_cart, price_lines
from shop.cart.tasks import purge_stale_carts
from shop.core.errors import InsufficientStock, NotFound, ProductUnavailable, ShopError
from shop.core.money import Money
from tests.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

HERE = "tests.shop.cart.test_services"


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


# Test adjusters, named in settings.SHOP_PRICE_ADJUSTERS by dotted path.


class TenPercentOff:
    """A discount of a tenth of the subtotal, unrounded (the pipeline rounds it)."""

    def adjust(self, priced, context):
        return [Adjustment("10% off", -(priced.subtotal * Decimal("0.1")), "test", AdjustmentKind.DISCOUNT, "TEN")]

    def commit(self, order, adjustments, context):
        pass


class FlatShipping:
    def adjust(self, priced, context):
        return [Adjustment("Shipping", usd("4.99"), "test", AdjustmentKind.SHIPPING)]

    def commit(self, order, adjustments, context):
        pass


class HugeDiscount:
    def adjust(self, priced, context):
        return [Adjustment("Gift card", usd("-1000"), "test", AdjustmentKind.DISCOUNT)]

    def commit(self, order, adjustments, context):
        pass


class SeesTheCustomer:
    seen = []

    def adjust(self, priced, context):
        SeesTheCustomer.seen.append((context.cart, context.customer, priced.subtotal))
        return []

    def commit(self, order, adjustments, context):
        pass


@pytest.fixture
def shirt():
    return ProductFactory(name="Shirt", price=Decimal("25.00"), stock=5)


@pytest.fixture
def cart(customer):
    return CartFactory(user=customer)


# cart_add / cart_set_quantity / cart_remove


def test_it_adds_a_line_then_adds_to_it(cart, shirt):
    services.cart_add(cart=cart, product=shirt, quantity=2)
    line = services.cart_add(cart=cart, product=shirt, quantity=1)

    line.refresh_from_db()
    assert line.quantity == 3
    assert cart.lines.count() == 1


@pytest.mark.parametrize("quantity", [0, -1, "2", 1.0, True, 1000])
def test_it_refuses_a_quantity_that_is_not_a_whole_number_from_1_to_999(cart, shirt, quantity):
    with pytest.raises(ShopError):
        services.cart_add(cart=cart, product=shirt, quantity=quantity)
    assert not CartLine.objects.exists()


def test_it_refuses_to_exceed_the_stock(cart, shirt):
    services.cart_add(cart=cart, product=shirt, quantity=4)

    with pytest.raises(InsufficientStock) as excinfo:
        services.cart_add(cart=cart, product=shirt, quantity=2)

    assert excinfo.value.status_code == 409
    assert cart.lines.get().quantity == 4


def test_it_refuses_an_inactive_product(cart):
    product = ProductFactory(is_active=False)

    with pytest.raises(ProductUnavailable):
        services.cart_add(cart=cart, product=product, quantity=1)
    assert not CartLine.objects.exists()


def test_it_sets_a_quantity(cart, shirt):
    line = services.cart_add(cart=cart, product=shirt, quantity=1)

    services.cart_set_quantity(cart=cart, line_id=line.pk, quantity=5)

    line.refresh_from_db()
    assert line.quantity == 5


def test_it_refuses_to_touch_a_line_of_another_cart(cart, shirt, stranger):
    other_line = CartLineFactory(cart__user=stranger, product=shirt, quantity=2)

    with pytest.raises(NotFound):
        services.cart_set_quantity(cart=cart, line_id=other_line.pk, quantity=1)
    with pytest.raises(NotFound):
        services.cart_remove(cart=cart, line_id=other_line.pk)

    other_line.refresh_from_db()
    assert other_line.quantity == 2


def test_it_removes_a_line(cart, shirt):
    line = services.cart_add(cart=cart, product=shirt, quantity=1)

    services.cart_remove(cart=cart, line_id=line.pk)

    assert not CartLine.objects.exists()
    assert Cart.objects.filter(pk=cart.pk).exists()


def test_it_touches_the_cart_when_it_changes(cart, shirt):
    old = timezone.now() - dt.timedelta(days=5)
    Cart.objects.filter(pk=cart.pk).update(updated_at=old)

    services.cart_add(cart=cart, product=shirt, quantity=1)

    cart.refresh_from_db()
    assert cart.updated_at > old


# cart_merge


def test_it_merges_quantities_capped_at_the_stock(customer, shirt):
    CartLineFactory(cart__user=customer, product=shirt, quantity=3)
    source = CartFactory(user=None)
    CartLineFactory(cart=source, product=shirt, quantity=4)

    notes = services.cart_merge(source=source, user=customer)

    assert customer.cart.lines.get().quantity == 5
    assert any("quantity lowered to 5" in note for note in notes)
    assert not Cart.objects.filter(pk=source.pk).exists()


def test_it_merges_into_a_new_cart_when_the_customer_has_none(customer, shirt):
    source = CartFactory(user=None)
    CartLineFactory(cart=source, product=shirt, quantity=2)

    notes = services.cart_merge(source=source, user=customer)

    assert Cart.objects.get().user == customer
    assert customer.cart.lines.get().quantity == 2
    assert notes == ["The products you picked before logging in are now in your cart."]


def test_it_merges_an_empty_cart_silently(customer):
    source = CartFactory(user=None)

    assert services.cart_merge(source=source, user=customer) == []
    assert not Cart.objects.filter(pk=source.pk).exists()


def test_it_merges_from_an_api_cart_token_but_never_from_a_customers_cart(customer, stranger, shirt):
    strangers = CartLineFactory(cart__user=stranger, product=shirt, quantity=1).cart

    assert services.cart_merge_from_token(user=customer, token=str(strangers.token)) == []
    assert services.cart_merge_from_token(user=customer, token="not-a-uuid") == []
    assert Cart.objects.filter(pk=strangers.pk, user=stranger).exists()
    assert not Cart.objects.filter(user=customer).exists()


# Pricing


def test_it_prices_each_line_and_the_subtotal(cart):
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("19.99")), quantity=3)
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("0.10")), quantity=7)

    priced = price_cart(cart)

    assert [line.total for line in priced.lines] == [usd("59.97"), usd("0.70")]
    assert priced.subtotal == usd("60.67")
    assert priced.total == usd("60.67")
    assert str(priced.total.amount) == "60.67"
    assert priced.item_count == 10
    assert priced.adjustments == []


def test_it_prices_a_missing_cart_as_empty():
    priced = price_cart(None)

    assert priced.is_empty
    assert priced.total == Money.zero("USD")


def test_it_rounds_each_line_to_the_minor_unit(settings):
    settings.SHOP_CURRENCY = "JPY"
    product = ProductFactory(price=Decimal("100.50"))
    line = CartLine(product=product, variant=product.variants.get(), quantity=3)

    priced = price_lines([line])

    assert priced.currency == "JPY"
    assert priced.lines[0].total == Money(Decimal("302"), "JPY")  # 301.50 rounds half up
    assert priced.subtotal == Money(Decimal("302"), "JPY")


def test_it_applies_the_configured_adjusters_in_order(settings, cart):
    settings.SHOP_PRICE_ADJUSTERS = [f"{HERE}.TenPercentOff", f"{HERE}.FlatShipping"]
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("33.33")), quantity=1)

    priced = price_cart(cart, customer=cart.user)

    assert [a.label for a in priced.adjustments] == ["10% off", "Shipping"]
    # -3.333 is rounded half up to the cent where it is made.
    assert priced.adjustments[0].amount == usd("-3.33")
    assert str(priced.adjustments[0].amount.amount) == "-3.33"
    assert priced.adjustments[0].reference == "TEN"
    assert priced.total == usd("34.99")


def test_it_passes_the_cart_and_customer_to_adjusters(settings, cart, customer):
    settings.SHOP_PRICE_ADJUSTERS = [f"{HERE}.SeesTheCustomer"]
    SeesTheCustomer.seen.clear()
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("5.00")), quantity=2)

    price_cart(cart, customer=customer)

    assert SeesTheCustomer.seen == [(cart, customer, usd("10.00"))]


def test_it_never_lets_the_total_go_below_zero(settings, cart):
    settings.SHOP_PRICE_ADJUSTERS = [f"{HERE}.HugeDiscount"]
    CartLineFactory(cart=cart, product=ProductFactory(price=Decimal("12.00")), quantity=1)

    priced = price_cart(cart)

    assert priced.adjustments[0].amount == usd("-1000.00")
    assert priced.total == usd("0")
    assert priced.subtotal == usd("12.00")


def test_it_shows_adjustments_on_the_cart_page(settings, client, customer):
    settings.SHOP_PRICE_ADJUSTERS = [f"{HERE}.FlatShipping"]
    client.force_login(customer)
    CartLineFactory(cart__user=customer, product=ProductFactory(price=Decimal("10.00")), quantity=2)

    body = client.get("/cart/").content.decode()

    assert "Shipping" in body
    assert "$4.99" in body
    assert "$24.99" in body


# Purging stale anonymous carts


def test_it_purges_only_old_anonymous_carts(settings, customer):
    settings.SHOP_ANONYMOUS_CART_DAYS = 30
    long_ago = timezone.now() - dt.timedelta(days=31)
    stale = CartFactory(user=None)
    CartLineFactory(cart=stale)
    fresh = CartFactory(user=None)
    old_customer_cart = CartFactory(user=customer)
    Cart.objects.filter(pk__in=[stale.pk, old_customer_cart.pk]).update(updated_at=long_ago)
    Cart.objects.filter(pk=fresh.pk).update(updated_at=timezone.now() - dt.timedelta(days=29))

    deleted = purge_stale_carts.delay().get()

    assert deleted >= 1
    assert set(Cart.objects.values_list("pk", flat=True)) == {fresh.pk, old_customer_cart.pk}
    assert not CartLine.objects.filter(cart_id=stale.pk).exists()


def test_it_purges_nothing_twice(settings):
    stale = CartFactory(user=None)
    Cart.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - dt.timedelta(days=400))

    purge_stale_carts()

    assert purge_stale_carts() == 0
    assert not Cart.objects.exists()
