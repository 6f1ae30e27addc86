"""The options a line was bought with ("Colour: Blue · Size: 42") under its product's name: on the order
page, the pay page, the order emails and the order's admin page. A line without options shows as before."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop.cart.models import Cart
from shop.catalog.models import Attribute, AttributeValue, Product, ProductType, Variant, VariantOption
from shop.orders import emails, services
from shop.orders.checkout import ShippingAddress, checkout_place
from shop.orders.models import Order
from shop.orders.templatetags.order_tags import options_text
from tests.factories import CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(name="Ada Lovelace", line1="12 Analytical Row", city="London", postal_code="N1", country="GB")


@pytest.fixture
def runner():
    """A shoe in EU 42 and 43, both blue."""
    size = Attribute.objects.create(name="Size", slug="size")
    colour = Attribute.objects.create(name="Colour", slug="colour")
    shoes = ProductType.objects.create(name="Shoes", slug="shoes")
    shoes.variant_attributes.set([size, colour])
    shoe = ProductFactory(name="Runner", sku="RUN", price=Decimal("80.00"), stock=0, product_type=shoes)
    shoe.variants.all().delete()
    blue = AttributeValue.objects.create(attribute=colour, name="Blue", slug="blue")
    for name in ("42", "43"):
        variant = Variant.objects.create(product=shoe, sku=f"RUN-{name}", stock=5)
        value = AttributeValue.objects.create(attribute=size, name=name, slug=name)
        VariantOption.objects.create(variant=variant, attribute=size, value=value)
        VariantOption.objects.create(variant=variant, attribute=colour, value=blue)
    Product.objects.filter(pk=shoe.pk).update(stock=10)
    return shoe


@pytest.fixture
def lamp():
    return ProductFactory(name="Brass Lamp", sku="LAMP", price=Decimal("30.00"), stock=3)


def place(customer, *lines) -> Order:
    cart = Cart.objects.get_or_create(user=customer)[0]
    for variant, quantity in lines:
        CartLineFactory(cart=cart, product=variant.product, variant=variant, quantity=quantity)
    order, _created = checkout_place(
        cart=cart, user=customer, email=customer.email, address=ADDRESS, shipping_method="standard"
    )
    return order


@pytest.fixture
def order(customer, runner, lamp):
    placed = place(customer, (Variant.objects.get(sku="RUN-42"), 2), (lamp.variants.get(), 1))
    services.order_mark_paid(order_id=placed.pk, amount=placed.total_money)
    placed.refresh_from_db()
    return placed


def html_part(message) -> str:
    return next(content for content, mimetype in message.alternatives if mimetype == "text/html")


def test_it_writes_options_by_attribute_name_and_nothing_for_none():
    assert options_text({"Size": "42", "Colour": "Blue"}) == "Colour: Blue · Size: 42"
    assert options_text({}) == ""
    assert options_text(None) == ""


def test_the_order_page_shows_the_options_under_the_name(client, customer, order):
    client.force_login(customer)

    html = client.get(reverse("orders:detail", args=[order.number])).content.decode()

    assert '2 × Runner<br><span class="muted small">Colour: Blue · Size: 42</span></span>' in html
    assert "<li><span>1 × Brass Lamp</span> <span>$30.00</span></li>" in html  # no options: as before


def test_the_pay_page_shows_them_too(client, customer, runner, localstripe):
    unpaid = place(customer, (Variant.objects.get(sku="RUN-43"), 1))
    client.force_login(customer)

    html = client.get(reverse("orders:pay", args=[unpaid.number])).content.decode()

    assert '1 × Runner<br><span class="muted small">Colour: Blue · Size: 43</span>' in html


def test_an_order_without_options_reads_as_before(client, customer, lamp):
    plain = place(customer, (lamp.variants.get(), 2))
    services.order_mark_paid(order_id=plain.pk, amount=plain.total_money)
    client.force_login(customer)

    html = client.get(reverse("orders:detail", args=[plain.number])).content.decode()
    text = emails.build(plain, "confirmation").body

    assert '<ul class="summary-lines"><li><span>2 × Brass Lamp</span> <span>$60.00</span></li></ul>' in html
    assert "muted small" not in re.search(r'<ul class="summary-lines">.*?</ul>', html, re.S).group(0)
    assert "2 × Brass Lamp  $60.00\n" in text


def test_the_order_page_reads_no_more_for_options(client, customer, runner, lamp):
    plain = place(customer, (lamp.variants.get(), 1))
    with_options = place(customer, (Variant.objects.get(sku="RUN-42"), 1), (Variant.objects.get(sku="RUN-43"), 1))
    client.force_login(customer)

    def queries(number):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("orders:detail", args=[number]))
        assert response.status_code == 200
        return len(captured), response.content.decode()

    queries(plain.number)
    few, _html = queries(plain.number)
    many, html = queries(with_options.number)

    assert "Colour: Blue · Size: 43" in html
    assert few == many  # the options are the line's own column


def test_the_confirmation_email_shows_the_options(order):
    message = emails.build(order, "confirmation")

    assert "2 × Runner (Colour: Blue · Size: 42)  $160.00\n" in message.body
    assert "1 × Brass Lamp  $30.00\n" in message.body
    html = html_part(message)
    assert '2 × Runner<br><span style="color:#5f6878;font-size:13px">Colour: Blue · Size: 42</span></td>' in html
    assert "1 × Brass Lamp</td>" in html


def test_the_shipped_email_shows_the_options(order):
    services.order_ship(order_id=order.pk, carrier="UPS", tracking_number="1Z999")
    order.refresh_from_db()

    html = html_part(emails.build(order, "shipped"))

    assert "Colour: Blue · Size: 42" in html


def test_options_are_escaped(client, customer, runner):
    odd = AttributeValue.objects.create(attribute=Attribute.objects.get(slug="size"), name="<i>XL</i>", slug="xl")
    VariantOption.objects.filter(variant__sku="RUN-43", attribute__slug="size").update(value=odd)
    bought = place(customer, (Variant.objects.get(sku="RUN-43"), 1))
    client.force_login(customer)

    html = client.get(reverse("orders:detail", args=[bought.number])).content.decode()

    assert "Size: &lt;i&gt;XL&lt;/i&gt;" in html
    assert "<i>XL</i>" not in html
    assert "&lt;i&gt;XL" in html_part(emails.build(bought, "confirmation"))


def test_the_order_admin_shows_each_lines_sku_and_options(client, staff, order):
    client.force_login(staff)

    html = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert "RUN-42" in html and "LAMP" in html
    assert 'Runner<br><span class="help">Colour: Blue · Size: 42</span>' in html
    assert re.search(r'<td class="field-name_and_options">\s*<p>Brass Lamp</p>', html)
