from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "shop.payments"
    label = "payments"
    verbose_name = _("Payments")

    def ready(self):
        from shop.payments import checks  # noqa: F401  (registers the Stripe deployment checks)
