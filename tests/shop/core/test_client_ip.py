"""Who the client is (shop/core/ratelimit.py client_ip): one setting, SHOP_TRUSTED_PROXIES, for every limit."""

import time

import pytest
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.request import Request
from rest_framework.views import APIView

from shop.core import ratelimit
from shop.core.ratelimit import client_ip

PROXY = "10.0.0.5"
LOOKUP = reverse("orders:lookup")


def request_from(remote_addr: str | None, forwarded: str | None = None):
    meta = {}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)
    if remote_addr is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote_addr
    return request


# The function


def test_without_trusted_proxies_the_connection_is_the_client_whatever_the_header_says(settings):
    settings.SHOP_TRUSTED_PROXIES = []

    assert client_ip(request_from("198.51.100.7", "203.0.113.1")) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_client_is_the_address_the_proxy_saw(settings):
    settings.SHOP_TRUSTED_PROXIES = [PROXY]

    assert client_ip(request_from(PROXY, "198.51.100.7")) == "198.51.100.7"


def test_a_forged_header_from_an_untrusted_peer_changes_nothing(settings):
    settings.SHOP_TRUSTED_PROXIES = [PROXY]

    assert client_ip(request_from("198.51.100.7", "203.0.113.1")) == "198.51.100.7"
    assert client_ip(request_from("198.51.100.7", f"203.0.113.1, {PROXY}")) == "198.51.100.7"


def test_entries_a_client_prepends_behind_the_proxy_are_never_reached(settings):
    settings.SHOP_TRUSTED_PROXIES = [PROXY]

    # The proxy appends the address it saw to whatever the client sent.
    assert client_ip(request_from(PROXY, "203.0.113.1, 8.8.8.8, 198.51.100.7")) == "198.51.100.7"
    assert client_ip(request_from(PROXY, 'garbage, "unclosed, 198.51.100.7')) == "198.51.100.7"


def test_two_proxies_outermost_first_and_cidr_networks(settings):
    settings.SHOP_TRUSTED_PROXIES = ["192.0.2.0/24", PROXY]  # a CDN's range, then the local proxy

    assert client_ip(request_from(PROXY, "203.0.113.1, 198.51.100.7, 192.0.2.44")) == "198.51.100.7"
    # Skipping the CDN, straight to the local proxy: the CDN hop does not match, so no header is trusted.
    assert client_ip(request_from(PROXY, "203.0.113.1, 198.51.100.7")) == PROXY


def test_a_proxy_that_forwards_no_header_is_its_own_client(settings):
    settings.SHOP_TRUSTED_PROXIES = [PROXY]

    assert client_ip(request_from(PROXY)) == PROXY


def test_no_address_at_all(settings):
    settings.SHOP_TRUSTED_PROXIES = [PROXY]

    assert client_ip(request_from(None, "198.51.100.7")) is None


def test_a_bad_trusted_proxy_stops_the_store_at_start_up():
    from tests.shop.core.test_settings import _manage

    result = _manage("check", env={"DJANGO_DEBUG": "1", "SHOP_TRUSTED_PROXIES": "127.0.0.1,nginx"})

    assert result.returncode != 0
    assert "SHOP_TRUSTED_PROXIES: 'nginx' is not an IP address or a CIDR network." in result.stderr


# At the HTTP level: the guest order lookup's limit (10 misses per client)


def miss(client, **meta):
    return client.post(LOOKUP, {"number": "BZ-NOPE", "email": "nobody@example.org"}, **meta)


@pytest.mark.django_db
def test_behind_a_proxy_two_clients_have_separate_buckets(client, settings):
    settings.SHOP_TRUSTED_PROXIES = [PROXY]
    for _attempt in range(10):
        assert miss(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 404

    assert miss(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert miss(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 404


@pytest.mark.django_db
def test_behind_a_proxy_prepending_fake_entries_keeps_the_clients_bucket(client, settings):
    settings.SHOP_TRUSTED_PROXIES = [PROXY]
    for attempt in range(10):
        miss(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}, 198.51.100.1")

    assert miss(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.99, 198.51.100.1").status_code == 429


@pytest.mark.django_db
def test_a_forged_header_does_not_give_a_fresh_bucket(client, settings):
    settings.SHOP_TRUSTED_PROXIES = []
    for attempt in range(10):
        miss(client, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}")

    assert miss(client, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429


# Every DRF throttle in the store keys on the same client address


def api_views():
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                if view is not None and issubclass(view, APIView):
                    yield view

    return set(walk(get_resolver().url_patterns))


def test_every_api_throttle_keys_on_the_client_address(settings):
    settings.SHOP_TRUSTED_PROXIES = [PROXY]
    throttles = {throttle for view in api_views() for throttle in view.throttle_classes}
    assert throttles, "the API has throttled views (the token endpoint at least)"
    via_proxy = Request(request_from(PROXY, "203.0.113.9, 198.51.100.7"))
    forged = Request(request_from("198.51.100.8", "203.0.113.9"))

    for throttle_class in throttles:
        throttle = throttle_class.__new__(throttle_class)  # get_ident needs no rate
        assert throttle.get_ident(via_proxy) == "198.51.100.7", throttle_class
        assert throttle.get_ident(forged) == "198.51.100.8", throttle_class


# The counter


def test_a_window_outlives_the_caches_default_timeout(settings, tmp_path, monkeypatch):
    # The file cache (the embedded store's) rewrites a value on increment with its default
    # timeout of 5 minutes; a 15-minute window must still hold after 6 quiet minutes.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": tmp_path / "c"}
    }
    start = (int(time.time()) // 900) * 900 + 1  # the start of a window
    monkeypatch.setattr(time, "time", lambda: start)
    for _attempt in range(3):
        ratelimit.record_attempt("probe", period=900)

    monkeypatch.setattr(time, "time", lambda: start + 6 * 60)

    assert ratelimit.is_limited("probe", limit=3)
