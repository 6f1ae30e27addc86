"""Discounts at checkout and after: claims, vetoes, releases, snapshots, allocation, and code guessing.

Every test goes through the real services (cart_code_apply, checkout_place,
order_cancel, orders_expire, order_record_refund) and asserts the database.
"""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db.models import ProtectedError, Sum
from django.utils import timezone

from marketing.discounts import services
from marketing.discounts.models import CartCode, DiscountCode, Promotion, Redemption
from shop.cart.models import Cart, CartLine
from shop.core.errors import Conflict, NotFound, RateLimited
from shop.core.money import Money
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order, OrderAdjustment, OrderStatus
from shop.orders.services import order_cancel, order_mark_paid, order_record_refund, orders_expire
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
ADDRESS = ShippingAddress(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")


def promotion(**fields) -> Promotion:
    fields.setdefault("name", "Offer")
    fields.setdefault("kind", Promotion.Kind.PERCENTAGE)
    fields.setdefault("value", D("10"))
    return Promotion.objects.create(**fields)


def code_for(promo: Promotion, code: str = "SAVE", max_uses: int | None = None) -> DiscountCode:
    return DiscountCode.objects.create(promotion=promo, code=code, max_uses=max_uses)


def product(price: str, stock: int = 100, **fields):
    return ProductFactory(price=D(price), stock=stock, **fields)


def cart_of(user, *items):
    """The customer's cart (one each, kept after an order) or a new guest cart, holding these items."""
    cart = Cart.objects.get_or_create(user=user)[0] if user is not None else CartFactory(user=None)
    for item, quantity in items:
        CartLineFactory(cart=cart, product=item, quantity=quantity)
    return cart


def apply_code(cart, code: str, customer, client_key: str = "claims-tests"):
    return services.cart_code_apply(cart=cart, code=code, customer=customer, client_key=client_key)


def place(cart, user, shipping_method: str = "standard") -> Order:
    order, created = checkout_place(
        cart=cart,
        user=user,
        email=user.email if user else "guest@example.org",
        address=ADDRESS,
        shipping_method=shipping_method,
    )
    assert created
    return order


def bought_with_code(user, code: str, price: str = "40.00", quantity: int = 1) -> Order:
    cart = cart_of(user, (product(price), quantity))
    apply_code(cart, code, user)
    return place(cart, user)


@pytest.fixture
def buyer(db):
    return UserFactory()


# -- claims ----------------------------------------------------------------------------------------------------


def test_checkout_claims_the_code_once_and_records_the_redemption(buyer):
    promo = promotion(name="Spring 25", value=D("25"), usage_limit=10)
    code = code_for(promo, "SPRING", max_uses=3)
    mug, plate = product("12.00", name="Mug"), product("30.00", name="Plate")
    cart = cart_of(buyer, (mug, 2), (plate, 1))
    apply_code(cart, "spring", buyer)

    order = place(cart, buyer)

    assert (order.subtotal, order.discount_total, order.shipping_total, order.total) == (
        D("54.00"),
        D("13.50"),
        D("5.00"),  # 40.50 after the discount: under the free-shipping threshold
        D("45.50"),
    )
    assert {line.name: line.discount for line in order.lines.all()} == {"Mug": D("6.00"), "Plate": D("7.50")}
    adjustment = order.adjustments.get(kind="discount")
    assert (adjustment.label, adjustment.amount, adjustment.source, adjustment.reference) == (
        "Spring 25 (SPRING)",
        D("-13.50"),
        "discounts",
        f"{promo.pk}|SPRING",
    )
    redemption = Redemption.objects.get()
    assert (redemption.order, redemption.promotion, redemption.code, redemption.customer) == (order, promo, code, buyer)
    assert (redemption.amount, redemption.currency, redemption.status) == (D("13.50"), "USD", "active")
    promo.refresh_from_db()
    code.refresh_from_db()
    assert (promo.times_used, code.times_used) == (1, 1)
    assert not CartCode.objects.filter(cart=cart).exists(), "the code leaves the cart with the order"


def test_a_guest_can_check_out_with_an_unrestricted_code():
    code_for(promotion(name="Five off", kind="fixed", value=D("5")), "FIVE")
    cart = cart_of(None, (product("20.00"), 1))
    apply_code(cart, "FIVE", None)

    order = place(cart, None)

    assert order.discount_total == D("5.00")
    assert Redemption.objects.get().customer is None


def test_automatic_promotions_are_claimed_too_and_stop_at_their_limit(buyer):
    promo = promotion(name="First two", kind="fixed", value=D("3"), requires_code=False, usage_limit=2)

    for _ in range(2):
        place(cart_of(UserFactory(), (product("20.00"), 1)), None)
    third = place(cart_of(UserFactory(), (product("20.00"), 1)), None)

    promo.refresh_from_db()
    assert promo.times_used == 2
    assert Redemption.objects.filter(promotion=promo).count() == 2
    assert third.discount_total == 0 and not third.adjustments.filter(kind="discount").exists()


def test_a_code_and_an_automatic_offer_are_both_claimed(buyer):
    auto = promotion(name="Auto", kind="fixed", value=D("2"), requires_code=False, priority=5)
    coded = promotion(name="Coded", kind="fixed", value=D("3"))
    code_for(coded, "THREE")

    order = bought_with_code(buyer, "THREE", price="20.00")

    assert list(order.adjustments.filter(kind="discount").values_list("label", "amount")) == [
        ("Auto", D("-2.00")),
        ("Coded (THREE)", D("-3.00")),
    ]
    assert set(Redemption.objects.values_list("promotion_id", "code__code")) == {(auto.pk, None), (coded.pk, "THREE")}


def test_a_code_for_an_automatic_promotion_is_claimed_once(buyer):
    promo = promotion(name="Everyone", kind="fixed", value=D("4"), requires_code=False)
    code_for(promo, "EVERYONE")

    order = bought_with_code(buyer, "EVERYONE", price="20.00")

    assert order.discount_total == D("4.00")
    assert Redemption.objects.get().code.code == "EVERYONE"
    promo.refresh_from_db()
    assert promo.times_used == 1


def test_a_free_shipping_code_claims_the_shipping_it_saved(buyer):
    promo = promotion(name="Free delivery", kind="free_shipping", value=D("0"))
    code_for(promo, "SHIPFREE")
    cart = cart_of(buyer, (product("20.00"), 1))
    apply_code(cart, "SHIPFREE", buyer)

    order = place(cart, buyer, shipping_method="express")

    assert (order.shipping_total, order.discount_total, order.total) == (D("15.00"), D("15.00"), D("20.00"))
    assert order.adjustments.get(source="discounts-shipping").label == "Free delivery (SHIPFREE)"
    assert Redemption.objects.get().amount == D("15.00")
    assert sum(line.discount for line in order.lines.all()) == 0, "shipping is not a line's discount"


def test_a_free_shipping_code_does_not_block_an_order_whose_shipping_is_already_free(buyer):
    code_for(promotion(name="Free delivery", kind="free_shipping"), "SHIPFREE")
    cart = cart_of(buyer, (product("60.00"), 1))  # standard shipping is free over $50
    apply_code(cart, "SHIPFREE", buyer)

    order = place(cart, buyer)

    assert (order.shipping_total, order.discount_total, order.total) == (D("0.00"), D("0.00"), D("60.00"))
    assert not Redemption.objects.exists(), "a code that saved nothing is not used up"


# -- vetoes ----------------------------------------------------------------------------------------------------


def test_checkout_is_vetoed_when_the_promotion_was_used_up_meanwhile(buyer):
    promo = promotion(name="Last one", usage_limit=1)
    code_for(promo, "LAST")
    lamp = product("20.00", stock=5)
    cart = cart_of(buyer, (lamp, 2))
    apply_code(cart, "LAST", buyer)
    Promotion.objects.filter(pk=promo.pk).update(times_used=1)

    with pytest.raises(Conflict, match="The code LAST no longer applies to your order") as caught:
        place(cart, buyer)

    assert caught.value.status_code == 409 and caught.value.field == "code"
    lamp.refresh_from_db()
    assert lamp.stock == 5
    assert not Order.objects.exists() and not Redemption.objects.exists()
    assert CartLine.objects.filter(cart=cart).count() == 1, "the cart is kept for the customer to decide"
    assert CartCode.objects.filter(cart=cart).exists()


def test_checkout_is_vetoed_when_the_code_expired_meanwhile(buyer):
    promo = promotion(name="Flash")
    code_for(promo, "FLASH")
    cart = cart_of(buyer, (product("20.00"), 1))
    apply_code(cart, "FLASH", buyer)
    Promotion.objects.filter(pk=promo.pk).update(ends_at=timezone.now() - dt.timedelta(seconds=1))

    with pytest.raises(Conflict, match="no longer applies"):
        place(cart, buyer)
    assert not Order.objects.exists()


def test_a_customer_uses_a_once_per_customer_code_once(buyer):
    promo = promotion(name="One each", usage_limit_per_customer=1)
    code_for(promo, "ONEEACH")
    bought_with_code(buyer, "ONEEACH")
    second_cart = cart_of(buyer, (product("10.00"), 1))

    with pytest.raises(services.CodeNotApplicable, match="You have already used this code."):
        apply_code(second_cart, "ONEEACH", buyer)
    bought_with_code(UserFactory(), "ONEEACH")  # someone else still may
    assert Redemption.objects.filter(promotion=promo).count() == 2


def test_the_claim_refuses_a_second_use_by_the_same_customer():
    # The engine's check runs on pricing; the claim re-counts under the promotion's lock.
    buyer = UserFactory()
    code_for(promotion(name="One each", usage_limit_per_customer=1), "SAVE")
    earlier = bought_with_code(buyer, "SAVE")
    adjustment = earlier.adjustments.get(kind="discount")

    with pytest.raises(Conflict, match="You have already used “One each”."):
        services.redemptions_claim(order=earlier, adjustments=[_as_adjustment(adjustment)], customer=buyer, cart=None)


def _as_adjustment(row: OrderAdjustment):
    from shop.cart.pricing import Adjustment

    return Adjustment(
        label=row.label, amount=Money(row.amount, "USD"), source=row.source, kind=row.kind, reference=row.reference
    )


def test_a_single_use_code_cannot_be_claimed_twice(buyer):
    promo = promotion(name="Once")
    code_for(promo, "ONCE", max_uses=1)
    order = bought_with_code(buyer, "ONCE")
    adjustment = _as_adjustment(order.adjustments.get(kind="discount"))

    with pytest.raises(Conflict, match="The code ONCE has already been used."):
        services.redemptions_claim(order=order, adjustments=[adjustment], customer=buyer, cart=None)
    assert DiscountCode.objects.get(code="ONCE").times_used == 1


def test_the_usage_limit_is_also_guarded_by_the_database(buyer):
    from django.db import IntegrityError, transaction

    promo = promotion(name="Capped", usage_limit=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Promotion.objects.filter(pk=promo.pk).update(times_used=2)
    code = code_for(promo, "CAPPED", max_uses=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        DiscountCode.objects.filter(pk=code.pk).update(times_used=2)


# -- releases --------------------------------------------------------------------------------------------------


def _used(promo: Promotion, code: str) -> tuple[int, int]:
    promo.refresh_from_db()
    return promo.times_used, DiscountCode.objects.get(code=code).times_used


def test_cancelling_an_unpaid_order_gives_the_code_back(buyer, django_capture_on_commit_callbacks):
    promo = promotion(name="Once", usage_limit=1)
    code_for(promo, "ONCE", max_uses=1)
    order = bought_with_code(buyer, "ONCE")
    assert _used(promo, "ONCE") == (1, 1)

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(order_id=order.pk)

    assert _used(promo, "ONCE") == (0, 0)
    redemption = Redemption.objects.get()
    assert redemption.status == Redemption.Status.RELEASED and redemption.released_at is not None
    bought_with_code(UserFactory(), "ONCE")  # the single-use code works again
    assert _used(promo, "ONCE") == (1, 1)


def test_an_expired_order_gives_the_code_back(buyer, django_capture_on_commit_callbacks):
    promo = promotion(name="Once", usage_limit=1, usage_limit_per_customer=1)
    code_for(promo, "ONCE", max_uses=1)
    order = bought_with_code(buyer, "ONCE")

    with django_capture_on_commit_callbacks(execute=True):
        assert orders_expire(now=timezone.now() + dt.timedelta(days=1)) == 1

    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert _used(promo, "ONCE") == (0, 0)
    assert Redemption.objects.get().status == Redemption.Status.RELEASED
    bought_with_code(buyer, "ONCE")  # the per-customer use came back too


def test_a_refund_does_not_give_the_code_back(buyer, django_capture_on_commit_callbacks):
    promo = promotion(name="Once", usage_limit=1)
    code_for(promo, "ONCE", max_uses=1)
    order = bought_with_code(buyer, "ONCE")

    with django_capture_on_commit_callbacks(execute=True):
        order_mark_paid(order_id=order.pk, amount=Money(order.total, order.currency), reference="pi_test")
    with django_capture_on_commit_callbacks(execute=True):
        order_record_refund(order_id=order.pk, amount=Money(order.total, order.currency), reference="re_test")

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert _used(promo, "ONCE") == (1, 1)
    assert Redemption.objects.get().status == Redemption.Status.ACTIVE
    with pytest.raises(services.CodeNotApplicable, match="This offer has been fully claimed."):
        apply_code(cart_of(UserFactory(), (product("10.00"), 1)), "ONCE", None)


def test_a_release_is_safe_to_repeat(buyer):
    promo = promotion(name="Shared")
    code_for(promo, "SHARED")
    first = bought_with_code(buyer, "SHARED")
    bought_with_code(UserFactory(), "SHARED")

    assert services.redemptions_release(order_id=first.pk) == 1
    assert services.redemptions_release(order_id=first.pk) == 0
    assert _used(promo, "SHARED") == (1, 1)


# -- snapshots -------------------------------------------------------------------------------------------------


def test_editing_a_promotion_later_does_not_change_a_past_order(buyer):
    promo = promotion(name="Summer 10", kind="fixed", value=D("10"))
    code_for(promo, "SUMMER")
    order = bought_with_code(buyer, "SUMMER", price="25.00")
    before = (order.subtotal, order.discount_total, order.shipping_total, order.total)
    line_discounts = list(order.lines.values_list("discount", flat=True))

    Promotion.objects.filter(pk=promo.pk).update(name="Renamed", value=D("20"), is_active=False)
    DiscountCode.objects.filter(code="SUMMER").update(code="OTHER")

    order.refresh_from_db()
    assert (
        (order.subtotal, order.discount_total, order.shipping_total, order.total)
        == before
        == (
            D("25.00"),
            D("10.00"),
            D("5.00"),
            D("20.00"),
        )
    )
    assert list(order.lines.values_list("discount", flat=True)) == line_discounts == [D("10.00")]
    assert order.adjustments.get(kind="discount").label == "Summer 10 (SUMMER)"


def test_a_promotion_used_by_orders_cannot_be_deleted_so_their_history_stays(buyer):
    promo = promotion(name="Summer 10", kind="fixed", value=D("10"))
    code_for(promo, "SUMMER")
    order = bought_with_code(buyer, "SUMMER", price="25.00")

    with pytest.raises(ProtectedError):
        promo.delete()

    order.refresh_from_db()
    assert order.total == D("20.00")
    assert order.adjustments.get(kind="discount").label == "Summer 10 (SUMMER)"
    assert Redemption.objects.filter(order=order).exists()


def test_an_unused_promotion_can_be_deleted_and_carts_lose_its_code(buyer):
    promo = promotion(name="Never used")
    code_for(promo, "UNUSED")
    cart = cart_of(buyer, (product("10.00"), 1))
    apply_code(cart, "UNUSED", buyer)

    promo.delete()

    assert services.cart_code(cart) is None
    assert place(cart, buyer).discount_total == 0


# -- allocation at checkout ------------------------------------------------------------------------------------


def test_order_line_discounts_add_up_to_the_order_discount_over_many_random_carts():
    rng = random.Random(1234)
    fixed = promotion(name="Fixed", kind="fixed", value=D("17.77"), requires_code=False, priority=2)
    percent = promotion(name="Percent", value=D("12.5"))
    code_for(percent, "PCT")
    capped = promotion(name="Capped", value=D("35"), max_discount=D("9.99"))
    code_for(capped, "CAP")
    for n in range(30):
        Promotion.objects.filter(pk=fixed.pk).update(value=D(rng.randint(1, 9000)).scaleb(-2))
        user = UserFactory()
        items = [
            (product(str(D(rng.randint(1, 9999)).scaleb(-2))), rng.randint(1, 4)) for _ in range(rng.randint(1, 6))
        ]
        cart = cart_of(user, *items)
        if n % 3:
            try:
                apply_code(cart, rng.choice(["PCT", "CAP"]), user)
            except services.CodeNotApplicable:
                pass  # the fixed offer already took the whole cart

        order = place(cart, user, shipping_method=rng.choice(["standard", "express"]))

        lines = list(order.lines.all())
        merchandise = -order.adjustments.filter(kind="discount").aggregate(s=Sum("amount"))["s"]
        assert sum(line.discount for line in lines) == merchandise == order.discount_total, n
        assert all(0 <= line.discount <= line.subtotal for line in lines), n
        assert order.subtotal == sum(line.subtotal for line in lines)
        assert order.total == order.subtotal - order.discount_total + order.shipping_total >= 0, n
        assert set(Redemption.objects.filter(order=order).values_list("amount", flat=True)) <= {
            -a for a in order.adjustments.filter(kind="discount").values_list("amount", flat=True)
        }


def test_a_yen_order_is_discounted_in_whole_yen(buyer, settings):
    settings.SHOP_CURRENCY = "JPY"
    settings.SHOP_SHIPPING_METHODS = {"standard": {"label": "Standard", "price": "500", "free_over": "10000"}}
    code_for(promotion(name="7%", value=D("7")), "SEVEN")
    promotion(name="¥333", kind="fixed", value=D("333"), requires_code=False)
    cart = cart_of(buyer, (product("1234"), 3), (product("999"), 1), (product("55"), 2))
    apply_code(cart, "SEVEN", buyer)

    order = place(cart, buyer)

    assert order.currency == "JPY"
    amounts = [order.subtotal, order.discount_total, order.shipping_total, order.total]
    amounts += [line.discount for line in order.lines.all()]
    amounts += list(order.adjustments.values_list("amount", flat=True))
    assert all(amount == amount.to_integral_value() for amount in amounts), amounts
    # 7% per unit, as product pages price one: 1234 -> 86.38 -> 86, ×3 = 258; 999 -> 69.93 -> 70;
    # 55 -> 3.85 -> 4, ×2 = 8; then ¥333 over what is left.
    assert order.discount_total == D("669")
    assert sum(line.discount for line in order.lines.all()) == D("669")
    assert order.total == D("4811") - D("669") + D("500")
    assert Redemption.objects.get(code__code="SEVEN").currency == "JPY"


# -- guessing codes --------------------------------------------------------------------------------------------


def test_wrong_codes_are_rate_limited_per_client_with_a_clear_429(buyer, settings):
    settings.DISCOUNT_CODE_ATTEMPTS = (3, 900)
    code_for(promotion(name="Real"), "REAL")
    cart = cart_of(buyer, (product("10.00"), 1))

    for guess in ("AAAA", "BBBB", " cccc "):
        with pytest.raises(NotFound) as caught:
            apply_code(cart, guess, buyer, client_key="203.0.113.9")
    assert caught.value.message == "We don't know the code “cccc”. Check its spelling."
    assert caught.value.status_code == 404

    with pytest.raises(RateLimited) as caught:
        apply_code(cart, "REAL", buyer, client_key="203.0.113.9")  # even a right code, once limited
    assert caught.value.status_code == 429
    assert caught.value.message == "Too many wrong codes. Wait 15 minutes and try again."
    assert caught.value.field == "code"
    assert not CartCode.objects.exists()

    assert apply_code(cart, "REAL", buyer, client_key="198.51.100.7").code == "REAL"  # another client is not


def test_known_codes_that_do_not_apply_are_not_counted_as_guesses(buyer, settings):
    settings.DISCOUNT_CODE_ATTEMPTS = (2, 900)
    code_for(promotion(name="Big", min_subtotal=D("100")), "BIG")
    code_for(promotion(name="Real"), "REAL")
    cart = cart_of(buyer, (product("10.00"), 1))

    for _ in range(5):
        with pytest.raises(services.CodeNotApplicable):
            apply_code(cart, "BIG", buyer)

    assert apply_code(cart, "REAL", buyer).code == "REAL"
