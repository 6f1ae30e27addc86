"""Cached catalog pages that are never stale.

Everything the catalog shows is cached under a *version token*. Any write to a
catalog table through the ORM (save, delete, queryset update, bulk create:
stock taken at checkout, a price edited in the admin, a new review) replaces
the token, so every cached fragment is dropped at once. The token is replaced
again when the transaction commits, so a page built from pre-commit data
meanwhile is dropped too.

What is cached is the same for every visitor: nothing per user or per session
(the header with the cart, the CSRF token and the review form stay live).
"""

import hashlib
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "catalog:version"
CSRF_MARKER = "<!--csrf-token-->"


def version() -> str:
    token = cache.get(VERSION_KEY)
    if token is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        token = cache.get(VERSION_KEY)
    return token


def _bump() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)


def changed() -> None:
    """The catalog changed: cached pages are out of date (now, and again after commit).

    A checkout that takes stock for five lines writes five times but needs one
    bump after commit: the callback is registered once per transaction (a
    rolled-back savepoint drops it with its writes, as Django drops callbacks).
    """
    _bump()
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(func is _bump for _sids, func, _robust in connection.run_on_commit):
        return
    transaction.on_commit(_bump)


def cached(name: str, parts: tuple, build, *, timeout: int | None = None):
    """build() once per catalog version and key parts; build may raise to avoid caching (404, 400)."""
    seconds = settings.SHOP_PAGE_CACHE_SECONDS if timeout is None else timeout
    if seconds <= 0:
        return build()
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    key = f"catalog:{name}:{version()}:{digest}"
    value = cache.get(key)
    if value is None:
        value = build()
        # Prices shown may change when a promotion starts or ends: expire by then.
        from shop.catalog.offers import cache_seconds

        cache.set(key, value, cache_seconds(seconds))
    return value
