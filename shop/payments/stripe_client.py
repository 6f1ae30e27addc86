"""The one Stripe client: localstripe on loopback unless real keys are configured (settings.STRIPE_API_BASE).

Every Stripe HTTP call in the store goes through `client()`, and none runs inside a
database transaction or while a row lock is held: a slow or failing Stripe must never
keep other writers waiting (tests/shop/payments/stripe_guard.py checks it in the tests).
"""

from __future__ import annotations

import threading

import requests
import stripe
from django.conf import settings

# Errors worth trying again later: Stripe did not answer, or answered "not now".
TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)
STRIPE_API = "https://api.stripe.com"

_local = threading.local()


def client() -> stripe.StripeClient:
    """This thread's client for the configured key and address, made once and reused: its HTTP
    connection stays open, so a checkout's calls do not each open one (a TLS handshake with Stripe)."""
    wanted = (settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)
    held = getattr(_local, "client", None)
    if held is None or held[0] != wanted:
        held = _local.client = (wanted, _new_client(*wanted))
    return held[1]


def _new_client(secret_key: str, api_base: str | None) -> stripe.StripeClient:
    # The environment's proxy settings (HTTPS_PROXY, NO_PROXY) for Stripe's address are read
    # once here: left to requests, every call would read the whole environment again.
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(api_base or STRIPE_API))
    kwargs = {"base_addresses": {"api": api_base}} if api_base else {}
    return stripe.StripeClient(
        secret_key, max_network_retries=1, http_client=stripe.RequestsClient(session=session), **kwargs
    )
