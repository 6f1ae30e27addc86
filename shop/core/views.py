from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def health(request):
    """For load balancers: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        # The API's one error shape (shop/core/api.py), for paths that match no route too.
        body = {"detail": _("There is no such API path. The list is at /api/v1/docs/."), "code": "not_found"}
        return JsonResponse(body, status=404)
    return render(request, "404.html", {"message": _("We could not find that page.")}, status=404)


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
    from shop.catalog.models import Product
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
            _take_stock([CartLine(product_id=product.pk, quantity=1)])
        else:
            Product.objects.filter(pk=product.pk).update(stock=F("stock") + 1)
    return JsonResponse({"kind": kind})
