from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from shop.core import views as core_views

admin.site.site_header = f"{settings.SHOP_NAME} administration"
admin.site.site_title = settings.SHOP_NAME

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(("config.api_urls", "api"))),
    path("", include("shop.orders.urls")),
    path("account/", include("shop.accounts.urls")),
    path("cart/code/", include("marketing.discounts.urls")),
    path("analytics/", include("marketing.analytics.urls")),
    path("", include("loyalty.urls")),
    path("cart/", include("shop.cart.urls")),
    path("pages/", include("shop.pages.urls")),
    path("ads/", include("marketing.adboard.urls")),
    path("m/", include("marketing.campaigns.urls")),
    path("assistant/", include("marketing.assistant.web_urls")),
    path("healthz", core_views.health, name="health"),
    # The installable storefront: at the root, so that the service worker's scope is the whole store.
    path("manifest.webmanifest", core_views.web_manifest, name="web_manifest"),
    path("sw.js", core_views.service_worker, name="service_worker"),
    path("marketing/push/", include("marketing.campaigns.push_urls")),
    path("", include("shop.seo.urls")),  # robots.txt, sitemap.xml
    path("", include("shop.catalog.urls")),
]

if settings.SERVE_MEDIA:
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))

if settings.BENCH_VIEWS:
    urlpatterns += [
        path("bench/ceiling/", core_views.bench_ceiling, name="bench_ceiling"),
        path("bench/change/<slug:slug>/", core_views.bench_change, name="bench_change"),
    ]

handler400 = "shop.core.views.bad_request"
handler403 = "shop.core.views.permission_denied"
handler404 = "shop.core.views.not_found"
handler500 = "shop.core.views.server_error"

if settings.ANYMAIL_ESP:
    # The email service's webhooks (bounces, complaints), only with a service and its secret set:
    # without them the views could only fail.
    urlpatterns.append(path("marketing/esp/", include("anymail.urls")))
