from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    label = "loyalty"
    verbose_name = _("Loyalty")

    def ready(self):
        from loyalty import receivers  # noqa: F401  (earning, reversing and rewards follow shop events)
