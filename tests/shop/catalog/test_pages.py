import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shop.catalog.models import Product
from tests.factories import CartLineFactory, CategoryFactory, ProductFactory, ProductImageFactory, ReviewFactory

pytestmark = pytest.mark.django_db

PRODUCTS = reverse("catalog:products")


def names(response) -> list[str]:
    """Product names in the order the page lists them (the cards' titles; not the popular products
    a list with no results offers instead)."""
    results = html(response).split('<div class="no-results">')[0]
    return [unescape(name) for name in re.findall(r'<h3 class="card-title">(.*?)</h3>', results)]


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def tree():
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    women = CategoryFactory(name="Women", slug="women", parent=clothing)
    dresses = CategoryFactory(name="Dresses", slug="dresses", parent=women)
    beauty = CategoryFactory(name="Beauty", slug="beauty")
    return {"clothing": clothing, "women": women, "dresses": dresses, "beauty": beauty}


# Home


def test_it_shows_featured_new_and_on_sale_sections_on_the_home_page(client):
    featured = ProductFactory(name="Featured Lamp", is_featured=True)
    sale = ProductFactory(name="Sale Kettle", price=Decimal("8.00"), compare_at_price=Decimal("10.00"))
    newest = ProductFactory(name="Brand New Mug", created_at=timezone.now() + dt.timedelta(minutes=1))
    hidden = ProductFactory(name="Hidden Chair", is_featured=True, is_active=False)

    response = client.get(reverse("catalog:home"))

    assert response.status_code == 200
    sections = response.context["sections"]  # the ids of each section's products
    assert featured.pk in sections["featured"]
    assert sale.pk in sections["on_sale"]
    assert sections["new"][0] == newest.pk
    assert all(hidden.pk not in section for section in sections.values())
    body = html(response)
    for text in ("Featured", "On sale", "New arrivals", "Featured Lamp", "Sale Kettle", "Brand New Mug"):
        assert text in body
    assert "Hidden Chair" not in body


def test_it_leaves_out_of_stock_products_from_featured_and_on_sale(client):
    gone = ProductFactory(name="Gone Featured", is_featured=True, stock=0)
    ProductFactory(name="Gone Sale", stock=0, price=Decimal("1.00"), compare_at_price=Decimal("2.00"))

    response = client.get(reverse("catalog:home"))

    sections = response.context["sections"]
    assert sections["featured"] == []
    assert sections["on_sale"] == []
    assert gone.pk in sections["new"]


def test_it_caps_each_home_section_at_eight(client):
    ProductFactory.create_batch(10, is_featured=True)

    response = client.get(reverse("catalog:home"))

    assert len(response.context["sections"]["featured"]) == 8
    assert len(response.context["sections"]["new"]) == 8


# Category page


def test_it_lists_products_of_a_category_and_its_sub_categories(client, tree):
    ProductFactory(name="Silk Dress", category=tree["dresses"])
    ProductFactory(name="Wool Coat", category=tree["clothing"])
    ProductFactory(name="Lipstick", category=tree["beauty"])

    response = client.get(reverse("catalog:category", kwargs={"slug": "clothing"}))

    assert response.status_code == 200
    assert sorted(names(response)) == ["Silk Dress", "Wool Coat"]
    assert "Lipstick" not in html(response)


def test_it_shows_breadcrumbs_from_the_root_on_a_category_page(client, tree):
    response = client.get(reverse("catalog:category", kwargs={"slug": "dresses"}))

    assert [c.slug for c in response.context["breadcrumbs"]] == ["clothing", "women", "dresses"]
    crumbs = re.search(r'<nav aria-label="Breadcrumb".*?</nav>', html(response), re.S).group(0)
    assert crumbs.index("Home") < crumbs.index("Clothing") < crumbs.index("Women") < crumbs.index("Dresses")
    assert 'href="/category/clothing/"' in crumbs
    assert '<span aria-current="page">Dresses</span>' in crumbs


def test_it_answers_404_for_an_unknown_category(client):
    response = client.get(reverse("catalog:category", kwargs={"slug": "no-such-thing"}))

    assert response.status_code == 404
    assert "We could not find that page" in html(response)


def test_it_hides_inactive_products_from_lists(client, tree):
    ProductFactory(name="Visible", category=tree["beauty"])
    ProductFactory(name="Retired", category=tree["beauty"], is_active=False)

    response = client.get(reverse("catalog:category", kwargs={"slug": "beauty"}))

    assert names(response) == ["Visible"]


# Product page


def test_it_shows_a_product_with_its_images_and_alt_text(client, tree):
    product = ProductFactory(name="Silk Dress", category=tree["dresses"])
    ProductImageFactory(product=product, alt_text="Front of the silk dress", position=0)
    ProductImageFactory(product=product, alt_text="", position=1)

    response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    body = html(response)
    assert 'alt="Front of the silk dress"' in body
    assert 'alt="Silk Dress"' in body  # an empty alt text falls back to the product name
    assert body.index("Front of the silk dress") < body.index('alt="Silk Dress"')
    assert [c.slug for c in response.context["breadcrumbs"]] == ["clothing", "women", "dresses"]


def test_it_shows_the_was_price_when_a_product_is_on_sale(client):
    product = ProductFactory(price=Decimal("80.00"), compare_at_price=Decimal("100.00"))

    body = html(client.get(product.get_absolute_url()))

    assert "$80.00" in body
    assert "was <s>$100.00</s>" in body
    assert "Save 20%" in body


def test_it_shows_no_was_price_when_a_product_is_not_on_sale(client):
    product = ProductFactory(price=Decimal("80.00"))

    body = html(client.get(product.get_absolute_url()))

    assert "$80.00" in body
    assert "<s>" not in body


@pytest.mark.parametrize(
    ("stock", "text", "can_buy"),
    [(0, "Out of stock", False), (3, "Only 3 left in stock", True), (50, "In stock", True)],
)
def test_it_shows_the_stock_status(client, settings, stock, text, can_buy):
    settings.SHOP_LOW_STOCK = 5
    product = ProductFactory(stock=stock)

    body = html(client.get(product.get_absolute_url()))

    assert text in body
    assert ("Add to cart" in body) is can_buy


def test_it_offers_at_most_the_stock_in_the_quantity_picker(client):
    product = ProductFactory(stock=3)

    response = client.get(product.get_absolute_url())

    assert list(response.context["quantity_range"]) == [1, 2, 3]


def test_it_answers_404_for_an_inactive_product(client):
    product = ProductFactory(is_active=False)

    response = client.get(product.get_absolute_url())

    assert response.status_code == 404
    assert product.name not in html(response)


def test_it_answers_404_for_an_unknown_product(client):
    response = client.get(reverse("catalog:product", kwargs={"slug": "nope"}))

    assert response.status_code == 404


def test_it_shows_reviews_on_the_product_page(client):
    product = ProductFactory()
    ReviewFactory(product=product, rating=5, title="Simply the best")

    body = html(client.get(product.get_absolute_url()))

    assert "Simply the best" in body
    assert "5 out of 5 stars" in body


# Search


def test_it_searches_names_descriptions_and_skus(client):
    ProductFactory(name="Blue Linen Shirt", sku="S-1")
    ProductFactory(name="Red Scarf", description="Soft blue wool", sku="S-2")
    ProductFactory(name="Green Hat", sku="ZX-99")
    ProductFactory(name="Yellow Boots", sku="S-3")

    assert sorted(names(client.get(PRODUCTS, {"search": "blue"}))) == ["Blue Linen Shirt", "Red Scarf"]
    assert names(client.get(PRODUCTS, {"search": "zx-99"})) == ["Green Hat"]


def test_it_requires_every_search_word_to_match(client):
    ProductFactory(name="Blue Linen Shirt")
    ProductFactory(name="Blue Wool Sweater")

    response = client.get(PRODUCTS, {"search": "linen BLUE"})

    assert names(response) == ["Blue Linen Shirt"]
    assert "Results for “linen BLUE”" in html(response)


def test_it_says_so_when_nothing_matches(client):
    ProductFactory(name="Blue Linen Shirt")

    response = client.get(PRODUCTS, {"search": "tractor"})

    assert response.status_code == 200
    assert names(response) == []
    assert "No products match" in html(response)
    assert "0 products" in html(response)


def test_it_escapes_the_search_text(client):
    response = client.get(PRODUCTS, {"search": "<script>alert(1)</script>"})

    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html(response)


def test_it_never_shows_inactive_products_in_search(client):
    ProductFactory(name="Retired Lamp", is_active=False)

    assert names(client.get(PRODUCTS, {"search": "lamp"})) == []


# Filters


@pytest.fixture
def priced():
    ProductFactory(name="Cheap", price=Decimal("5.00"), stock=0)
    ProductFactory(name="Middle", price=Decimal("20.00"), compare_at_price=Decimal("25.00"))
    ProductFactory(name="Dear", price=Decimal("100.00"))


def test_it_filters_by_price_range_inclusively(client, priced):
    assert sorted(names(client.get(PRODUCTS, {"min_price": "5", "max_price": "20.00"}))) == ["Cheap", "Middle"]
    assert sorted(names(client.get(PRODUCTS, {"min_price": "20.01"}))) == ["Dear"]
    assert sorted(names(client.get(PRODUCTS, {"max_price": "4.99"}))) == []


def test_it_filters_products_in_stock(client, priced):
    assert sorted(names(client.get(PRODUCTS, {"in_stock": "true"}))) == ["Dear", "Middle"]
    assert sorted(names(client.get(PRODUCTS, {"in_stock": "false"}))) == ["Cheap", "Dear", "Middle"]


def test_it_filters_products_on_sale(client, priced):
    assert names(client.get(PRODUCTS, {"on_sale": "true"})) == ["Middle"]


def test_it_combines_filters_with_a_category(client, tree):
    ProductFactory(name="Cheap Dress", category=tree["dresses"], price=Decimal("10.00"))
    ProductFactory(name="Dear Dress", category=tree["dresses"], price=Decimal("300.00"))
    ProductFactory(name="Cheap Lipstick", category=tree["beauty"], price=Decimal("10.00"))

    response = client.get(reverse("catalog:category", kwargs={"slug": "clothing"}), {"max_price": "50"})

    assert names(response) == ["Cheap Dress"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_price": "-5"}, "Ensure this value is greater than or equal to 0."),
        ({"max_price": "-0.01"}, "Ensure this value is greater than or equal to 0."),
        ({"min_price": "abc"}, "Enter a number."),
        ({"max_price": "ten"}, "Enter a number."),
        ({"min_price": "50", "max_price": "10"}, "The maximum price must not be below the minimum price."),
    ],
)
def test_it_answers_400_with_a_message_for_a_bad_price(client, priced, params, message):
    response = client.get(PRODUCTS, params)

    assert response.status_code == 400
    body = html(response)
    assert "Some filters could not be used:" in body
    assert message in body
    assert 'aria-invalid="true"' in body
    assert response.context["page"] is None


def test_it_answers_400_for_an_unknown_sort(client, priced):
    response = client.get(PRODUCTS, {"ordering": "random"})

    assert response.status_code == 400
    assert "Select a valid choice" in html(response)


def test_it_answers_400_for_an_unknown_category_filter(client, priced):
    response = client.get(PRODUCTS, {"category": "nowhere"})

    assert response.status_code == 400
    assert "There is no category “nowhere”." in html(response)


# Sorting


@pytest.fixture
def sortable():
    now = timezone.now()
    a = ProductFactory(name="Apple", price=Decimal("30.00"), created_at=now - dt.timedelta(days=3))
    b = ProductFactory(name="banana", price=Decimal("10.00"), created_at=now - dt.timedelta(days=1))
    c = ProductFactory(name="Cherry", price=Decimal("20.00"), created_at=now - dt.timedelta(days=2))
    ProductFactory(name="Durian", price=Decimal("15.00"), created_at=now)
    # The rating sorts read the Bayesian score; the counts must add up (a check constraint).
    Product.objects.filter(pk=a.pk).update(
        rating_score=Decimal("4.5"), rating_count=2, rating_sum=9, stars_4=1, stars_5=1
    )
    Product.objects.filter(pk=b.pk).update(rating_score=Decimal("2.0"), rating_count=1, rating_sum=2, stars_2=1)
    Product.objects.filter(pk=c.pk).update(rating_score=Decimal("5.0"), rating_count=1, rating_sum=5, stars_5=1)


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["banana", "Durian", "Cherry", "Apple"]),
        ("-price", ["Apple", "Cherry", "Durian", "banana"]),
        ("name", ["Apple", "Cherry", "Durian", "banana"]),
        ("-name", ["banana", "Durian", "Cherry", "Apple"]),
        ("-created", ["Durian", "banana", "Cherry", "Apple"]),
        ("-rating", ["Cherry", "Apple", "banana", "Durian"]),  # unrated last
        ("rating", ["banana", "Apple", "Cherry", "Durian"]),  # unrated last
    ],
)
def test_it_sorts_products(client, sortable, ordering, expected):
    response = client.get(PRODUCTS, {"ordering": ordering})

    assert response.status_code == 200
    assert names(response) == expected
    assert f'<option value="{ordering}" selected>' in html(response)


def test_it_sorts_newest_first_by_default(client, sortable):
    assert names(client.get(PRODUCTS)) == ["Durian", "banana", "Cherry", "Apple"]


# Pagination


@pytest.fixture
def seven_products(settings):
    settings.SHOP_PAGE_SIZE = 3
    ProductFactory.create_batch(7)


def test_it_splits_the_list_into_pages(client, seven_products):
    first = client.get(PRODUCTS)
    last = client.get(PRODUCTS, {"page": "3"})

    assert len(names(first)) == 3
    assert "Page 1 of 3" in html(first)
    assert "7 products" in html(first)
    assert 'rel="next"' in html(first)
    assert len(names(last)) == 1
    assert 'rel="next"' not in html(last)
    assert 'rel="prev"' in html(last)


def test_it_keeps_filters_in_the_pagination_links(client, seven_products):
    body = html(client.get(PRODUCTS, {"ordering": "price", "in_stock": "true"}))

    next_link = re.search(r'<a href="\?([^"]*)" rel="next"', body).group(1)
    assert "ordering=price" in next_link
    assert "in_stock=true" in next_link
    assert "page=2" in next_link


def test_it_shows_each_product_once_across_pages(client, seven_products):
    seen = []
    for page in (1, 2, 3):
        seen += names(client.get(PRODUCTS, {"page": str(page), "ordering": "price"}))

    assert sorted(seen) == sorted(Product.objects.values_list("name", flat=True))


def test_it_answers_404_with_a_message_for_a_page_past_the_end(client, seven_products):
    response = client.get(PRODUCTS, {"page": "9999"})

    assert response.status_code == 404
    assert "There is no page 9999: this list has 3 page(s)." in html(response)
    assert "Go to the first page" in html(response)


@pytest.mark.parametrize("page", ["abc", "1.5"])
def test_it_answers_400_with_a_message_for_a_page_that_is_not_a_number(client, seven_products, page):
    response = client.get(PRODUCTS, {"page": page})

    assert response.status_code == 400
    assert "The page number must be a whole number." in html(response)


def test_it_answers_404_for_page_zero(client, seven_products):
    response = client.get(PRODUCTS, {"page": "0"})

    assert response.status_code == 404


# Query counts: the same number of queries whatever the number of rows


def count_queries(client, url, **params) -> int:
    """Queries of a warm request: the first one may fill caches (the category tree)."""
    client.get(url, params)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def make_products(n, category):
    for product in ProductFactory.create_batch(n, category=category, compare_at_price=Decimal("30.00")):
        ProductImageFactory(product=product)
        ProductImageFactory(product=product, position=1)
        ReviewFactory(product=product)


def test_it_runs_as_many_queries_for_4_products_as_for_24(client, settings, tree):
    settings.SHOP_PAGE_SIZE = 4
    make_products(4, tree["dresses"])
    url = reverse("catalog:category", kwargs={"slug": "clothing"})
    small = count_queries(client, url)

    settings.SHOP_PAGE_SIZE = 24
    make_products(20, tree["women"])
    large = count_queries(client, url)

    assert len(client.get(url).context["page"].object_list) == 24
    assert small == large


def test_it_runs_as_many_queries_on_the_home_page_whatever_the_number_of_products(client, tree):
    make_products(1, tree["dresses"])
    Product.objects.update(is_featured=True)
    small = count_queries(client, reverse("catalog:home"))
    make_products(12, tree["dresses"])
    Product.objects.update(is_featured=True)

    assert count_queries(client, reverse("catalog:home")) == small


def test_it_runs_as_many_queries_for_a_product_with_one_image_as_with_many(client, tree):
    few = ProductFactory(category=tree["dresses"])
    ProductImageFactory(product=few)
    ReviewFactory(product=few)
    many = ProductFactory(category=tree["dresses"])
    for position in range(6):
        ProductImageFactory(product=many, position=position)
    ReviewFactory.create_batch(8, product=many)

    assert count_queries(client, few.get_absolute_url()) == count_queries(client, many.get_absolute_url())


@pytest.fixture
def no_shelves(settings):
    """The cart's own queries: the shelves below it (other apps', settings.SHOP_SHELVES) show other
    products as the cart changes, and count their own queries in their own tests."""
    settings.SHOP_SHELVES = {}


@pytest.mark.usefixtures("no_shelves")
def test_it_runs_as_many_queries_for_a_cart_of_1_line_as_of_12(client, tree):
    products = ProductFactory.create_batch(12, category=tree["dresses"])
    for product in products:
        ProductImageFactory(product=product)
    client.post(reverse("cart:add"), {"product": products[0].pk, "quantity": 1})
    small = count_queries(client, reverse("cart:detail"))
    cart_line = products[0]
    for product in products[1:]:
        client.post(reverse("cart:add"), {"product": product.pk, "quantity": 2})
    large = count_queries(client, reverse("cart:detail"))

    assert len(client.get(reverse("cart:detail")).context["priced"].lines) == 12
    assert cart_line.name in html(client.get(reverse("cart:detail")))
    assert small == large


@pytest.mark.usefixtures("no_shelves")
def test_it_runs_as_many_queries_for_a_customers_cart_of_1_line_as_of_12(client, customer, tree):
    products = ProductFactory.create_batch(12, category=tree["dresses"])
    client.force_login(customer)
    CartLineFactory(cart__user=customer, product=products[0])
    small = count_queries(client, reverse("cart:detail"))
    cart = customer.cart
    for product in products[1:]:
        ProductImageFactory(product=product)
        CartLineFactory(cart=cart, product=product, quantity=3)

    assert count_queries(client, reverse("cart:detail")) == small
