"""The Content-Security-Policy in a real browser: the store's pages, the pay page with localstripe's
Stripe.js, the admin and the API docs run without a single violation, and the policy is enforced.

The header itself, page by page, is tested in tests/shop/core/test_csp.py.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from marketing.discounts.models import Promotion
from shop.orders.models import Order
from tests.conftest import PASSWORD
from tests.e2e.test_checkout_journey import GOOD_CARD, add_to_cart_and_fill_the_details, fill_card, review_and_place
from tests.factories import ProductFactory, ProductImageFactory, StaffFactory, UserFactory
from tests.loyalty.helpers import give, rules

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs in every page before its own scripts: keeps each violation the browser reports.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
});
"""


class Violations:
    """What the browser reported on the pages visited: securitypolicyviolation events and console errors."""

    def __init__(self, page: Page):
        self.page = page
        self.console: list[str] = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._on_console)

    def _on_console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(f"{self.page.url}: {message.text}")

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        self.check()

    def check(self) -> None:
        events = self.page.evaluate("window.__csp || []")
        assert events == [], f"{self.page.url}: {events}"
        assert self.console == []


def no_shot(step: str) -> None:
    """The checkout journey's steps, without its screenshots."""


@pytest.fixture
def lamp():
    lamp = ProductFactory(name="Brass Desk Lamp", slug="brass-desk-lamp", price=Decimal("30.00"), stock=3)
    ProductImageFactory(product=lamp, alt_text="Brass Desk Lamp")
    return lamp


@pytest.fixture
def violations(page: Page) -> Violations:
    return Violations(page)


def test_the_storefront_and_the_pay_page_run_without_a_violation(
    page: Page, live_server, localstripe, lamp, violations
):
    rules(is_active=True)
    for url in ["/", lamp.category.get_absolute_url(), lamp.get_absolute_url(), "/products/?search=lamp"]:
        violations.visit(url)

    add_to_cart_and_fill_the_details(page, lamp, no_shot)
    violations.check()
    number = review_and_place(page, no_shot)
    violations.check()

    # localstripe's Stripe.js loads, mounts its card form and calls its API: all allowed.
    fill_card(page, GOOD_CARD)
    page.get_by_role("button", name="Pay $35.00").click()
    expect(page.get_by_role("heading", level=1, name="Thank you! Your order is confirmed.")).to_be_visible()
    violations.check()
    assert Order.objects.get(number=number).status == "paid"


def test_account_pages_run_without_a_violation(page: Page, live_server, violations):
    rules(is_active=True)
    member = UserFactory(email="ada@example.org")
    give(member, 1500)
    violations.visit("/account/login/")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("navigation", name="Account").get_by_role("button", name="Log out")).to_be_visible()
    for url in [reverse("accounts:profile"), reverse("loyalty:points"), reverse("orders:mine")]:
        violations.visit(url)


def test_the_admin_runs_without_a_violation(page: Page, live_server, lamp, violations):
    program = rules(is_active=True)
    promotion = Promotion.objects.create(
        name="Ten off", kind="percentage", value=Decimal("10"), starts_at=timezone.now() - dt.timedelta(days=1)
    )
    StaffFactory(email="staff@example.org")
    violations.visit("/admin/login/")
    page.get_by_label("Email").fill("staff@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    violations.check()

    for url in [
        reverse("admin:catalog_category_changelist"),
        reverse("admin:catalog_product_changelist"),
        reverse("admin:catalog_product_change", args=[lamp.pk]),
        reverse("admin:orders_order_changelist"),
        reverse("admin:discounts_promotion_changelist"),
        reverse("admin:discounts_promotion_change", args=[promotion.pk]),
        reverse("admin:app_list", args=["loyalty"]),
        reverse("admin:loyalty_account_changelist"),
        reverse("admin:loyalty_tier_changelist"),
        reverse("admin:loyalty_ledgerentry_changelist"),
        reverse("admin:loyalty_account_overview"),
    ]:
        violations.visit(url)

    # The program rules page: its example follows the fields as they are typed (a script file now).
    violations.visit(reverse("admin:loyalty_program_change", args=[program.pk]))
    example = page.locator("#rules-example")
    page.locator("#id_min_redeem_points").fill("700")
    expect(example.locator('[data-live="min"]')).to_have_text("700")
    violations.check()

    # The preview's product picker (select2, fed by the admin's autocomplete view).
    violations.visit(reverse("admin:discounts_promotion_preview", args=[promotion.pk]))
    page.locator("#id_product_1 + .select2").click()
    page.locator(".select2-search__field").fill("Brass")
    page.get_by_role("option", name=re.compile("Brass Desk Lamp")).click()
    page.get_by_role("button", name="Price this cart").click()
    expect(page.locator("#preview-result")).to_contain_text("It applies.")
    violations.check()


def test_the_api_docs_run_without_a_violation(page: Page, live_server, violations):
    violations.visit(reverse("api:docs"))
    expect(page.get_by_role("heading", name=re.compile("Bazaar API"))).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    violations.check()


def test_the_browser_enforces_the_policy(page: Page, live_server, violations):
    """An injected inline script does not run, and is reported: the policy is on, and the checks above can see."""
    page.goto("/")
    page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "window.__ran = true";
                   document.body.appendChild(s); }"""
    )
    for _ in range(100):  # evaluate() in a loop: wait_for_function compiles its predicate in the page (CSP: no eval)
        if page.evaluate("window.__csp.length > 0"):
            break
        page.wait_for_timeout(50)
    assert page.evaluate("window.__ran === undefined")
    assert any(v.startswith("script-src-elem blocked inline") for v in page.evaluate("window.__csp"))
