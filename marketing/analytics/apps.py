from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "marketing.analytics"
    label = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from marketing.analytics import receivers  # noqa: F401  (records what the shop tracks and its orders)
