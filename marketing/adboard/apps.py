from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdboardConfig(AppConfig):
    name = "marketing.adboard"
    label = "adboard"
    verbose_name = _("Ad board")

    def ready(self):
        from marketing.adboard import receivers  # noqa: F401  (the cached category tree follows its rows)
