from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "marketing.campaigns"
    label = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from marketing.campaigns import receivers  # noqa: F401  (flows start and stop on the shop's signals)
