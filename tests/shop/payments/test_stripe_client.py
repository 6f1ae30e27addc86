"""The Stripe client reads the environment's proxy settings once, when it is made (requests would on every call)."""

import pytest

from shop.payments.stripe_client import _client


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def session_of(stripe_client):
    return stripe_client._requestor._client._session


def test_it_goes_through_the_https_proxy_of_the_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")

    session = session_of(_client.__wrapped__("sk_test_x", None))

    assert session.proxies == {"https": "http://proxy.internal:3128"}
    assert session.trust_env is False  # so requests does not read the environment again on every call


def test_it_skips_the_proxy_for_an_address_the_environment_exempts(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    assert session_of(_client.__wrapped__("sk_test_x", "http://127.0.0.1:12111")).proxies == {}
    assert session_of(_client.__wrapped__("sk_test_x", None)).proxies["https"] == "http://proxy.internal:3128"
