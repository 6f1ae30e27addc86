"""Every aria-describedby and aria-labelledby on a page names an element of that page: a screen reader
reads the help text, the error or the heading it points to, never nothing."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def broken_references(html: str) -> list[str]:
    ids = set(re.findall(r'\sid="([^"]+)"', html))
    refs = re.findall(r'aria-(?:describedby|labelledby)="([^"]+)"', html)
    return sorted({ref for value in refs for ref in value.split() if ref not in ids})


@pytest.fixture
def shopper(client):
    user = UserFactory()
    client.force_login(user)
    return client


def test_the_checkout_pages_references_are_all_on_the_page(shopper):
    product = ProductFactory(price=Decimal("12.00"), stock=5)
    shopper.post(reverse("cart:add"), {"product": product.pk, "quantity": 1})

    html = shopper.get(reverse("orders:checkout")).content.decode()

    assert "aria-describedby" in html  # the email's help, at least
    assert broken_references(html) == []


def test_a_product_pages_review_form_references_are_all_on_the_page(shopper):
    product = ProductFactory(price=Decimal("12.00"), stock=5)

    html = shopper.get(product.get_absolute_url()).content.decode()

    assert 'id="id_photos"' in html
    assert broken_references(html) == []


@pytest.mark.parametrize("name", ["accounts:register", "accounts:login", "accounts:password_reset"])
def test_the_sign_in_pages_references_are_all_on_the_page(client, name):
    assert broken_references(client.get(reverse(name)).content.decode()) == []
