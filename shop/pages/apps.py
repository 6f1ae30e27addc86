from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PagesConfig(AppConfig):
    name = "shop.pages"
    verbose_name = _("Content pages")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from shop.pages import receivers  # noqa: F401
