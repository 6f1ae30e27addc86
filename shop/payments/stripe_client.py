"""The one Stripe client: localstripe on loopback unless real keys are configured (settings.STRIPE_API_BASE).

Every Stripe HTTP call in the store goes through `client()`, and none runs inside a
database transaction or while a row lock is held: a slow or failing Stripe must never
keep other writers waiting (tests/shop/payments/stripe_guard.py checks it in the tests).
"""

from __future__ import annotations

import functools

import requests
import stripe
from django.conf import settings

# Errors worth trying again later: Stripe did not answer, or answered "not now".
TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)
STRIPE_API = "https://api.stripe.com"


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


@functools.lru_cache(maxsize=8)
def _client(secret_key: str, api_base: str | None) -> stripe.StripeClient:
    # One client per key and address, reused: its HTTP connections stay open (a thread-safe
    # pool), so a checkout's calls do not each open a new connection (a TLS handshake with
    # Stripe itself). The environment's proxy settings (HTTPS_PROXY, NO_PROXY) for that
    # address are read once, here: left to requests, every call would read them again.
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(api_base or STRIPE_API))
    kwargs = {"base_addresses": {"api": api_base}} if api_base else {}
    return stripe.StripeClient(
        secret_key, max_network_retries=1, http_client=stripe.RequestsClient(session=session), **kwargs
    )
