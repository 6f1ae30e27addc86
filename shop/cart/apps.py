from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CartConfig(AppConfig):
    name = "shop.cart"
    label = "cart"
    verbose_name = _("Carts")

    def ready(self):
        from shop.cart import receivers  # noqa: F401  (connects the login merge)
