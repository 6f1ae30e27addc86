"""Who the client is, and a fixed-window counter in the cache for things that pay to guess.

Every limit in the store (login lockout, DRF throttles, discount codes, order
lookup, registration, password reset) keys on `client_ip`, so one setting,
settings.SHOP_TRUSTED_PROXIES, decides who the client is everywhere
(docs/deploy.md, "Behind a proxy").

The cache is shared by every web process (a folder on one machine, Redis in
production), so a limit holds across workers.
"""

import time
from types import SimpleNamespace

from django.conf import settings
from django.core.cache import cache
from ipware import get_client_ip
from rest_framework import throttling


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or, behind the trusted proxies, the address they forwarded.

    X-Forwarded-For is read only when the request comes from the innermost trusted
    proxy, and only as far as the proxies vouch for it: each proxy appends the address
    it saw, so the entry just before the trusted hops is the client, and anything a
    client wrote further left (fake entries of its own) is never reached. When the
    chain does not match the proxies (a direct request, a forged header), the
    connection's own address is the client. None when the server gives no address.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.SHOP_TRUSTED_PROXIES
    if not proxies or remote is None:
        return remote
    # The chain as the innermost proxy saw it, its own peer (REMOTE_ADDR) last, so that
    # django-ipware checks every trusted hop, REMOTE_ADDR included, against the setting.
    # Quotes have no place in X-Forwarded-For; an unclosed one would hide the real hops.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").replace('"', "")
    chain = f"{forwarded}, {remote}" if forwarded.strip() else remote
    address, _routable = get_client_ip(
        SimpleNamespace(META={"HTTP_X_FORWARDED_FOR": chain}),
        proxy_trusted_ips=proxies,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,  # extra entries on the left are the client's own, not an error
    )
    return address or remote


class ClientAddressThrottleMixin:
    """DRF throttles key on the store's client address, never on a raw X-Forwarded-For.

    DRF's own get_ident() trusts the whole header unless NUM_PROXIES is set, so a client
    that rotates it gets a fresh bucket per request. Every throttle in the store uses one
    of the classes below.
    """

    def get_ident(self, request):
        return client_ip(request) or "unknown"


class ScopedRateThrottle(ClientAddressThrottleMixin, throttling.ScopedRateThrottle):
    """Its scope's rate as the settings say now (DRF's reads them once, when it is imported), so
    a page can share an API scope's counter: `allow(request, scope)`."""

    def get_rate(self):
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]

    @classmethod
    def allow(cls, request, scope: str) -> bool:
        """For a plain Django view: one request counted against the API's `scope`, in the same
        counter (per customer when logged in, else per client address); False once it is spent."""
        return cls().allow_request(request, type("View", (), {"throttle_scope": scope}))


class AnonRateThrottle(ClientAddressThrottleMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientAddressThrottleMixin, throttling.UserRateThrottle):
    pass


def _window_left(period: int) -> int:
    # Windows are aligned on multiples of the period, so every attempt in one window
    # shares one deadline without storing it.
    return max(1, period - int(time.time()) % period)


def is_limited(key: str, *, limit: int) -> bool:
    return (cache.get(f"rl:{key}") or 0) >= limit


def record_attempt(key: str, *, period: int) -> int:
    """Count one attempt in the current window of `period` seconds; returns the count so far."""
    cache_key = f"rl:{key}"
    left = _window_left(period)
    cache.add(cache_key, 0, timeout=left)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=left)
        return 1
    # Backends without a native increment (files, database) rewrite the value with the
    # default timeout (5 minutes): put the window's end back.
    cache.touch(cache_key, left)
    return count


def reset(key: str) -> None:
    cache.delete(f"rl:{key}")
