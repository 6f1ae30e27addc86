"""The discounts engine: kinds, scopes, exclusions, conditions, limits, codes, rounding and allocation.

Most tests price a real cart (shop.cart.pricing.price_cart runs the adjusters),
so they prove the rule where the customer sees it; the allocation property
tests call engine.compute directly over many random carts.
"""

import datetime as dt
import random
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from marketing.discounts import engine, segments, services
from marketing.discounts.models import CODE_ALPHABET, DiscountCode, Promotion, random_code
from shop.cart.pricing import AdjustmentKind, PricedCart, PricedLine, allocate, price_cart
from shop.core.errors import ShopError
from shop.core.money import Money
from shop.orders.models import Order, OrderStatus
from tests.factories import CartFactory, CartLineFactory, CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

D = Decimal
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


# -- helpers ---------------------------------------------------------------------------------------------------


def promotion(**fields) -> Promotion:
    """A promotion with sensible defaults; M2M fields (categories, products, ...) may be passed as lists."""
    fields.setdefault("name", "Offer")
    fields.setdefault("kind", Promotion.Kind.PERCENTAGE)
    fields.setdefault("value", D("10"))
    related = {
        name: fields.pop(name)
        for name in ("categories", "products", "excluded_products", "customers")
        if name in fields
    }
    made = Promotion.objects.create(**fields)
    for name, rows in related.items():
        getattr(made, name).set(rows)
    return made


def code_for(promo: Promotion, code: str = "SAVE", max_uses: int | None = None) -> DiscountCode:
    return DiscountCode.objects.create(promotion=promo, code=code, max_uses=max_uses)


def cart_of(user, *items):
    """A cart for `user` (None: anonymous) holding (product, quantity) items."""
    cart = CartFactory(user=user)
    for product, quantity in items:
        CartLineFactory(cart=cart, product=product, quantity=quantity)
    return cart


def product(price: str, **fields):
    return ProductFactory(price=D(price), stock=fields.pop("stock", 100), **fields)


def apply_code(cart, code: str, customer):
    return services.cart_code_apply(cart=cart, code=code, customer=customer, client_key="engine-tests")


def refusal(cart, code: str, customer) -> str:
    with pytest.raises(services.CodeNotApplicable) as caught:
        apply_code(cart, code, customer)
    return str(caught.value.message)


def verdict(promo, cart, customer, code=None, now=None) -> engine.Verdict:
    priced = price_cart(cart, customer=customer)
    return engine.check(promo, priced=priced, customer=customer, code=code, now=now)


def discounts(priced) -> list[tuple[str, Decimal]]:
    return [(a.label, a.amount.amount) for a in priced.adjustments if a.kind == AdjustmentKind.DISCOUNT]


def shares_by_product(priced) -> dict:
    """Each discount's allocations keyed by product name instead of cart line id."""
    names = {line.line_id: line.product.name for line in priced.lines}
    return [{names[line_id]: share for line_id, share in a.allocations} for a in priced.adjustments if a.allocations]


@pytest.fixture
def buyer(db):
    return UserFactory()


# -- kinds -----------------------------------------------------------------------------------------------------


def test_a_percentage_code_takes_that_percent_off_each_line_rounded_to_the_cent(buyer):
    promo = promotion(name="20% off", value=D("20"))
    code_for(promo, "TWENTY")
    scarf, hat = product("12.50", name="Scarf"), product("9.99", name="Hat")
    cart = cart_of(buyer, (scarf, 2), (hat, 1))

    apply_code(cart, "TWENTY", buyer)
    priced = price_cart(cart, customer=buyer)

    # 25.00 × 20% = 5.00; 9.99 × 20% = 1.998 -> 2.00
    assert discounts(priced) == [("20% off (TWENTY)", D("-7.00"))]
    assert shares_by_product(priced) == [{"Scarf": D("5.00"), "Hat": D("2.00")}]
    assert priced.total.amount == D("27.99")


def test_a_fixed_code_takes_the_amount_off_the_order(buyer):
    code_for(promotion(name="$10 off", kind="fixed", value=D("10")), "TENOFF")
    cart = cart_of(buyer, (product("30.00"), 1))

    apply_code(cart, "tenoff", buyer)
    priced = price_cart(cart, customer=buyer)

    assert discounts(priced) == [("$10 off (TENOFF)", D("-10.00"))]
    assert priced.total.amount == D("20.00")


def test_a_free_shipping_code_cancels_the_shipping_line(buyer):
    code_for(promotion(name="Free delivery", kind="free_shipping", value=D("0")), "SHIPFREE")
    cart = cart_of(buyer, (product("20.00"), 1))

    apply_code(cart, "SHIPFREE", buyer)
    priced = price_cart(cart, customer=buyer, shipping_method="standard")

    assert [(a.kind, a.amount.amount) for a in priced.adjustments] == [
        (AdjustmentKind.SHIPPING, D("5.00")),
        (AdjustmentKind.DISCOUNT, D("-5.00")),
    ]
    assert priced.total.amount == D("20.00")


def test_free_shipping_respects_its_maximum_discount(buyer):
    code_for(promotion(name="Shipping help", kind="free_shipping", max_discount=D("10.00")), "SHIP10")
    cart = cart_of(buyer, (product("20.00"), 1))
    apply_code(cart, "SHIP10", buyer)

    priced = price_cart(cart, customer=buyer, shipping_method="express")

    assert discounts(priced) == [("Shipping help (SHIP10)", D("-10.00"))]
    assert priced.total.amount == D("25.00")  # 20 + 15 express - 10


def test_buy_two_get_one_free_makes_the_cheapest_item_free(buyer):
    code_for(promotion(name="3 for 2", kind="bxgy", value=D("100"), buy_quantity=2, get_quantity=1), "THREE4TWO")
    cart = cart_of(
        buyer, (product("10.00", name="Big"), 1), (product("8.00", name="Mid"), 1), (product("6.00", name="Small"), 1)
    )

    apply_code(cart, "THREE4TWO", buyer)
    priced = price_cart(cart, customer=buyer)

    assert discounts(priced) == [("3 for 2 (THREE4TWO)", D("-6.00"))]
    assert shares_by_product(priced) == [{"Small": D("6.00")}]


def test_buy_one_get_one_half_off_discounts_the_cheaper_unit_of_each_pair(buyer):
    code_for(promotion(name="BOGO 50", kind="bxgy", value=D("50"), buy_quantity=1, get_quantity=1), "BOGO")
    # Units, dearest first: 10, 10 | 6.99, 6.99 | 3 (alone: no pair, no discount)
    cart = cart_of(buyer, (product("10.00", name="Lamp"), 2), (product("6.99", name="Bulb"), 2), (product("3.00"), 1))

    apply_code(cart, "BOGO", buyer)
    priced = price_cart(cart, customer=buyer)

    assert shares_by_product(priced) == [{"Lamp": D("5.00"), "Bulb": D("3.50")}]  # 6.99 × 50% = 3.495 -> 3.50
    assert discounts(priced) == [("BOGO 50 (BOGO)", D("-8.50"))]


def test_buy_x_get_y_says_how_many_more_items_are_needed(buyer):
    code_for(promotion(name="3 for 2", kind="bxgy", value=D("100"), buy_quantity=2, get_quantity=1), "THREE4TWO")
    cart = cart_of(buyer, (product("10.00"), 2))

    assert refusal(cart, "THREE4TWO", buyer) == "Buy 2 and get 1: add 1 more eligible item(s)."


# -- scope and exclusions --------------------------------------------------------------------------------------


def test_a_category_code_covers_its_sub_categories_and_nothing_else(buyer):
    clothing = CategoryFactory(name="Clothing")
    dresses = CategoryFactory(name="Dresses", parent=clothing)
    kitchen = CategoryFactory(name="Kitchen")
    code_for(promotion(name="Clothes 50", value=D("50"), scope="categories", categories=[clothing]), "CLOTHES")
    cart = cart_of(
        buyer,
        (product("40.00", name="Dress", category=dresses), 1),
        (product("20.00", name="Coat", category=clothing), 1),
        (product("30.00", name="Pan", category=kitchen), 1),
    )

    apply_code(cart, "CLOTHES", buyer)
    priced = price_cart(cart, customer=buyer)

    assert shares_by_product(priced) == [{"Dress": D("20.00"), "Coat": D("10.00")}]
    assert priced.total.amount == D("60.00")


def test_a_product_code_covers_only_the_chosen_products(buyer):
    mug, plate = product("12.00", name="Mug"), product("20.00", name="Plate")
    code_for(promotion(name="Mug deal", kind="fixed", value=D("5"), scope="products", products=[mug]), "MUG")
    cart = cart_of(buyer, (mug, 1), (plate, 1))

    apply_code(cart, "MUG", buyer)
    priced = price_cart(cart, customer=buyer)

    assert shares_by_product(priced) == [{"Mug": D("5.00")}]


def test_a_fixed_discount_on_chosen_products_stops_at_what_they_cost(buyer):
    mug, plate = product("3.00", name="Mug"), product("20.00", name="Plate")
    code_for(promotion(name="Mug deal", kind="fixed", value=D("5"), scope="products", products=[mug]), "MUG")
    cart = cart_of(buyer, (mug, 1), (plate, 1))

    apply_code(cart, "MUG", buyer)
    priced = price_cart(cart, customer=buyer)

    assert shares_by_product(priced) == [{"Mug": D("3.00")}]
    assert priced.total.amount == D("20.00")


def test_items_on_sale_and_excluded_products_get_no_discount(buyer):
    sale = product("10.00", name="Sale", compare_at_price=D("15.00"))
    excluded = product("10.00", name="Excluded")
    full = product("10.00", name="Full")
    code_for(promotion(name="10%", exclude_on_sale=True, excluded_products=[excluded]), "TEN")
    cart = cart_of(buyer, (sale, 1), (excluded, 1), (full, 1))

    apply_code(cart, "TEN", buyer)

    assert shares_by_product(price_cart(cart, customer=buyer)) == [{"Full": D("1.00")}]


def test_a_code_for_other_products_says_so(buyer):
    shoes = CategoryFactory(name="Shoes")
    code_for(promotion(name="Shoes", scope="categories", categories=[shoes]), "SHOES")
    cart = cart_of(buyer, (product("10.00"), 1), (product("10.00", compare_at_price=D("12.00"), category=shoes), 1))
    Promotion.objects.update(exclude_on_sale=True)  # the only shoe is on sale

    message = refusal(cart, "SHOES", buyer)

    assert message == "This code does not apply to the products in your cart."
    reason = verdict(Promotion.objects.get(), cart, buyer).reason
    assert reason == "no_matching_products"


# -- conditions ------------------------------------------------------------------------------------------------


def test_a_minimum_subtotal_says_how_much_more_to_spend(buyer):
    promo = promotion(name="Big basket", min_subtotal=D("50.00"))
    code_for(promo, "BIG")
    cart = cart_of(buyer, (product("44.99"), 1))

    assert refusal(cart, "BIG", buyer) == "Spend $5.01 more to use this code (minimum $50.00)."
    assert verdict(promo, cart, buyer).reason == "minimum_not_met"

    CartLineFactory(cart=cart, product=product("5.01"))
    apply_code(cart, "BIG", buyer)
    assert discounts(price_cart(cart, customer=buyer)) == [("Big basket (BIG)", D("-5.00"))]


def test_a_minimum_quantity_counts_only_eligible_items(buyer):
    socks = CategoryFactory(name="Socks")
    promo = promotion(name="Sock drawer", scope="categories", categories=[socks], min_quantity=3)
    code_for(promo, "SOCKS")
    cart = cart_of(buyer, (product("4.00", category=socks), 2), (product("30.00"), 5))

    assert refusal(cart, "SOCKS", buyer) == "Add 1 more eligible item(s) to use this code."
    assert verdict(promo, cart, buyer).reason == "minimum_quantity_not_met"


def test_an_inactive_promotion_is_no_longer_valid(buyer):
    code_for(promotion(name="Old", is_active=False), "OLD")
    cart = cart_of(buyer, (product("10.00"), 1))

    assert refusal(cart, "OLD", buyer) == "This code is no longer valid."


def test_the_validity_window_is_read_in_the_store_time_zone(buyer, settings):
    settings.TIME_ZONE = "America/New_York"
    # Midnight in New York on 1 March is 05:00 UTC.
    starts = dt.datetime(2030, 3, 1, 0, 0, tzinfo=NEW_YORK)
    ends = dt.datetime(2030, 3, 31, 18, 30, tzinfo=NEW_YORK)
    promo = promotion(name="March", starts_at=starts, ends_at=ends)
    cart = cart_of(buyer, (product("10.00"), 1))
    utc = dt.UTC

    early = verdict(promo, cart, buyer, now=dt.datetime(2030, 3, 1, 4, 59, tzinfo=utc))
    assert (early.reason, early.message) == ("not_started", "This code can be used from March 1, 2030, midnight.")
    assert verdict(promo, cart, buyer, now=dt.datetime(2030, 3, 1, 5, 0, tzinfo=utc)).ok
    assert verdict(promo, cart, buyer, now=dt.datetime(2030, 3, 31, 22, 29, tzinfo=utc)).ok
    late = verdict(promo, cart, buyer, now=dt.datetime(2030, 3, 31, 22, 30, tzinfo=utc))
    assert late.reason == "expired"
    assert late.message.startswith("This code expired on March 31, 2030, 6:30 p.m.")


def test_the_shopper_is_told_when_a_code_expired_or_has_not_started(buyer, settings):
    settings.TIME_ZONE = "America/New_York"
    now = timezone.now()
    code_for(promotion(name="Past", starts_at=now - dt.timedelta(days=9), ends_at=now - dt.timedelta(days=2)), "PAST")
    code_for(promotion(name="Future", starts_at=now + dt.timedelta(days=3)), "FUTURE")
    cart = cart_of(buyer, (product("10.00"), 1))

    assert refusal(cart, "PAST", buyer).startswith("This code expired on ")
    assert refusal(cart, "FUTURE", buyer).startswith("This code can be used from ")
    assert price_cart(cart, customer=buyer).adjustments == []


def test_a_first_order_code_refuses_a_customer_who_has_paid_an_order(buyer):
    promo = promotion(name="Welcome", first_order_only=True)
    code_for(promo, "WELCOME")
    cart = cart_of(buyer, (product("10.00"), 1))
    order = Order.objects.create(
        user=buyer, email=buyer.email, currency="USD", subtotal=10, total=10, placed_at=timezone.now()
    )

    apply_code(cart, "WELCOME", buyer)  # an unpaid order does not count

    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID)
    assert refusal(cart, "WELCOME", buyer) == "This code is for a first order only."
    assert verdict(promo, cart, buyer).reason == "not_first_order"
    assert price_cart(cart, customer=buyer).adjustments == []


def test_a_code_for_chosen_customers_refuses_others_and_asks_guests_to_log_in(buyer):
    chosen = UserFactory()
    promo = promotion(name="Friends", customers=[chosen])
    code_for(promo, "FRIENDS")

    assert refusal(cart_of(buyer, (product("10.00"), 1)), "FRIENDS", buyer) == (
        "This code is not available for your account."
    )
    guest_cart = cart_of(None, (product("10.00"), 1))
    assert refusal(guest_cart, "FRIENDS", None) == "Log in to use this code."
    assert verdict(promo, guest_cart, None).reason == "login_required"
    apply_code(cart_of(chosen, (product("10.00"), 1)), "FRIENDS", chosen)


def test_a_segment_code_is_only_for_the_segments_members(buyer, monkeypatch):
    monkeypatch.setattr(segments, "_SEGMENTS", dict(segments._SEGMENTS))  # registrations end with the test
    vip = UserFactory(email="vip@example.org")
    segments.register("vip", lambda customer: customer.email.startswith("vip@"))
    promo = promotion(name="VIP", segment="vip")
    code_for(promo, "VIP")
    code_for(promotion(name="Ghost", segment="nobody-registered-this"), "GHOST")

    apply_code(cart_of(vip, (product("10.00"), 1)), "VIP", vip)
    other_cart = cart_of(buyer, (product("10.00"), 1))
    assert refusal(other_cart, "VIP", buyer) == "This code is not available for your account."
    assert verdict(promo, other_cart, buyer).reason == "not_for_account"
    assert refusal(other_cart, "GHOST", buyer) == "This code is not available for your account."
    assert "vip" in dict(segments.choices())


# -- stacking and priority -------------------------------------------------------------------------------------


def test_automatic_promotions_apply_in_priority_order_and_stack(buyer):
    promotion(name="Low", requires_code=False, kind="fixed", value=D("2"), priority=1)
    promotion(name="High", requires_code=False, kind="fixed", value=D("3"), priority=5)
    cart = cart_of(buyer, (product("20.00"), 1))

    priced = price_cart(cart, customer=buyer)

    assert discounts(priced) == [("High", D("-3.00")), ("Low", D("-2.00"))]
    assert priced.total.amount == D("15.00")


def test_an_exclusive_promotion_first_in_priority_blocks_the_rest(buyer):
    promotion(name="Exclusive", requires_code=False, kind="fixed", value=D("5"), priority=10, stackable=False)
    promotion(name="Small", requires_code=False, kind="fixed", value=D("1"), priority=0)
    code_for(promotion(name="Code", value=D("10")), "TEN")
    cart = cart_of(buyer, (product("20.00"), 1))

    assert discounts(price_cart(cart, customer=buyer)) == [("Exclusive", D("-5.00"))]
    assert refusal(cart, "TEN", buyer) == "This code cannot be combined with the offer already applied."


def test_an_exclusive_code_after_another_promotion_is_refused(buyer):
    promotion(name="Auto", requires_code=False, kind="fixed", value=D("1"), priority=10)
    code_for(promotion(name="Solo", kind="fixed", value=D("5"), stackable=False), "SOLO")
    cart = cart_of(buyer, (product("20.00"), 1))

    assert refusal(cart, "SOLO", buyer) == "This code cannot be combined with the offer already applied."


def test_an_exclusive_code_with_the_highest_priority_wins_alone(buyer):
    promotion(name="Auto", requires_code=False, kind="fixed", value=D("1"), priority=0)
    code_for(promotion(name="Solo", kind="fixed", value=D("5"), stackable=False, priority=9), "SOLO")
    cart = cart_of(buyer, (product("20.00"), 1))

    apply_code(cart, "SOLO", buyer)

    assert discounts(price_cart(cart, customer=buyer)) == [("Solo (SOLO)", D("-5.00"))]


def test_a_code_is_refused_when_an_exclusive_automatic_offer_of_another_kind_takes_the_cart(buyer):
    # The cart would drop the code (and checkout would veto it): applying it must say so at once.
    promotion(name="Exclusive", requires_code=False, kind="fixed", value=D("5"), priority=10, stackable=False)
    code_for(promotion(name="Ten percent", value=D("10")), "TEN")
    cart = cart_of(buyer, (product("20.00"), 1))

    assert refusal(cart, "TEN", buyer) == "This code cannot be combined with the offer already applied."


def test_a_code_for_an_automatic_promotion_applies_it_once(buyer):
    code_for(promotion(name="Everyone", requires_code=False, kind="fixed", value=D("5")), "EVERYONE")
    cart = cart_of(buyer, (product("20.00"), 1))

    apply_code(cart, "EVERYONE", buyer)

    assert [amount for _label, amount in discounts(price_cart(cart, customer=buyer))] == [D("-5.00")]


def test_stacked_discounts_never_make_a_line_or_the_order_negative(buyer):
    promotion(name="A", requires_code=False, kind="fixed", value=D("15"), priority=3)
    promotion(name="B", requires_code=False, kind="percentage", value=D("100"), priority=2)
    promotion(name="C", requires_code=False, kind="fixed", value=D("40"), priority=1)
    cart = cart_of(buyer, (product("12.00"), 1), (product("8.00"), 2))

    priced = price_cart(cart, customer=buyer)

    line_totals = {line.line_id: line.total.amount for line in priced.lines}
    taken = dict.fromkeys(line_totals, D(0))
    for adjustment in priced.adjustments:
        for line_id, share in adjustment.allocations:
            assert share > 0
            taken[line_id] += share
    assert all(taken[k] <= line_totals[k] for k in line_totals)
    assert -sum(a for _l, a in discounts(priced)) == D("28.00")
    assert priced.total.amount == D("0.00")


# -- limits ----------------------------------------------------------------------------------------------------


def test_a_promotion_used_up_is_fully_claimed(buyer):
    promo = promotion(name="First five", usage_limit=5)
    code_for(promo, "FIVE")
    Promotion.objects.filter(pk=promo.pk).update(times_used=5)
    cart = cart_of(buyer, (product("10.00"), 1))

    assert refusal(cart, "FIVE", buyer) == "This offer has been fully claimed."
    promo.refresh_from_db()
    assert verdict(promo, cart, buyer).reason == "used_up"


def test_a_used_single_use_code_says_it_was_used(buyer):
    promo = promotion(name="Once")
    single = code_for(promo, "ONCE", max_uses=1)
    DiscountCode.objects.filter(pk=single.pk).update(times_used=1)
    single.refresh_from_db()
    cart = cart_of(buyer, (product("10.00"), 1))

    assert refusal(cart, "ONCE", buyer) == "This code has already been used."
    assert verdict(promo, cart, buyer, code=single).reason == "already_used"


def test_a_per_customer_limit_needs_a_logged_in_customer(buyer):
    code_for(promotion(name="One each", usage_limit_per_customer=1), "ONEEACH")

    assert refusal(cart_of(None, (product("10.00"), 1)), "ONEEACH", None) == "Log in to use this code."
    apply_code(cart_of(buyer, (product("10.00"), 1)), "ONEEACH", buyer)


def test_the_maximum_discount_caps_the_saving_and_still_adds_up(buyer):
    code_for(promotion(name="Half, up to $20", value=D("50"), max_discount=D("20.00")), "HALF")
    cart = cart_of(
        buyer, (product("33.33", name="A"), 1), (product("33.33", name="B"), 1), (product("33.34", name="C"), 1)
    )

    apply_code(cart, "HALF", buyer)
    priced = price_cart(cart, customer=buyer)

    assert discounts(priced) == [("Half, up to $20 (HALF)", D("-20.00"))]
    (shares,) = shares_by_product(priced)
    assert sum(shares.values()) == D("20.00")
    assert sorted(shares.values()) == [D("6.66"), D("6.67"), D("6.67")]


# -- codes -----------------------------------------------------------------------------------------------------


def test_codes_are_case_insensitive_and_ignore_surrounding_spaces(buyer):
    made = code_for(promotion(name="Spring"), "Spring-24")
    assert made.code == "SPRING-24"
    cart = cart_of(buyer, (product("10.00"), 1))

    assert apply_code(cart, "  spring-24 ", buyer) == made
    assert services.cart_code(cart) == made


def test_generated_codes_never_use_characters_that_read_alike():
    assert not set("0O1IL") & set(CODE_ALPHABET)
    for _ in range(200):
        made = random_code(prefix="vip-", length=12)
        assert made.startswith("VIP-") and len(made) == 16
        assert set(made[4:]) <= set(CODE_ALPHABET)


def test_a_batch_makes_n_unique_single_use_codes_with_prefix_and_length(staff):
    promo = promotion(name="Campaign")

    batch = services.batch_create(promotion=promo, count=500, prefix="spr-", length=6, actor=staff)

    codes = list(batch.codes.values_list("code", "max_uses", "promotion_id"))
    assert len(codes) == 500 == batch.count
    assert len({code for code, _m, _p in codes}) == 500
    for code, max_uses, promotion_id in codes:
        assert code.startswith("SPR-") and len(code) == 10
        assert set(code[4:]) <= set(CODE_ALPHABET)
        assert (max_uses, promotion_id) == (1, promo.pk)
    assert (batch.prefix, batch.length, batch.created_by) == ("SPR-", 6, staff)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 100_001}, "count"),
        ({"count": 5, "length": 5}, "length"),
        ({"count": 5, "length": 21}, "length"),
        ({"count": 5, "prefix": "no spaces"}, "prefix"),
        ({"count": 5, "prefix": "X" * 21}, "prefix"),
    ],
)
def test_a_batch_refuses_bad_sizes_and_prefixes(kwargs, field):
    promo = promotion()
    with pytest.raises(ShopError) as caught:
        services.batch_create(promotion=promo, **kwargs)
    assert caught.value.field == field
    assert not DiscountCode.objects.exists()


# -- rounding and allocation -----------------------------------------------------------------------------------


def test_a_percentage_rounds_half_up_to_the_cent(buyer):
    code_for(promotion(name="15%", value=D("15")), "FIFTEEN")
    cart = cart_of(buyer, (product("3.33"), 3))  # 9.99 × 15% = 1.4985 -> 1.50
    apply_code(cart, "FIFTEEN", buyer)

    assert discounts(price_cart(cart, customer=buyer)) == [("15% (FIFTEEN)", D("-1.50"))]


def test_in_yen_every_discount_rounds_to_whole_yen(buyer, settings):
    settings.SHOP_CURRENCY = "JPY"
    code_for(promotion(name="15%", value=D("15")), "FIFTEEN")
    promotion(name="¥1000", kind="fixed", value=D("1000"), requires_code=False)
    cart = cart_of(
        buyer, (product("1999", name="Tea"), 1), (product("333", name="Cup"), 2), (product("1", name="Pin"), 1)
    )

    apply_code(cart, "fifteen", buyer)
    priced = price_cart(cart, customer=buyer)

    assert priced.currency == "JPY"
    for adjustment in priced.adjustments:
        assert adjustment.amount.currency == "JPY"
        assert adjustment.amount.amount == adjustment.amount.amount.to_integral_value()
        assert all(share == share.to_integral_value() for _id, share in adjustment.allocations)
        assert sum(share for _id, share in adjustment.allocations) == -adjustment.amount.amount
    # 15%: 1999 -> 299.85 -> 300; 666 -> 99.9 -> 100; 1 -> 0.15 -> 0 (no share)
    assert ("15% (FIFTEEN)", D("-400")) in discounts(priced)
    assert -sum(a for _l, a in discounts(priced)) == D("1400")
    assert priced.total.amount == D("1266")


def _random_lines(rng: random.Random, currency: str) -> list[PricedLine]:
    places = 0 if currency == "JPY" else 2
    lines = []
    for line_id in range(1, rng.randint(1, 7) + 1):
        unit = Money(D(rng.randint(1, 20000)).scaleb(-places), currency)
        quantity = rng.randint(1, 5)
        total = Money(unit.amount * quantity, currency)
        lines.append(PricedLine(line_id, None, quantity, unit, None, total))
    return lines


@pytest.mark.parametrize("currency", ["USD", "JPY"])
def test_a_fixed_discount_is_allocated_over_lines_adding_up_exactly(currency):
    rng = random.Random(20240611)
    places = 0 if currency == "JPY" else 2
    for _ in range(500):
        lines = _random_lines(rng, currency)
        subtotal = sum(line.total.amount for line in lines)
        value = D(rng.randint(1, 30000)).scaleb(-places)
        cap = D(rng.randint(1, 10000)).scaleb(-places) if rng.random() < 0.3 else None
        promo = Promotion(kind=Promotion.Kind.FIXED, value=value, max_discount=cap)
        remaining = {line.line_id: line.total.amount for line in lines}

        total, shares = engine.compute(promo, lines, remaining, currency)

        expected = min(value, subtotal, cap if cap is not None else value)
        assert total == expected, (lines, value, cap)
        assert sum(shares.values()) == total
        for line_id, share in shares.items():
            assert 0 < share <= remaining[line_id]
            assert share == share.quantize(D(1).scaleb(-places))


@pytest.mark.parametrize("kind", ["percentage", "bxgy"])
def test_percent_discounts_stay_within_each_line_and_the_cap(kind):
    rng = random.Random(7)
    for _ in range(300):
        lines = _random_lines(rng, "USD")
        cap = D(rng.randint(1, 5000)).scaleb(-2) if rng.random() < 0.5 else None
        promo = Promotion(
            kind=kind, value=D(rng.randint(1, 100)), max_discount=cap, buy_quantity=rng.randint(1, 3), get_quantity=1
        )
        # Some of each line already taken by an earlier promotion.
        remaining = {line.line_id: line.total.amount * rng.choice([D(0), D("0.5"), D(1)]) for line in lines}
        remaining = {k: v.quantize(D("0.01")) for k, v in remaining.items()}

        total, shares = engine.compute(promo, lines, remaining, "USD")

        assert sum(shares.values()) == total
        assert cap is None or total <= cap
        for line_id, share in shares.items():
            assert 0 <= share <= remaining[line_id]  # 0: the line was already fully discounted
            assert share == share.quantize(D("0.01"))


def test_allocate_splits_by_weight_with_the_largest_remainders_getting_the_odd_cents():
    # Equal remainders: the tie goes by key, so the result is the same on every run.
    assert allocate(D("10.00"), {"a": D(1), "b": D(1), "c": D(1)}, "USD") == {
        "a": D("3.33"),
        "b": D("3.33"),
        "c": D("3.34"),
    }
    assert allocate(D("1.00"), {"big": D(99), "small": D(1)}, "USD") == {"big": D("0.99"), "small": D("0.01")}
    assert allocate(D("100"), {"x": D(2), "y": D(1)}, "JPY") == {"x": D(67), "y": D(33)}
    assert allocate(D("5"), {"x": D(0)}, "USD") == {}
    assert allocate(D("0"), {"x": D(3)}, "USD") == {}


def test_evaluate_reports_a_code_that_gives_nothing(buyer):
    code_for(promotion(name="Zero", value=D("0")), "ZERO")
    cart = cart_of(buyer, (product("10.00"), 1))

    assert refusal(cart, "ZERO", buyer) == "This code gives no discount on your cart."


def test_pricing_an_empty_cart_applies_nothing(buyer):
    promotion(name="Auto", requires_code=False)
    cart = cart_of(buyer)
    priced = price_cart(cart, customer=buyer)
    assert priced.adjustments == [] and priced.total.amount == 0
    assert isinstance(priced, PricedCart)


def test_a_products_promotion_covers_each_of_its_variants_at_the_variants_own_price(buyer):
    from tests.variants import variant, with_variants

    tee = with_variants(name="Tee", price=D("20.00"), prices={("L", "Red"): D("30.00")}, stock=10)
    code_for(promotion(name="Tee deal", value=D("10"), scope="products", products=[tee]), "TEE")
    cart = CartFactory(user=buyer)
    for size, colour in (("S", "Red"), ("L", "Red")):
        chosen = variant(tee, size, colour)
        CartLineFactory(cart=cart, product=tee, variant=chosen, quantity=1)

    apply_code(cart, "TEE", buyer)
    priced = price_cart(cart, customer=buyer)

    assert priced.subtotal.amount == D("50.00")
    assert discounts(priced) == [("Tee deal (TEE)", D("-5.00"))]  # 10% of 20 and of 30
