from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiscountsConfig(AppConfig):
    name = "marketing.discounts"
    label = "discounts"
    verbose_name = _("Promotions")

    def ready(self):
        from marketing.discounts import receivers  # noqa: F401  (releases codes of closed orders)
