"""Every page the store adds to the admin, on a phone (390 px) and the promotions list on a laptop (1366 px):
none is wider than the screen. A wide table may scroll inside its own box; the page never scrolls sideways.
Screenshots: test-artifacts/e2e/admin-<width>-<page>.png."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from loyalty.models import Account
from marketing.adboard import services
from marketing.discounts.models import DiscountCode, Promotion
from shop.orders.models import Order
from tests.conftest import PASSWORD
from tests.e2e.conftest import ARTIFACTS
from tests.factories import OrderFactory, ProductFactory, StaffFactory, UserFactory
from tests.loyalty.helpers import give, rules
from tests.marketing.adboard.helpers import board_tree, make_ad, make_member

pytestmark = pytest.mark.django_db(transaction=True)
DASHBOARDS = ["sales", "funnel", "customers", "marketing", "forecast"]
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def store(settings):
    """An admin, a promotion with a long name and a code, orders that used it and points, a member with a
    history, products with long names."""
    settings.SHOP_LOW_STOCK = 5
    rules(is_active=True)
    staff = StaffFactory(email="admin@example.org")
    now = timezone.now()
    promotion = Promotion.objects.create(
        name="Yalda night: 50% off everything in the winter collection",
        kind="percentage",
        value=Decimal("50"),
        max_discount=Decimal("60"),
        starts_at=now - dt.timedelta(days=3),
        ends_at=now + dt.timedelta(days=5),
        usage_limit=500,
    )
    DiscountCode.objects.create(promotion=promotion, code="YALDA50")
    Promotion.objects.create(name="Automatic ten percent", kind="percentage", value=Decimal("10"), requires_code=False)
    products = [ProductFactory(name=f"Maison Lila Dewy Stick Foundation, shade {n}", stock=n) for n in range(4)]
    member = UserFactory(email="harper.walker.with.a.long.address@example.net")
    give(member, 77_000)
    order = OrderFactory(user=member, status="paid", subtotal=Decimal("153.97"), placed_at=now, paid_at=now)
    order.adjustments.create(kind="discount", label=promotion.name, amount=Decimal("-60"), source="discounts",
                             reference=f"{promotion.pk}|YALDA50")  # fmt: skip
    order.adjustments.create(kind="points", label="2,848 points", amount=Decimal("-28.48"), source="loyalty-points",
                             reference="points:2848")  # fmt: skip
    # A transactional test starts from an empty database: the board's starting tree is put back first.
    board_tree()
    ad = make_ad(owner=make_member(email="seller.with.a.rather.long.address@example.net"), status="pending",
                 title="Mid-century walnut sideboard, call 503 555 0142", category_slug="furniture")  # fmt: skip
    services.report(member, reason="spam", ad=ad)
    return {"staff": staff, "promotion": promotion, "order": order, "member": member, "products": products, "ad": ad}


def log_in(page: Page, email: str) -> None:
    page.goto("/admin/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def check(page: Page, name: str, width: int, wide: list) -> None:
    """Record the page if it is wider than the screen, and keep a screenshot to look at."""
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"admin-{width}-{name}.png", full_page=True)
    if not page.evaluate(FITS):
        wide.append((name, page.url, page.evaluate("document.documentElement.scrollWidth")))


def test_every_page_the_store_adds_to_the_admin_fits_a_phone(page: Page, live_server, store):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, store["staff"].email)
    promotion, order, member = store["promotion"], store["order"], store["member"]
    account = Account.objects.get(user=member)
    wide = []
    pages = {
        "home": "/admin/",
        "orders": "/admin/orders/order/",
        "order": f"/admin/orders/order/{order.pk}/change/",
        "ship": f"/admin/orders/order/{order.pk}/ship/",
        "refund": f"/admin/orders/order/{order.pk}/refund/",
        "promotions": "/admin/discounts/promotion/",
        "promotion": f"/admin/discounts/promotion/{promotion.pk}/change/",
        "preview": f"/admin/discounts/promotion/{promotion.pk}/preview/",
        "generate-codes": f"/admin/discounts/promotion/{promotion.pk}/generate-codes/",
        "loyalty-overview": "/admin/loyalty/account/overview/",
        "members": "/admin/loyalty/account/",
        "member": f"/admin/loyalty/account/{account.pk}/change/",
        "adjust-points": f"/admin/loyalty/account/{account.pk}/adjust/",
        "program": "/admin/loyalty/program/",
        "tiers": "/admin/loyalty/tier/",
        "ledger": "/admin/loyalty/ledgerentry/",
        "product-import": "/admin/catalog/product/import/",
        "shelves": "/admin/recommendations/shelfsetting/",
        "pins-and-blocks": "/admin/recommendations/rule/",
        "pin-add": "/admin/recommendations/rule/add/",
        "similar-products": "/admin/recommendations/neighbours/",
        "builds": "/admin/recommendations/build/",
        "ads": "/admin/adboard/ad/",
        "ad": f"/admin/adboard/ad/{store['ad'].pk}/change/",
        "ad-reject": f"/admin/adboard/ad/{store['ad'].pk}/reject/",
        **{f"dashboard-{name}": f"/admin/analytics/dashboard/{name}/" for name in DASHBOARDS},
    }
    for name, url in pages.items():
        response = page.goto(url)
        assert response.ok, (name, response.status)
        check(page, name, 390, wide)

    # Pages reached through a form: the cart preview's answer, the codes made, the products' stock form.
    page.goto(pages["preview"])
    product = store["products"][3]
    page.evaluate(
        """([pk, name]) => { const s = document.querySelector('select[name=product_1]');
           s.append(new Option(name, pk, true, true)); }""",
        [str(product.pk), product.name],
    )
    page.get_by_role("button", name="Price this cart").click()
    expect(page.locator(".preview-result")).to_be_visible()
    check(page, "preview-answer", 390, wide)

    page.goto(pages["generate-codes"])
    page.fill("input[name=count]", "30")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("ul.first-codes li")).to_have_count(10)
    check(page, "codes-made", 390, wide)

    page.goto("/admin/catalog/product/")
    page.locator("input[name=_selected_action]").first.check()
    page.select_option("select[name=action]", "set_stock")
    page.locator("button[name=index], input[name=index]").first.click()
    expect(page.locator("input[name=stock]")).to_be_visible()
    check(page, "set-stock", 390, wide)

    assert wide == [], f"wider than a 390 px screen: {wide}"


def test_the_promotions_list_fits_a_laptop_screen_without_scrolling_sideways(page: Page, live_server, store):
    for n in range(8):
        Promotion.objects.create(name=f"Spring sale number {n}: 15% off shoes and bags", kind="percentage",
                                 value=Decimal("15"))  # fmt: skip
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, store["staff"].email)

    page.goto("/admin/discounts/promotion/")

    expect(page.get_by_text("YALDA50")).to_be_visible()
    wide = []
    check(page, "promotions", 1366, wide)
    assert wide == []
    results = page.locator("#changelist .results")
    assert results.evaluate("e => e.scrollWidth <= e.clientWidth"), "the table itself fits: no scrolling inside it"
    # Every column's heading is on screen.
    for heading in ["Name", "Discount", "On", "Code", "Status", "Used"]:
        box = page.locator("#result_list thead th", has_text=heading).first.bounding_box()
        assert box and box["x"] + box["width"] <= 1366, heading


def test_the_order_page_reads_its_references_and_has_no_save_button(page: Page, live_server, store):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, store["staff"].email)
    order: Order = store["order"]

    page.goto(f"/admin/orders/order/{order.pk}/change/")

    expect(page.get_by_text("Code YALDA50 (promotion")).to_be_visible()
    expect(page.get_by_text("2,848 points spent")).to_be_visible()
    expect(page.locator("input[name=_save]")).to_have_count(0)
    assert "points:2848" not in page.content()
