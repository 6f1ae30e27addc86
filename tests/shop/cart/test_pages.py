from decimal import Decimal

import pytest
from django.urls import reverse

from shop.cart.models import Cart, CartLine
from shop.cart.selectors import SESSION_KEY
from tests.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

DETAIL = reverse("cart:detail")
ADD = reverse("cart:add")


def update_url(line) -> str:
    return reverse("cart:update", kwargs={"line_id": line.pk})


def remove_url(line) -> str:
    return reverse("cart:remove", kwargs={"line_id": line.pk})


def body(response) -> str:
    return response.content.decode()


@pytest.fixture
def product():
    return ProductFactory(name="Linen Shirt", price=Decimal("25.00"), stock=5)


@pytest.fixture
def anonymous_line(client, product):
    """An anonymous visitor's cart holding 2 of the product."""
    client.post(ADD, {"product": product.pk, "quantity": 2})
    return CartLine.objects.get()


# Adding


def test_it_gives_an_anonymous_visitor_a_session_cart(client, product):
    response = client.post(ADD, {"product": product.pk, "quantity": "2"})

    assert response.status_code == 302
    assert response["Location"] == DETAIL
    cart = Cart.objects.get()
    assert cart.user is None
    assert client.session[SESSION_KEY] == str(cart.token)
    assert list(cart.lines.values_list("product_id", "quantity")) == [(product.pk, 2)]
    page = client.get(DETAIL)
    assert "Added “Linen Shirt” to your cart." in body(page)
    assert "Linen Shirt" in body(page)
    assert "$50.00" in body(page)
    assert page.context["cart_count"]() == 2


def test_it_adds_to_the_existing_line(client, product, anonymous_line):
    client.post(ADD, {"product": product.pk, "quantity": 1})

    anonymous_line.refresh_from_db()
    assert anonymous_line.quantity == 3
    assert CartLine.objects.count() == 1
    assert Cart.objects.count() == 1


def test_it_adds_to_a_customers_own_cart(client, customer, product):
    client.force_login(customer)

    client.post(ADD, {"product": product.pk, "quantity": 1})

    assert Cart.objects.get().user == customer
    assert customer.cart.lines.get().quantity == 1


def test_it_follows_a_safe_next_url_only(client, product):
    response = client.post(ADD, {"product": product.pk, "quantity": 1, "next": product.get_absolute_url()})
    assert response["Location"] == product.get_absolute_url()

    response = client.post(ADD, {"product": product.pk, "quantity": 1, "next": "https://evil.example.com/"})
    assert response["Location"] == DETAIL


@pytest.mark.parametrize("quantity", ["0", "-1", "two", "1.5", "", "1000"])
def test_it_refuses_a_bad_quantity_and_adds_nothing(client, product, quantity):
    response = client.post(ADD, {"product": product.pk, "quantity": quantity})

    assert response.status_code == 400
    assert "Quantity must be a whole number from 1 to 999." in body(response)
    assert not CartLine.objects.exists()


def test_it_refuses_more_than_the_stock(client, product):
    response = client.post(ADD, {"product": product.pk, "quantity": 6})

    assert response.status_code == 409
    assert "Only 5 of “Linen Shirt” are in stock." in body(response)
    assert not CartLine.objects.exists()


def test_it_refuses_to_push_a_line_past_the_stock(client, product, anonymous_line):
    response = client.post(ADD, {"product": product.pk, "quantity": 4})

    assert response.status_code == 409
    assert "Only 5 of “Linen Shirt” are in stock." in body(response)
    anonymous_line.refresh_from_db()
    assert anonymous_line.quantity == 2


def test_it_refuses_an_out_of_stock_product(client):
    product = ProductFactory(name="Sold Out", stock=0)

    response = client.post(ADD, {"product": product.pk, "quantity": 1})

    assert response.status_code == 409
    assert "“Sold Out” is out of stock." in body(response)
    assert not CartLine.objects.exists()


@pytest.mark.parametrize("pk", ["999999", "abc", ""])
def test_it_answers_404_for_an_unknown_product(client, pk):
    response = client.post(ADD, {"product": pk, "quantity": 1})

    assert response.status_code == 404
    assert "That product does not exist." in body(response)
    assert not Cart.objects.exists()


def test_it_answers_404_for_an_inactive_product(client):
    product = ProductFactory(is_active=False)

    response = client.post(ADD, {"product": product.pk, "quantity": 1})

    assert response.status_code == 404
    assert not CartLine.objects.exists()


def test_it_only_accepts_posts_to_change_the_cart(client, product):
    assert client.get(ADD, {"product": product.pk, "quantity": 1}).status_code == 405
    assert not CartLine.objects.exists()


# Changing and removing


def test_it_changes_the_quantity_of_a_line(client, anonymous_line):
    response = client.post(update_url(anonymous_line), {"quantity": 4})

    assert response.status_code == 302
    anonymous_line.refresh_from_db()
    assert anonymous_line.quantity == 4
    page = client.get(DETAIL)
    assert "Cart updated." in body(page)
    assert "$100.00" in body(page)


@pytest.mark.parametrize(
    ("quantity", "status", "message"),
    [
        ("0", 400, "Quantity must be a whole number from 1 to 999."),
        ("x", 400, "Quantity must be a whole number from 1 to 999."),
        ("6", 409, "Only 5 of “Linen Shirt” are in stock."),
    ],
)
def test_it_refuses_a_bad_new_quantity_and_keeps_the_line(client, anonymous_line, quantity, status, message):
    response = client.post(update_url(anonymous_line), {"quantity": quantity})

    assert response.status_code == status
    assert message in body(response)
    anonymous_line.refresh_from_db()
    assert anonymous_line.quantity == 2


def test_it_removes_a_line(client, anonymous_line):
    response = client.post(remove_url(anonymous_line))

    assert response.status_code == 302
    assert not CartLine.objects.exists()
    page = client.get(DETAIL)
    assert "Removed from your cart." in body(page)
    assert "Your cart is empty." in body(page)


def test_it_answers_404_for_a_line_that_is_not_in_the_cart(client, anonymous_line):
    response = client.post(reverse("cart:update", kwargs={"line_id": anonymous_line.pk + 1000}), {"quantity": 1})

    assert response.status_code == 404
    assert "That line is not in your cart." in body(response)


def test_it_answers_404_for_someone_elses_line_when_there_is_no_cart(client, customer, stranger):
    line = CartLineFactory(cart__user=customer)
    client.force_login(stranger)  # the stranger has no cart at all

    update = client.post(update_url(line), {"quantity": 3})
    remove = client.post(remove_url(line))

    assert (update.status_code, remove.status_code) == (404, 404)
    assert "That line is not in your cart." in body(update)
    line.refresh_from_db()
    assert line.quantity == 1


def test_it_stops_a_customer_changing_another_customers_line(client, customer, stranger, product):
    line = CartLineFactory(cart__user=customer, product=product, quantity=2)
    CartFactory(user=stranger)
    client.force_login(stranger)

    update = client.post(update_url(line), {"quantity": 5})
    remove = client.post(remove_url(line))

    assert update.status_code == 404
    assert remove.status_code == 404
    assert "That line is not in your cart." in body(update)
    line.refresh_from_db()
    assert line.quantity == 2
    assert line.cart.user == customer


def test_it_stops_an_anonymous_visitor_changing_a_customers_line(client, customer, product, anonymous_line):
    line = CartLineFactory(cart__user=customer, product=product, quantity=1)

    response = client.post(remove_url(line))

    assert response.status_code == 404
    assert CartLine.objects.filter(pk=line.pk).exists()


def test_it_never_opens_a_customers_cart_with_its_token(client, customer, product):
    line = CartLineFactory(cart__user=customer, product=product, quantity=1)

    response = client.get(DETAIL, headers={"X-Cart-Token": str(line.cart.token)})

    assert "Linen Shirt" not in body(response)
    assert response.context["cart"] is None


def test_it_shows_an_empty_cart(client):
    response = client.get(DETAIL)

    assert response.status_code == 200
    assert "Your cart is empty." in body(response)
    assert not Cart.objects.exists()


# Merging the anonymous cart on login


def login(client, user, password):
    return client.post(reverse("accounts:login"), {"username": user.email, "password": password}, follow=True)


def test_it_merges_the_anonymous_cart_into_the_customers_cart_on_login(client, customer, password):
    shared = ProductFactory(name="Shared Mug", stock=10)
    only_anonymous = ProductFactory(name="Tea Towel", stock=10)
    only_customer = ProductFactory(name="Teapot", stock=10)
    CartLineFactory(cart__user=customer, product=shared, quantity=3)
    CartLineFactory(cart=customer.cart, product=only_customer, quantity=1)
    client.post(ADD, {"product": shared.pk, "quantity": 2})
    client.post(ADD, {"product": only_anonymous.pk, "quantity": 4})
    anonymous = Cart.objects.get(user__isnull=True)

    response = login(client, customer, password)

    assert response.status_code == 200
    assert "The products you picked before logging in are now in your cart." in body(response)
    assert not Cart.objects.filter(pk=anonymous.pk).exists()
    assert Cart.objects.count() == 1
    quantities = dict(customer.cart.lines.values_list("product__name", "quantity"))
    assert quantities == {"Shared Mug": 5, "Tea Towel": 4, "Teapot": 1}
    assert SESSION_KEY not in client.session


def test_it_caps_merged_quantities_at_the_stock_and_says_so(client, customer, password):
    mug = ProductFactory(name="Shared Mug", stock=4)
    CartLineFactory(cart__user=customer, product=mug, quantity=3)
    client.post(ADD, {"product": mug.pk, "quantity": 3})

    response = login(client, customer, password)

    assert "“Shared Mug”: quantity lowered to 4, all we have in stock." in body(response)
    assert customer.cart.lines.get().quantity == 4


def test_it_drops_products_no_longer_sold_when_merging(client, customer, password):
    retired = ProductFactory(name="Old Lamp", stock=10)
    kept = ProductFactory(name="New Lamp", stock=10)
    client.post(ADD, {"product": retired.pk, "quantity": 1})
    client.post(ADD, {"product": kept.pk, "quantity": 1})
    retired.is_active = False
    retired.save()

    response = login(client, customer, password)

    assert "“Old Lamp” is no longer sold and was removed." in body(response)
    assert list(customer.cart.lines.values_list("product__name", flat=True)) == ["New Lamp"]
    assert not Cart.objects.filter(user__isnull=True).exists()


def test_it_drops_products_gone_out_of_stock_when_merging(client, customer, password):
    scarf = ProductFactory(name="Scarf", stock=10)
    client.post(ADD, {"product": scarf.pk, "quantity": 2})
    scarf.stock = 0
    scarf.save()

    response = login(client, customer, password)

    assert "“Scarf” is out of stock and was removed." in body(response)
    assert not CartLine.objects.exists()


def test_it_shows_the_merge_messages_only_once(client, customer, password, product):
    client.post(ADD, {"product": product.pk, "quantity": 1})
    login(client, customer, password)

    assert "now in your cart" not in body(client.get(DETAIL))


def test_it_logs_in_without_a_message_when_there_was_no_anonymous_cart(client, customer, password):
    response = login(client, customer, password)

    assert "now in your cart" not in body(response)
    assert not Cart.objects.exists()
