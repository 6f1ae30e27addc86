"""The cart page's discount-code panel (settings.SHOP_CART_PANELS) and its views at /cart/code/."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketing.discounts.models import CartCode, DiscountCode, Promotion
from tests.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

CART = reverse("cart:detail")
APPLY = reverse("discounts:apply")
REMOVE = reverse("discounts:remove")


def body(response) -> str:
    return response.content.decode()


@pytest.fixture
def product():
    return ProductFactory(name="Linen Shirt", price=Decimal("25.00"), stock=5)


@pytest.fixture
def shopper(client, product):
    """An anonymous visitor whose session cart holds two shirts ($50.00)."""
    client.post(reverse("cart:add"), {"product": product.pk, "quantity": 2})
    return client


@pytest.fixture
def ten_off():
    promotion = Promotion.objects.create(name="Ten off", kind="percentage", value=Decimal("10"))
    DiscountCode.objects.create(promotion=promotion, code="SAVE10")
    return promotion


def test_the_cart_shows_a_labelled_code_form(shopper):
    html = body(shopper.get(CART))

    assert '<label for="discount-code">Discount code</label>' in html
    assert 'id="discount-code" type="text" name="code"' in html
    assert f'action="{APPLY}" method="post"' in html
    assert ">Apply</button>" in html


def test_the_panels_come_from_the_setting(shopper, settings):
    settings.SHOP_CART_PANELS = []

    html = body(shopper.get(CART))

    assert "Discount code" not in html
    assert "Linen Shirt" in html


def test_applying_a_code_shows_the_saving_and_the_discount_line(shopper, ten_off):
    response = shopper.post(APPLY, {"code": " save10 "})

    assert response.status_code == 302
    assert response["Location"] == CART
    page = shopper.get(CART)
    html = body(page)
    assert "Code SAVE10 applied: you save $5.00. 10% off." in html  # its terms with its saving
    assert "<dt>Ten off (SAVE10)</dt><dd>-$5.00</dd>" in html  # its terms are in its panel, said once
    assert '<dd class="total">$45.00</dd>' in html
    assert "Code <strong>SAVE10</strong>: you save $5.00." in html
    assert 'aria-label="Remove code SAVE10"' in html
    assert CartCode.objects.get().code == DiscountCode.objects.get(code="SAVE10")


def test_a_customer_applies_a_code(client, customer, product, ten_off):
    CartLineFactory(cart=CartFactory(user=customer), product=product, quantity=1)
    client.force_login(customer)

    response = client.post(APPLY, {"code": "SAVE10"}, follow=True)

    assert response.status_code == 200
    assert "Code SAVE10 applied: you save $2.50." in body(response)
    assert CartCode.objects.get().cart.user == customer


def test_an_expired_code_is_refused_with_400_and_the_reason(shopper, ten_off):
    ten_off.starts_at = timezone.now() - timedelta(days=10)
    ten_off.ends_at = timezone.now() - timedelta(days=1)
    ten_off.save()

    response = shopper.post(APPLY, {"code": "save10"})

    assert response.status_code == 400
    html = body(response)
    assert '<div class="alert error" role="alert" id="cart-error"><p>This code expired on ' in html
    assert 'value="save10"' in html  # what was typed stays in the box
    assert 'aria-invalid="true" aria-describedby="cart-error"' in html
    assert "<dt>Ten off (SAVE10)" not in html
    assert not CartCode.objects.exists()


def test_an_unknown_code_is_a_404(shopper):
    response = shopper.post(APPLY, {"code": "NOPE"})

    assert response.status_code == 404
    assert "We don&#x27;t know the code “NOPE”. Check its spelling." in body(response)


def test_an_empty_code_is_a_400(shopper):
    response = shopper.post(APPLY, {"code": "   "})

    assert response.status_code == 400
    assert "Type a discount code." in body(response)


def test_guessing_gets_a_429(shopper, settings, ten_off):
    settings.DISCOUNT_CODE_ATTEMPTS = (2, 900)
    for guess in ("AAAA", "BBBB"):
        shopper.post(APPLY, {"code": guess})

    response = shopper.post(APPLY, {"code": "SAVE10"})

    assert response.status_code == 429
    assert "Too many wrong codes. Wait 15 minutes and try again." in body(response)
    assert not CartCode.objects.exists()


def test_the_cart_says_why_a_code_on_it_no_longer_applies(shopper, ten_off):
    shopper.post(APPLY, {"code": "SAVE10"})
    Promotion.objects.filter(pk=ten_off.pk).update(
        starts_at=timezone.now() - timedelta(days=10), ends_at=timezone.now() - timedelta(minutes=1)
    )

    html = body(shopper.get(CART))

    assert "Code <strong>SAVE10</strong> no longer applies: This code expired on " in html
    assert "<dt>Ten off (SAVE10)" not in html
    assert '<dd class="total">$50.00</dd>' in html
    assert 'aria-label="Remove code SAVE10"' in html


def test_removing_the_code(shopper, ten_off):
    shopper.post(APPLY, {"code": "SAVE10"}, follow=True)

    response = shopper.post(REMOVE)

    assert response.status_code == 302
    assert response["Location"] == CART
    html = body(shopper.get(CART))
    assert "Discount code removed." in html
    assert "SAVE10" not in html
    assert '<dd class="total">$50.00</dd>' in html
    assert not CartCode.objects.exists()


def test_the_views_take_posts_only(shopper):
    assert shopper.get(APPLY).status_code == 405
    assert shopper.get(REMOVE).status_code == 405


def test_the_forms_are_csrf_protected(customer, product, ten_off):
    CartLineFactory(cart=CartFactory(user=customer), product=product, quantity=2)
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)

    assert client.post(APPLY, {"code": "SAVE10"}).status_code == 403
    assert not CartCode.objects.exists()

    client.get(CART)  # the page sets the CSRF cookie its forms carry
    token = client.cookies["csrftoken"].value
    assert client.post(APPLY, {"code": "SAVE10", "csrfmiddlewaretoken": token}).status_code == 302
    assert CartCode.objects.exists()
    assert client.post(REMOVE).status_code == 403
    assert CartCode.objects.exists()
    assert client.post(REMOVE, {"csrfmiddlewaretoken": token}).status_code == 302
    assert not CartCode.objects.exists()


def test_the_cart_says_when_a_new_exclusive_offer_blocks_its_code(shopper, ten_off):
    shopper.post(APPLY, {"code": "SAVE10"})
    Promotion.objects.create(
        name="Flash sale", kind="fixed", value=Decimal("7"), requires_code=False, stackable=False, priority=9
    )

    html = body(shopper.get(CART))

    assert "Code <strong>SAVE10</strong> no longer applies: This code cannot be combined" in html
    # An automatic offer anyone gets is on the line, at the price its product page shows.
    assert "<dt>Flash sale" not in html
    line = re.search(r'<td class="line-total".*?</td>', html, re.S).group(0)
    assert "$43.00" in line and "<s>$50.00</s>" in line
    assert '<span class="tag sale">Flash sale</span> <span class="offer-terms">$7 off; does not combine' in html
    assert '<dd class="total">$43.00</dd>' in html


def test_a_code_can_be_entered_at_the_checkout_review_step():
    from decimal import Decimal

    from django.test import Client

    from marketing.discounts.models import DiscountCode, Promotion
    from tests.factories import ProductFactory

    promotion = Promotion.objects.create(name="Review ten", kind="percentage", value=Decimal("10"))
    DiscountCode.objects.create(promotion=promotion, code="REVIEW10")
    shopper = Client()
    product = ProductFactory(price=Decimal("30.00"), stock=5)
    shopper.post("/cart/add/", {"product": product.pk, "quantity": 1})
    shopper.post(
        "/checkout/",
        {
            "email": "g@example.org",
            "name": "G",
            "line1": "1 St",
            "city": "Austin",
            "postal_code": "78701",
            "country": "US",
            "shipping_method": "standard",
        },
    )
    review = shopper.get("/checkout/review/").content.decode()
    assert 'name="code"' in review

    response = shopper.post("/cart/code/", {"code": "review10", "next": "/checkout/review/"})
    assert response.status_code == 302
    assert response["Location"] == "/checkout/review/"
    priced = shopper.get("/checkout/review/").context["priced"]
    assert [a.label for a in priced.adjustments][0] == "Review ten (REVIEW10)"
    assert priced.total.amount == Decimal("32.00")  # 30 - 3 + 5 shipping

    elsewhere = shopper.post("/cart/code/remove/", {"next": "https://evil.example.com/"})
    assert elsewhere["Location"] == "/cart/"


def test_after_a_refused_code_a_good_one_returns_to_the_cart_not_to_the_form_url(client):
    from decimal import Decimal

    from marketing.discounts.models import DiscountCode, Promotion
    from tests.factories import ProductFactory

    DiscountCode.objects.create(
        promotion=Promotion.objects.create(name="Ten", kind="percentage", value=Decimal("10")), code="GOOD10"
    )
    client.post("/cart/add/", {"product": ProductFactory(stock=3).pk, "quantity": 1})
    refused = client.post("/cart/code/", {"code": "NOPE", "next": "/cart/"})
    assert refused.status_code == 404
    html = refused.content.decode()
    next_field = html[html.index('name="next" value="') :].split('"')[3]
    response = client.post("/cart/code/", {"code": "good10", "next": next_field})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
