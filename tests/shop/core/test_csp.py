"""The Content-Security-Policy: every kind of page sends it, and no page needs more than it allows.

The browser's side (no violation reported while the pages run) is tests/e2e/test_csp.py.
"""

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from marketing.discounts.models import Promotion
from shop.cart.models import Cart
from shop.orders.checkout import ShippingAddress, checkout_place
from tests.factories import CartLineFactory, CategoryFactory, ProductFactory, ProductImageFactory, UserFactory
from tests.loyalty.helpers import rules

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
GUEST_DETAILS = {
    "email": "guest@example.org",
    "name": "Grace Hopper",
    "line1": "1 Compiler Lane",
    "line2": "",
    "city": "Arlington",
    "region": "VA",
    "postal_code": "22201",
    "country": "US",
    "phone": "",
    "shipping_method": "standard",
}
ADDRESS = ShippingAddress(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")
# What every page's policy says, whatever Stripe is in use.
EXPECTED = {
    "default-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_store_policy(response, stripe_origin: str) -> None:
    """The store's policy, with localstripe (the test's) as the one Stripe origin."""
    directives = policy(response)
    path = response.request["PATH_INFO"]
    for name, values in EXPECTED.items():
        assert directives.get(name) == values, (path, name, directives.get(name))
    assert directives["script-src"] == ["'self'", stripe_origin], path
    assert directives["connect-src"] == ["'self'", stripe_origin], path
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"], path
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"], path


# The policy forbids inline styles and scripts: a page that still had one would break in the browser.
INLINE = {
    "style attribute": re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.S),
    # (JSON data islands, JSON-LD included, do not run; a script with the request's nonce is allowed by name.)
    "inline script": re.compile(
        r"<script(?![^>]*\s(?:src|nonce)=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.S
    ),
    "<style> element": re.compile(r"<style[\s>]"),
    "event handler attribute": re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.S),
    "javascript: URL": re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
}


def assert_no_inline_code(response) -> None:
    html = response.content.decode()
    for kind, pattern in INLINE.items():
        found = pattern.search(html)
        assert found is None, f"{response.request['PATH_INFO']}: {kind}: {found and found.group(0)[:120]}"


@pytest.fixture
def lamp():
    category = CategoryFactory(name="Lighting", slug="lighting")
    lamp = ProductFactory(name="Brass Lamp", price=Decimal("30.00"), stock=5, category=category)
    ProductImageFactory(product=lamp)
    return lamp


@pytest.fixture
def stripe_origin(settings):
    """localstripe's address as the pay page would load Stripe.js from it (no server needed for the header)."""
    settings.STRIPE_API_BASE = "http://127.0.0.1:8999"
    return "http://127.0.0.1:8999"


def test_storefront_pages_send_the_policy_and_need_nothing_inline(client, lamp, stripe_origin):
    customer = UserFactory(email="owner@example.org")
    pages = [
        reverse("catalog:home"),
        lamp.category.get_absolute_url(),
        lamp.get_absolute_url(),
        reverse("catalog:products") + "?search=lamp",
        reverse("cart:detail"),
        reverse("accounts:login"),
        reverse("accounts:register"),
        reverse("accounts:password_reset"),
        reverse("orders:lookup"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_store_policy(response, stripe_origin)
        assert_no_inline_code(response)

    client.force_login(customer)
    for url in [reverse("accounts:profile"), reverse("loyalty:points"), reverse("orders:mine")]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_store_policy(response, stripe_origin)
        assert_no_inline_code(response)


def test_checkout_and_the_pay_page_send_the_policy_allowing_localstripe(client, lamp, localstripe):
    client.post(reverse("cart:add"), {"product": lamp.pk, "quantity": 1})
    response = client.get(reverse("cart:detail"))
    assert_store_policy(response, localstripe)
    assert_no_inline_code(response)

    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 200
    assert_store_policy(response, localstripe)
    assert_no_inline_code(response)

    client.post(reverse("orders:checkout"), GUEST_DETAILS)
    response = client.get(reverse("orders:review"))
    assert_store_policy(response, localstripe)
    assert_no_inline_code(response)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', response.content.decode()).group(1)
    pay_url = client.post(reverse("orders:review"), {"idempotency_key": key}).url

    response = client.get(pay_url)

    assert response.status_code == 200
    # The page loads Stripe.js from the origin the policy allows.
    assert f'<script src="{localstripe}/js.stripe.com/v3/"></script>' in response.content.decode()
    assert_store_policy(response, localstripe)
    assert_no_inline_code(response)


def test_with_real_stripe_keys_the_policy_allows_stripe_js_its_api_and_its_frames(client, settings):
    settings.STRIPE_API_BASE = None  # talk to Stripe itself: the pay page loads https://js.stripe.com/v3/

    directives = policy(client.get(reverse("catalog:home")))

    assert directives["script-src"] == ["'self'", "https://js.stripe.com", "https://*.js.stripe.com"]
    assert directives["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert directives["frame-src"] == [
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    ]
    for name, values in EXPECTED.items():
        assert directives[name] == values


def test_offline_the_policy_allows_localstripe_and_nothing_of_stripe_com(client, stripe_origin):
    header = client.get(reverse("catalog:home")).headers["Content-Security-Policy"]

    assert "stripe.com" not in header
    assert policy(client.get(reverse("catalog:home")))["frame-src"] == ["'self'"]


def test_the_api_and_its_docs_send_the_policy_and_the_docs_need_nothing_inline_but_their_nonced_script(
    client, stripe_origin
):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    assert_no_inline_code(response)
    # Swagger UI's settings are built per request: one inline script, allowed by this response's nonce only.
    nonce = re.search(r'<script nonce="([^"]+)">', response.content.decode()).group(1)
    assert policy(response)["script-src"] == ["'self'", f"'nonce-{nonce}'", stripe_origin]
    again = client.get(reverse("api:docs"))
    assert f"'nonce-{nonce}'" not in again.headers["Content-Security-Policy"]
    for name, values in EXPECTED.items():
        assert policy(response)[name] == values

    # Pages that use no nonce send none.
    assert_store_policy(client.get(reverse("catalog:home")), stripe_origin)
    assert_store_policy(client.get(reverse("api:product-list")), stripe_origin)


def _admin_urls(staff, *objects) -> list[str]:
    """Every registered model's list page, its add page where staff may add, and the given objects' change pages."""
    request = RequestFactory().get("/admin/")
    request.user = staff
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"{name}_add"))
    for obj in objects:
        urls.append(reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]))
    return urls


def test_admin_pages_send_the_policy_and_need_nothing_inline(client, staff, lamp, stripe_origin):
    program = rules(is_active=True)
    promotion = Promotion.objects.create(
        name="Ten off", kind="percentage", value=Decimal("10"), starts_at=timezone.now() - dt.timedelta(days=1)
    )
    customer = UserFactory(email="buyer@example.org")
    cart = Cart.objects.create(user=customer)
    CartLineFactory(cart=cart, product=lamp, quantity=1)
    order, _ = checkout_place(
        cart=cart, user=customer, email=customer.email, address=ADDRESS, shipping_method="standard"
    )
    client.force_login(staff)
    urls = _admin_urls(staff, program, promotion, order, lamp, lamp.category, customer) + [
        reverse("admin:app_list", args=["loyalty"]),
        reverse("admin:loyalty_account_overview"),
        reverse("admin:discounts_promotion_preview", args=[promotion.pk]),
        reverse("admin:catalog_product_import"),
    ]

    for url in urls:
        response = client.get(url, follow=True)  # the program's list goes to its one page
        assert response.status_code == 200, url
        assert_store_policy(response, stripe_origin)
        assert_no_inline_code(response)

    # A priced preview (the result box is coloured by class, not by style attribute).
    response = client.post(
        reverse("admin:discounts_promotion_preview", args=[promotion.pk]), {"product_1": lamp.pk, "quantity_1": 1}
    )
    assert response.status_code == 200
    assert 'id="preview-result"' in response.content.decode()
    assert_no_inline_code(response)


def test_no_template_has_inline_style_or_script():
    """The same rule on the template files, e-mails aside (mail clients need inline styles, and no CSP applies)."""
    templates = [
        path
        for folder in [ROOT / "templates", *ROOT.glob("*/templates"), *ROOT.glob("*/*/templates")]
        for path in folder.rglob("*.html")
        if "email" not in path.parts
    ]
    assert len(templates) > 40
    offenders = [
        f"{path.relative_to(ROOT)}: {kind}"
        for path in templates
        for kind, pattern in INLINE.items()
        if pattern.search(path.read_text())
    ]
    assert offenders == []
