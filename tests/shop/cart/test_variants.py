"""A cart line is a variant: added by variant, or by product when it has one; merged per variant."""

import pytest

from shop.cart.models import Cart, CartLine
from shop.cart.services import cart_add, cart_merge
from shop.catalog.models import Variant
from shop.core.errors import InsufficientStock, ShopError
from tests.factories import CartFactory, CartLineFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shoe():
    shoe = ProductFactory(name="Runner", sku="RUN", stock=3)
    Variant.objects.create(product=shoe, sku="RUN-43", stock=2)
    return shoe


def test_it_adds_by_variant_one_line_each(shoe):
    cart = CartFactory()
    small, large = shoe.variants.order_by("pk")
    cart_add(cart=cart, variant=small, quantity=1)
    cart_add(cart=cart, variant=large, quantity=2)
    cart_add(cart=cart, variant=small, quantity=1)
    lines = {line.variant.sku: (line.quantity, line.product_id) for line in cart.lines.all()}
    assert lines == {"RUN": (2, shoe.pk), "RUN-43": (2, shoe.pk)}


def test_it_checks_the_variants_own_stock(shoe):
    large = shoe.variants.get(sku="RUN-43")
    with pytest.raises(InsufficientStock):
        cart_add(cart=CartFactory(), variant=large, quantity=3)


def test_it_adds_a_single_variant_product_by_product():
    lamp = ProductFactory()
    line = cart_add(cart=CartFactory(), product=lamp)
    assert line.variant == lamp.variants.get()


def test_it_refuses_to_guess_the_variant_of_a_product_with_several(shoe):
    with pytest.raises(ShopError) as refused:
        cart_add(cart=CartFactory(), product=shoe)
    assert refused.value.status_code == 400
    assert refused.value.message == "Choose a size and colour."
    assert not CartLine.objects.exists()


def test_the_login_merge_adds_up_per_variant(shoe):
    small, large = shoe.variants.order_by("pk")
    member = UserFactory()
    CartLineFactory(cart=CartFactory(user=member), product=shoe, variant=small, quantity=1)
    guest = CartFactory(user=None)
    CartLineFactory(cart=guest, product=shoe, variant=small, quantity=1)
    CartLineFactory(cart=guest, product=shoe, variant=large, quantity=5)

    notes = cart_merge(source=guest, user=member)

    lines = {line.variant.sku: line.quantity for line in Cart.objects.get(user=member).lines.all()}
    assert lines == {"RUN": 2, "RUN-43": 2}, "the large size capped at its own stock"
    assert any("quantity lowered to 2" in note for note in notes)


def test_a_line_is_priced_at_its_variants_own_price_and_shows_its_options(client):
    from decimal import Decimal

    from tests.variants import variant, with_variants

    tee = with_variants(price=Decimal("20.00"), prices={("L", "Red"): Decimal("24.00")})
    large_red, small_blue = variant(tee, "L", "Red"), variant(tee, "S", "Blue")
    session = client.session
    session.save()
    client.post("/cart/add/", {"variant": large_red.pk, "quantity": 2})
    client.post("/cart/add/", {"variant": small_blue.pk, "quantity": 1})
    page = client.get("/cart/").content.decode()
    assert "Red · L" in page and "Blue · S" in page
    assert "$48.00" in page and "$20.00" in page and "$68.00" in page


def test_a_product_whose_other_variants_are_off_sale_is_added_by_product(shoe):
    Variant.objects.filter(sku="RUN-43").update(is_active=False)
    line = cart_add(cart=CartFactory(), product=shoe)
    assert line.variant.sku == "RUN"
