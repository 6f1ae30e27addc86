"""Stripe settings that must never reach production: the app refuses to start with them
(config/settings.py, when DEBUG is off) and `manage.py check --deploy` reports them.

The localstripe demo values are public (they are in this repository). A webhook secret
anyone can read lets anyone sign a `payment_intent.succeeded` for their own order; the
demo secret key sent to the real Stripe fails every payment. Stripe test keys
(sk_test_…) stay allowed: a staging store uses them with its own webhook secret.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register

LOCALSTRIPE_SECRET_KEY = "sk_test_localstripe"
LOCALSTRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"
LOCALSTRIPE_WEBHOOK_SECRET = "whsec_localstripe"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def stripe_settings_problems(
    *, secret_key: str, publishable_key: str, webhook_secret: str, api_base: str | None
) -> list[tuple[str, str]]:
    """(check id, message) for each Stripe setting a production store must not run with."""
    if secret_key == LOCALSTRIPE_SECRET_KEY:
        if urlsplit(api_base or "").hostname not in LOOPBACK:
            return [
                (
                    "payments.E002",
                    "STRIPE_SECRET_KEY is the localstripe demo key, but STRIPE_API_BASE is not a localstripe on "
                    "loopback: set your Stripe keys (sk_live_… or sk_test_…) and STRIPE_WEBHOOK_SECRET.",
                )
            ]
        return []  # the embedded store: localstripe on this machine, no real money
    problems = []
    if not webhook_secret or webhook_secret == LOCALSTRIPE_WEBHOOK_SECRET:
        problems.append(
            (
                "payments.E001",
                "STRIPE_WEBHOOK_SECRET is missing or the public localstripe value while real Stripe keys are set: "
                "anyone could sign a payment event. Set the signing secret of your Stripe webhook endpoint.",
            )
        )
    if publishable_key == LOCALSTRIPE_PUBLISHABLE_KEY:
        problems.append(
            (
                "payments.E003",
                "STRIPE_PUBLISHABLE_KEY is the localstripe demo key while a real STRIPE_SECRET_KEY is set: "
                "set the publishable key of the same Stripe account.",
            )
        )
    return problems


def current_problems() -> list[tuple[str, str]]:
    return stripe_settings_problems(
        secret_key=settings.STRIPE_SECRET_KEY,
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        api_base=settings.STRIPE_API_BASE,
    )


@register(Tags.security, deploy=True)
def check_stripe_settings(app_configs=None, **kwargs):
    """Deployment check: reported whatever DEBUG says, since `check --deploy` asks about production."""
    return [Error(message, id=check_id) for check_id, message in current_problems()]
