"""A fixed-window counter in the cache, for things that pay to guess (logins, codes).

The cache is shared by every web process (a folder on one machine, Redis in
production), so a limit holds across workers.
"""

from django.core.cache import cache


def client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted
    # proxy rewrites it, and trusting it would let anyone reset their limit.
    return request.META.get("REMOTE_ADDR", "unknown")


def is_limited(key: str, *, limit: int) -> bool:
    return (cache.get(f"rl:{key}") or 0) >= limit


def record_attempt(key: str, *, period: int) -> int:
    cache_key = f"rl:{key}"
    cache.add(cache_key, 0, timeout=period)
    try:
        return cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=period)
        return 1


def reset(key: str) -> None:
    cache.delete(f"rl:{key}")
