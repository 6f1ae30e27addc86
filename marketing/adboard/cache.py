"""The board's lists, kept whole for a minute at most and never stale (docs/adboard.md, "Cached lists").

What a list shows (which ads, in what order, their cards with the seller's rating, the category
counts) changes only through the board's services and the admin. Each of those replaces one token
when its transaction commits (shop.core.tokens), so every list kept under the old token is out
of date at once. An ad also leaves the lists when its time is up without any write: a kept list
lasts no longer than the first of its ads to expire (and at most a minute).

What is kept is the same for everyone: per-member parts (the save-search form, the unread count)
are filled in after.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from shop.core import tokens

TOKEN = "adboard:token:lists"
LIST_SECONDS = 60


def enabled() -> bool:
    return settings.SHOP_PAGE_CACHE_SECONDS > 0


def changed() -> None:
    """Something a list shows has changed (replaced when the transaction commits)."""
    tokens.bump([TOKEN])


def kept(name: str, parts: tuple, build: Callable[[], tuple[object, object]]):
    """build() -> (value, expires_at or None), kept until the token changes, the first shown ad
    expires, or LIST_SECONDS pass; build may raise to keep nothing."""
    if not enabled():
        return build()[0]
    token = tokens.read([TOKEN])[TOKEN]  # read before build() reads the rows
    key = f"adboard:{name}:{token}:" + ":".join(str(p) for p in parts)
    value = cache.get(key)
    if value is None:
        value, expires_at = build()
        seconds = LIST_SECONDS
        if expires_at is not None:
            seconds = min(seconds, int((expires_at - timezone.now()).total_seconds()))
        if seconds > 0:
            cache.set(key, value, seconds)
    return value
