"""The shelves as shoppers, API clients and staff meet them: pages, the API, the admin, the command."""

import datetime as dt
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketing.analytics.models import Event
from marketing.recommendations import build
from marketing.recommendations.models import Build, Rule, Shelf, ShelfSetting
from shop.orders.models import OrderLine
from tests.factories import CartLineFactory, CategoryFactory, OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"}


def order(user, *products, paid=True):
    placed = NOW - dt.timedelta(days=3)
    made = OrderFactory(user=user, placed_at=placed, paid_at=placed if paid else None)
    for product in products:
        OrderLine.objects.create(
            order=made, product=product, sku=product.sku, name=product.name, unit_price=product.price, quantity=1,
            subtotal=product.price,
        )  # fmt: skip
    return made


@pytest.fixture
def store():
    shirts, trousers = CategoryFactory(name="Shirts", slug="shirts"), CategoryFactory(name="Trousers", slug="trousers")
    shirt = ProductFactory(category=shirts, name="Linen Shirt", slug="linen-shirt")
    other_shirt = ProductFactory(category=shirts, name="Oxford Shirt", slug="oxford-shirt")
    chinos = ProductFactory(category=trousers, name="Chinos", slug="chinos")
    for _i in range(3):
        order(UserFactory(), shirt, chinos)
    at = NOW - dt.timedelta(days=1)
    for _i in range(3):
        visit = uuid.uuid4()
        Event.objects.bulk_create(
            Event(name="view_item", at=at, day=at.date(), visit=visit, product=p) for p in (shirt, other_shirt)
        )
    build.build(now=NOW)
    return {"shirt": shirt, "other_shirt": other_shirt, "chinos": chinos}


def html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_a_product_page_shows_bought_together_and_viewed_together(client, store):
    page = html(client.get("/product/linen-shirt/", **BROWSER))
    bought = page.split('data-list="rec:bought_together"')[1].split("</ul>")[0]
    viewed = page.split('data-list="rec:viewed_together"')[1].split("</ul>")[0]
    assert "Frequently bought together" in page and "Chinos" in bought and "Often bought with Linen Shirt" in bought
    assert "Customers who viewed this also viewed" in page and "Oxford Shirt" in viewed
    assert "Linen Shirt</h3>" not in bought + viewed  # never the product itself
    assert page.index("rec:bought_together") < page.index('id="reviews"')


def test_the_home_page_recommends_from_what_the_visitor_just_viewed(client, store):
    first = html(client.get("/", **BROWSER))
    assert "Recommended for you" not in first and "Recently viewed" not in first
    assert 'data-list="rec:trending"' in first
    client.get("/product/linen-shirt/", **BROWSER)
    page = html(client.get("/", **BROWSER))
    assert 'data-list="rec:for_you"' in page and "Because you viewed Linen Shirt" in page
    recent = page.split('data-list="rec:recently_viewed"')[1].split("</ul>")[0]
    assert "Linen Shirt" in recent


def test_a_browser_that_asks_not_to_be_tracked_gets_no_personal_shelf(client, store):
    client.get("/product/linen-shirt/", HTTP_DNT="1", **BROWSER)
    page = html(client.get("/", HTTP_DNT="1", **BROWSER))
    assert "rec:for_you" not in page and "rec:recently_viewed" not in page


def test_the_cart_offers_what_completes_the_order(client, store):
    client.post(reverse("cart:add"), {"product": store["shirt"].pk, "quantity": 1})
    page = html(client.get(reverse("cart:detail")))
    shelf = page.split('data-list="rec:complete_order"')[1].split("</ul>")[0]
    assert "Complete your order" in page and "Chinos" in shelf


def test_the_order_confirmation_shows_what_goes_with_the_order(client, store, customer):
    client.force_login(customer)
    made = order(customer, store["shirt"])
    made.status = "paid"
    made.save()
    page = html(client.get(reverse("orders:detail", args=[made.number])))
    assert "Goes well with your order" in page and "Chinos" in page.split('data-list="rec:after_order"')[1]


def test_a_shelf_turned_off_by_staff_leaves_the_page(client, store):
    ShelfSetting.objects.update_or_create(shelf=Shelf.BOUGHT_TOGETHER, defaults={"enabled": False})
    page = html(client.get("/product/linen-shirt/", **BROWSER))
    assert "rec:bought_together" not in page and "rec:viewed_together" in page


def test_the_product_page_reads_as_many_queries_with_shelves_of_1_or_8(client, store):
    def queries(url):
        client.get(url, **BROWSER)
        with CaptureQueriesContext(connection) as captured:
            client.get(url, **BROWSER)
        return len(captured)

    few = queries("/product/linen-shirt/")  # one bought with it, one viewed with it
    for _i in range(8):
        partner = ProductFactory(category=CategoryFactory())
        order(UserFactory(), store["shirt"], partner)
    build.build(now=NOW)
    assert queries("/product/linen-shirt/") == few


def test_a_cart_shelf_costs_a_constant_number_of_queries(client, store):
    def queries():
        client.get(reverse("cart:detail"))
        with CaptureQueriesContext(connection) as captured:
            client.get(reverse("cart:detail"))
        return len(captured)

    client.post(reverse("cart:add"), {"product": store["shirt"].pk, "quantity": 1})
    one = queries()
    client.post(reverse("cart:add"), {"product": store["other_shirt"].pk, "quantity": 1})
    assert queries() == one


# -- API -----------------------------------------------------------------------------------------


def test_the_api_gives_a_product_s_shelf_with_reasons(api, store):
    response = api.get("/api/v1/products/linen-shirt/recommendations/?kind=bought_together")
    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "bought_together" and body["title"] == "Frequently bought together"
    first = body["results"][0]
    assert first["product"]["slug"] == "chinos" and first["product"]["price"] == "19.99"
    assert first["reason"] == "Often bought with Linen Shirt" and first["reason_code"] == "bought_with"


def test_the_api_refuses_what_it_cannot_answer(api, store):
    assert api.get("/api/v1/products/no-such-thing/recommendations/").status_code == 404
    store["shirt"].is_active = False
    store["shirt"].save()
    assert api.get("/api/v1/products/linen-shirt/recommendations/").status_code == 404
    response = api.get("/api/v1/recommendations/?kind=bought_together")
    assert response.status_code == 400 and "kind" in response.json()["errors"]


def test_the_api_gives_the_visitor_s_shelves(api, store):
    assert api.get("/api/v1/recommendations/?kind=trending").json()["results"]
    assert api.get("/api/v1/recommendations/", **BROWSER).json() == {
        "kind": "for_you",
        "title": "Recommended for you",
        "results": [],
    }


# -- admin -----------------------------------------------------------------------------------------


def test_staff_hide_shelves_in_bulk_and_see_their_figures(admin_client, store):
    response = admin_client.get(reverse("admin:recommendations_shelfsetting_changelist"))
    page = html(response)
    assert "Frequently bought together" in page and "Shown (30 days)" in page
    ids = list(ShelfSetting.objects.filter(shelf__in=["bought_together", "trending"]).values_list("pk", flat=True))
    response = admin_client.post(
        reverse("admin:recommendations_shelfsetting_changelist"),
        {"action": "turn_off", "_selected_action": ids},
        follow=True,
    )
    assert "2 shelves are now hidden." in html(response)
    assert not ShelfSetting.objects.get(shelf="bought_together").enabled


def test_staff_pin_a_product_and_shoppers_see_it_first(admin_client, client, store):
    lamp = ProductFactory(name="Brass Lamp")
    response = admin_client.post(
        reverse("admin:recommendations_rule_add"),
        {"product": store["shirt"].pk, "target": lamp.pk, "action": "pin", "position": 0, "note": ""},
    )
    assert response.status_code == 302
    page = html(client.get("/product/linen-shirt/", **BROWSER))
    shelf = page.split('data-list="rec:bought_together"')[1].split("</ul>")[0]
    assert shelf.index("Brass Lamp") < shelf.index("Chinos")
    assert "Our pick to go with Linen Shirt" in shelf


def test_a_product_cannot_be_pinned_on_its_own_page(admin_client, store):
    response = admin_client.post(
        reverse("admin:recommendations_rule_add"),
        {"product": store["shirt"].pk, "target": store["shirt"].pk, "action": "pin", "position": 0},
    )
    assert response.status_code == 200 and "never recommended on its own page" in response.content.decode()
    assert not Rule.objects.exists()


def test_staff_see_what_the_model_learned_in_a_constant_number_of_queries(admin_client, store):
    url = reverse("admin:recommendations_neighbours_changelist")
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        page = html(admin_client.get(url))
    assert "Chinos" in page
    for _i in range(6):
        order(UserFactory(), ProductFactory(), ProductFactory())
    build.build(now=NOW)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(few) == len(many)


def test_build_now_needs_the_permission_and_queues_a_build(client, store):
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_build"))
    client.force_login(clerk)
    url = reverse("admin:recommendations_build_now")
    assert client.get(url).status_code == 405
    client.post(url)
    assert Build.objects.count() == 1  # refused: only the fixture's build
    clerk.user_permissions.add(Permission.objects.get(codename="add_neighbours"))
    response = client.post(url, follow=True)
    assert "A build has been queued" in html(response)
    assert Build.objects.count() == 2  # eager in the tests: it ran


def test_the_command_builds_and_says_what_it_read(store, capsys):
    call_command("build_recommendations")
    out = capsys.readouterr().out
    assert "order lines read" in out and "Built:" in out


def test_a_customer_s_cart_line_is_not_recommended_back(client, customer, store):
    CartLineFactory(cart__user=customer, product=store["chinos"])
    client.force_login(customer)
    page = html(client.get(reverse("cart:detail")))
    assert "rec:complete_order" not in page or "Chinos</h3>" not in page.split('data-list="rec:complete_order"')[1]


def test_with_the_page_cache_on_a_pin_or_a_sell_out_shows_at_once(client, store, settings):
    settings.SHOP_PAGE_CACHE_SECONDS = 300
    lamp = ProductFactory(name="Brass Lamp")
    assert "Brass Lamp" not in html(client.get("/product/linen-shirt/", **BROWSER))
    Rule.objects.create(product=store["shirt"], target=lamp, action=Rule.Action.PIN)
    assert "Brass Lamp" in html(client.get("/product/linen-shirt/", **BROWSER))
    store["chinos"].stock = 0
    store["chinos"].save()
    shelf = html(client.get("/product/linen-shirt/", **BROWSER)).split('data-list="rec:bought_together"')[1]
    assert "Chinos" not in shelf.split("</ul>")[0]
