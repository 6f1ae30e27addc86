from django.db import connection
from django.http import JsonResponse
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
