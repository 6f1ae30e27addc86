from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecommendationsConfig(AppConfig):
    name = "marketing.recommendations"
    label = "recommendations"
    verbose_name = _("Recommendations")

    def ready(self):
        from marketing.recommendations import receivers  # noqa: F401  (rules and settings forget cached shelves)
