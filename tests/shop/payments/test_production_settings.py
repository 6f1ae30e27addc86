"""Production fails closed on Stripe: the start-up refuses public demo values, and `check --deploy` reports them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import Tags, run_checks

from shop.payments.checks import stripe_settings_problems
from tests.production_env import PRODUCTION_ENV
from tests.shop.payments.test_webhooks import URL, intent_event, place_order

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION = PRODUCTION_ENV


def start(**env):
    """`manage.py check` as a production process would start, with these variables changed (None: unset)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DJANGO_", "BAZAAR_"))}
    merged = {**clean, **PRODUCTION, **env}
    merged = {k: v for k, v in merged.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=merged, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("secret", [None, "", "whsec_localstripe"], ids=["unset", "empty", "demo"])
def test_it_refuses_to_start_with_real_keys_and_no_real_webhook_secret(secret):
    result = start(STRIPE_WEBHOOK_SECRET=secret)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "STRIPE_WEBHOOK_SECRET" in result.stderr  # named
    # With this machine's stand-ins allowed (benchmarks), the Stripe rules still refuse a public secret.
    local = start(STRIPE_WEBHOOK_SECRET=secret, BAZAAR_LOCAL_SERVICES="1")
    assert local.returncode != 0
    assert "STRIPE_WEBHOOK_SECRET is missing or the public localstripe value" in local.stderr


def test_it_refuses_the_demo_key_when_it_would_reach_the_real_stripe():
    result = start(STRIPE_SECRET_KEY="sk_test_localstripe", STRIPE_API_BASE="")
    local = start(STRIPE_SECRET_KEY="sk_test_localstripe", STRIPE_API_BASE="", BAZAAR_LOCAL_SERVICES="1")

    assert result.returncode != 0
    assert "STRIPE_SECRET_KEY is the public localstripe demo value" in result.stderr
    assert local.returncode != 0
    assert "STRIPE_SECRET_KEY is the localstripe demo key" in local.stderr


@pytest.mark.parametrize(
    "env",
    [
        {},  # live keys, their own webhook secret
        {"STRIPE_SECRET_KEY": "sk_test_staging1", "STRIPE_PUBLISHABLE_KEY": "pk_test_staging1"},  # staging
        # Production settings with this machine's stand-ins (a benchmark): localstripe on loopback, nothing
        # real to forge, allowed only when asked for.
        {
            "BAZAAR_LOCAL_SERVICES": "1",
            "STRIPE_SECRET_KEY": "sk_test_localstripe",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_localstripe",
            "STRIPE_WEBHOOK_SECRET": "whsec_localstripe",
            "STRIPE_API_BASE": "http://127.0.0.1:8121",
        },
    ],
    ids=["live", "staging-test-keys", "localstripe-on-loopback"],
)
def test_it_starts_with_settings_that_are_right(env):
    result = start(**env)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("settings_", "ids"),
    [
        ({"webhook_secret": ""}, ["payments.E001"]),
        ({"webhook_secret": "whsec_localstripe"}, ["payments.E001"]),
        ({"publishable_key": "pk_test_localstripe"}, ["payments.E003"]),
        ({"secret_key": "sk_test_localstripe", "api_base": None}, ["payments.E002"]),
        ({"secret_key": "sk_test_localstripe", "api_base": "https://api.stripe.com"}, ["payments.E002"]),
        ({"secret_key": "sk_test_localstripe", "api_base": "http://localhost:8420"}, []),
        ({"secret_key": "sk_test_staging"}, []),
        ({}, []),
    ],
)
def test_the_rules(settings_, ids):
    base = {
        "secret_key": "sk_live_1",
        "publishable_key": "pk_live_1",
        "webhook_secret": "whsec_real",
        "api_base": None,
    }
    assert [i for i, _message in stripe_settings_problems(**{**base, **settings_})] == ids


def test_check_deploy_reports_them(settings):
    settings.STRIPE_SECRET_KEY = "sk_live_1"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_live_1"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_localstripe"

    deploy = run_checks(tags=[Tags.security], include_deployment_checks=True)
    plain = run_checks(tags=[Tags.security], include_deployment_checks=False)

    assert [e.id for e in deploy if e.id.startswith("payments.")] == ["payments.E001"]
    assert not [e for e in plain if e.id.startswith("payments.")]


@pytest.mark.django_db
def test_a_forged_succeeded_event_cannot_pay_a_guest_order_in_production(api, localstripe, sign_stripe_event, settings):
    """Production-like: DEBUG off, the store's own webhook secret. The attacker signs with the public demo secret."""
    settings.DEBUG = False
    settings.STRIPE_WEBHOOK_SECRET = "whsec_the_stores_own_secret"
    order = place_order()
    payment = order.payments.get()
    body, header = sign_stripe_event(intent_event(payment), secret="whsec_localstripe")

    response = api.generic("POST", URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)

    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert order.paid_at is None
    # And even with the right signature, a body saying "succeeded" pays nothing Stripe has not seen paid.
    body, header = sign_stripe_event(intent_event(payment))
    response = api.generic("POST", URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "pending_payment"
