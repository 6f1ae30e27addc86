import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.http import Http404, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from shop.core import pwa


def health(request):
    """For load balancers: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_safe
def web_manifest(request):
    """The web app manifest: what a browser needs to install the store as an app."""
    home = reverse("catalog:home")
    icons = [
        {"src": static(f"shop/icons/{name}"), "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
        for name, size, purpose in pwa.ICONS
        if purpose != "badge"
    ]
    manifest = {
        "id": home,
        "name": settings.SHOP_NAME,
        "short_name": settings.SHOP_NAME[:12],
        "description": _("Clothing, beauty, home, electronics and outdoor gear."),
        "lang": get_language(),
        "start_url": home,
        "scope": home,
        "display": "standalone",
        "theme_color": pwa.THEME_COLOR,
        "background_color": pwa.BACKGROUND_COLOR,
        "icons": icons,
    }
    response = JsonResponse(
        manifest, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False}
    )
    patch_cache_control(response, public=True, max_age=24 * 3600)
    return response


@require_safe
def service_worker(request):
    """The service worker, at the site's root so that it may control every page of the store.

    Never kept by caches (no-cache: revalidated each time, answered 304 while unchanged), so a
    new release reaches browsers at their next visit."""
    store = {
        "name": settings.SHOP_NAME,
        "home": reverse("catalog:home"),
        "icon": static("shop/icons/icon-192.png"),
        "badge": static("shop/icons/badge-96.png"),
    }
    body = render_to_string("pwa/sw.js", {"store_json": json.dumps(store)})
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        body, content_type="text/javascript; charset=utf-8"
    )
    response["ETag"] = etag
    response["Service-Worker-Allowed"] = store["home"]
    patch_cache_control(response, no_cache=True)
    return response


def _api_error(status: int, detail: str, code: str) -> JsonResponse:
    # The API's one error shape (shop/core/api.py), for errors raised before DRF's own handler.
    return JsonResponse({"detail": detail, "code": code}, status=status)


def _error_page(request, status: int, title: str, message: str):
    return render(request, "error.html", {"title": title, "message": message, "status": status}, status=status)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return _api_error(404, _("There is no such API path. The list is at /api/v1/docs/."), "not_found")
    return _error_page(
        request,
        404,
        _("We could not find that page"),
        _("The link may be old, or the product may no longer be sold. Search for it, or start from a category."),
    )


def bad_request(request, exception=None):
    if request.path.startswith("/api/"):
        return _api_error(400, _("The request could not be read."), "bad_request")
    return _error_page(
        request,
        400,
        _("We could not understand that request"),
        _("Something in the address or the form was not as expected. Go back and try again, or start over."),
    )


def permission_denied(request, exception=None):
    if request.path.startswith("/api/"):
        return _api_error(403, _("You do not have permission to do this."), "permission_denied")
    return _error_page(
        request,
        403,
        _("This page is not open to you"),
        _("You may need to log in with another account. Your cart and your orders are safe."),
    )


def csrf_failure(request, reason=""):
    """A form sent without its security token (an old tab, cookies off): say how to go on."""
    return _error_page(
        request,
        403,
        _("Please send that form again"),
        _(
            "The page had been open a long time, or cookies are turned off for this store. "
            "Nothing was changed: go back, reload the page and send the form again."
        ),
    )


def server_error(request):
    """A 500: a page that needs no database and no context (whatever broke may be the database)."""
    if request.path.startswith("/api/"):
        return _api_error(500, _("Something went wrong on our side. Please try again in a moment."), "server_error")
    body = render_to_string("500.html")
    return HttpResponseServerError(body)


def bench_ceiling(request):
    """The benchmark's yardstick: 24 rows of the product table in a plain template."""
    from shop.catalog.models import Product

    products = Product.objects.only("name", "price")[:24]
    return render(request, "bench/ceiling.html", {"products": products})


def bench_change(request, slug):
    """The benchmark's catalog change (bench/web.py, "after a change"): one write as the store makes it.

    ?kind=price: a price edit as the admin saves it (the whole product through save(), in a
    transaction), moving the last cent back and forth so the price stays put over a run.
    ?kind=take: one unit taken as checkout takes stock (its guarded decrement, in a transaction).
    ?kind=restock: one unit given back as a cancelled order gives it back.
    """
    from shop.cart.models import CartLine
    from shop.catalog.models import Product, Variant
    from shop.orders.checkout import _take_stock

    kind = request.GET.get("kind", "price")
    if kind not in ("price", "take", "restock"):
        raise Http404("kind is price, take or restock")
    with transaction.atomic():
        product = Product.objects.filter(slug=slug).first()
        if product is None:
            raise Http404("no such product")
        if kind == "price":
            even_cents = int(product.price * 100) % 2 == 0
            product.price += Decimal("0.01") if even_cents else Decimal("-0.01")
            product.save()
        elif kind == "take":
            variant = product.variants.first()
            _take_stock([CartLine(product=product, variant=variant, quantity=1)])
        else:
            variant = product.variants.first()
            # The product's row first, as checkout locks them: product, then variant.
            Product.objects.filter(pk=product.pk).update(stock=F("stock") + 1)
            Variant.objects.filter(pk=variant.pk).update(stock=F("stock") + 1)
    return JsonResponse({"kind": kind})
