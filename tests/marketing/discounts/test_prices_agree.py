"""Prices that agree: the cart shows each line at the price its product page promised, every saving says
its cap and conditions, and a code that replaces an automatic offer says so."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from marketing.discounts import terms
from marketing.discounts.models import DiscountCode, Promotion
from marketing.discounts.selectors import promotion_preview
from shop.cart.pricing import price_cart
from tests.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

CART = reverse("cart:detail")
API_CART = "/api/v1/cart/"


def body(response) -> str:
    return response.content.decode()


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def shirt():
    return ProductFactory(name="Oxford Shirt", slug="oxford-shirt", price=Decimal("140.95"), stock=9)


@pytest.fixture
def sale():
    return Promotion.objects.create(
        name="Autumn sale", kind="percentage", value=Decimal("10"), max_discount=Decimal("60"), requires_code=False
    )


@pytest.fixture
def shopper(client, shirt):
    client.post(reverse("cart:add"), {"product": shirt.pk, "quantity": 1})
    return client


# --- terms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"kind": "percentage", "value": "50", "max_discount": "60"}, "50% off, up to $60"),
        ({"kind": "percentage", "value": "12.5"}, "12.5% off"),
        ({"kind": "fixed", "value": "7.50"}, "$7.50 off"),
        ({"kind": "free_shipping", "value": "0", "max_discount": "5"}, "free shipping, up to $5"),
        ({"kind": "bxgy", "value": "100", "buy_quantity": 2, "get_quantity": 1}, "buy 2, get 1 free"),
        ({"kind": "bxgy", "value": "50", "buy_quantity": 1, "get_quantity": 1}, "buy 1, get 1 at 50% off"),
        (
            {"kind": "percentage", "value": "50", "max_discount": "60", "min_subtotal": "80", "stackable": False},
            "50% off, up to $60; on orders of $80 or more; does not combine with other offers",
        ),
        (
            {"kind": "percentage", "value": "10", "min_quantity": 3, "first_order_only": True, "exclude_on_sale": True},
            "10% off; with 3 eligible items or more; not on items already on sale; first order only",
        ),
    ],
)
def test_terms_say_the_offer_its_cap_and_its_conditions(fields, said):
    NUMBERS = {"value", "max_discount", "min_subtotal"}
    promotion = Promotion(name="x", **{k: Decimal(v) if k in NUMBERS else v for k, v in fields.items()})
    assert terms.describe(promotion) == said


# --- the cart's lines at the product page's price ----------------------------------------------


def test_the_product_page_says_the_offer_price_and_its_cap(client, shirt, sale):
    html = body(client.get(shirt.get_absolute_url()))
    price = re.search(r'<p class="price big">.*?</p>', html, re.S).group(0)
    assert '<span class="now">$126.85</span>' in price
    assert "<s>$140.95</s>" in price
    assert '<span class="offer-terms">10% off, up to $60</span>' in price


def test_the_cart_line_shows_the_promised_price_with_the_original_struck_through(shopper, shirt, sale):
    html = body(shopper.get(CART))

    price = re.search(r'<td class="line-price".*?</td>', html, re.S).group(0)
    assert '<span class="now">$126.85</span>' in price
    assert "<s>$140.95</s>" in price
    total = re.search(r'<td class="line-total".*?</td>', html, re.S).group(0)
    assert '<span class="now">$126.85</span>' in total
    assert "Autumn sale" in text(html) and "10% off, up to $60" in text(html)
    # The summary adds up what the lines show; the saving is not listed a second time.
    summary = re.search(r'<aside class="summary".*?</aside>', html, re.S).group(0)
    assert re.findall(r"<dt[^>]*>(.*?)</dt>", summary) == ["Subtotal", "Total"]
    assert re.findall(r"<dd[^>]*>(.*?)</dd>", summary) == ["$126.85", "$126.85"]
    assert "$14.10 off with our current offers (before offers: $140.95)" in text(summary)


def test_the_cart_total_is_still_the_sum_shown_with_several_lines_a_cap_and_a_code():
    """Lines after their offers, plus what the summary lists, is the total, to the cent."""
    capped = Promotion.objects.create(
        name="Half off", kind="percentage", value=Decimal("50"), max_discount=Decimal("60"), requires_code=False
    )
    code_promotion = Promotion.objects.create(name="Five off", kind="fixed", value=Decimal("5"))
    code = DiscountCode.objects.create(promotion=code_promotion, code="FIVE")
    cart = CartFactory()
    for price, quantity in [("33.33", 3), ("19.99", 2), ("0.99", 7)]:
        CartLineFactory(cart=cart, product=ProductFactory(price=Decimal(price), stock=50), quantity=quantity)
    from marketing.discounts.services import cart_code_apply

    cart_code_apply(cart=cart, code=code.code, customer=None, client_key="test")
    priced = price_cart(cart)

    assert priced.line_savings.amount == Decimal("60.00")  # the cap, spread over the lines
    assert sum(line.total.amount for line in priced.shown_lines) == priced.lines_total.amount
    listed = sum(a.amount.amount for a in priced.summary_adjustments)
    assert priced.lines_total.amount + listed == priced.total.amount
    assert [a.label for a in priced.summary_adjustments] == ["Five off (FIVE)"]
    assert capped.name in [s.adjustment.label for line in priced.shown_lines for s in line.savings]


def test_a_promotion_with_a_condition_stays_in_the_summary(shopper, shirt):
    """Its price is on no product page (it needs a $100 order): the lines keep their price."""
    Promotion.objects.create(
        name="Big basket", kind="fixed", value=Decimal("10"), min_subtotal=Decimal("100"), requires_code=False
    )
    html = body(shopper.get(CART))
    assert "<s>$140.95</s>" not in html
    summary = re.search(r'<aside class="summary".*?</aside>', html, re.S).group(0)
    assert "Big basket" in summary and "$10 off; on orders of $100 or more" in summary
    assert '<dd class="total">$130.95</dd>' in summary


def test_the_api_cart_carries_each_line_before_and_after_its_offers(client, shirt, sale):
    client.post(reverse("cart:add"), {"product": shirt.pk, "quantity": 2})
    data = client.get(API_CART).json()

    line = data["lines"][0]
    assert line["unit_price"] == "140.95"
    assert line["total"] == "281.90"
    assert line["unit_price_after_offers"] == "126.85"
    assert line["total_after_offers"] == "253.70"  # twice the product page's price, to the cent
    assert line["offers"] == [{"label": "Autumn sale", "terms": "10% off, up to $60", "amount": "28.20"}]
    assert data["subtotal"] == "281.90"
    assert data["lines_total"] == "253.70"
    assert data["total"] == "253.70"
    assert data["adjustments"][0]["on_lines"] is True


# --- the code's message and a code that replaces an offer ---------------------------------------


def test_the_code_message_says_its_cap(client):
    product = ProductFactory(price=Decimal("221.90"), stock=5)
    promotion = Promotion.objects.create(
        name="Yalda night", kind="percentage", value=Decimal("50"), max_discount=Decimal("60")
    )
    DiscountCode.objects.create(promotion=promotion, code="YALDA50")
    client.post(reverse("cart:add"), {"product": product.pk, "quantity": 1})

    response = client.post(reverse("discounts:apply"), {"code": "YALDA50"}, follow=True)

    shown = text(body(response))
    assert "Code YALDA50 applied: you save $60.00. 50% off, up to $60." in shown
    assert "Code YALDA50 : you save $60.00. 50% off, up to $60." in shown  # the panel says it too


def test_a_code_that_replaces_an_automatic_offer_says_so(shopper, sale):
    promotion = Promotion.objects.create(
        name="Yalda night",
        kind="percentage",
        value=Decimal("50"),
        max_discount=Decimal("60"),
        stackable=False,
        priority=10,
    )
    DiscountCode.objects.create(promotion=promotion, code="YALDA50")
    shopper.post(reverse("discounts:apply"), {"code": "YALDA50"})

    shown = text(body(shopper.get(CART)))

    assert "This code replaces the offer Autumn sale: the two cannot be combined." in shown
    assert "$80.95" in shown  # 140.95 less the code's $60; the autumn sale no longer applies


def test_a_code_that_combines_replaces_nothing(shopper, sale):
    promotion = Promotion.objects.create(name="Ten off", kind="fixed", value=Decimal("10"))
    DiscountCode.objects.create(promotion=promotion, code="TEN")
    shopper.post(reverse("discounts:apply"), {"code": "TEN"})

    html = body(shopper.get(CART))

    assert "replaces the offer" not in html
    assert '<dd class="total">$116.85</dd>' in html


def test_the_admin_preview_says_the_terms(shirt):
    promotion = Promotion.objects.create(
        name="Half", kind="percentage", value=Decimal("50"), max_discount=Decimal("60")
    )
    preview = promotion_preview(promotion, items=[(shirt, 1)])
    assert preview.discount == Decimal("60.00")
    assert preview.terms == "50% off, up to $60"
