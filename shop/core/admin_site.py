"""The store's admin site: a home page with today's figures, and the apps in the order staff use them."""

from django.conf import settings
from django.contrib import admin

from shop.core.admin_home import home_figures


class StoreAdminSite(admin.AdminSite):
    def get_app_list(self, request, app_label=None):
        """SHOP_ADMIN_APP_ORDER first, in its order (orders, catalog, promotions...); any other app after
        them, alphabetically, so the technical ones (tokens, login attempts, groups) come last."""
        apps = super().get_app_list(request, app_label)
        order = {label: n for n, label in enumerate(settings.SHOP_ADMIN_APP_ORDER)}
        for app in apps:
            # Within an app, a ModelAdmin's `menu_order` puts what staff open most first (promotions before
            # their code batches); the others follow alphabetically.
            app["models"].sort(key=lambda m: (getattr(self._registry.get(m["model"]), "menu_order", 100), m["name"]))
        return sorted(apps, key=lambda app: (order.get(app["app_label"], len(order)), app["name"].lower()))

    def index(self, request, extra_context=None):
        extra_context = {"figures": home_figures(request), **(extra_context or {})}
        return super().index(request, extra_context)
