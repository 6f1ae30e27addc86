"""Writing events: cheaply, after the response, and never at the cost of a page.

A request's events are written in one INSERT once its response has been sent
(shop.core.tracking). If the database refuses them, or one write takes longer than
ANALYTICS_SLOW_WRITE_MS, this process stops recording for ANALYTICS_PAUSE_SECONDS: the store
is under strain and its shoppers come first. What is dropped is logged with its count.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError

from marketing.analytics.models import Event, EventName

log = logging.getLogger(__name__)

_paused_until = 0.0
CONSENT_SECONDS = 300


def store_day(at: datetime):
    """The store's day of a moment (ANALYTICS_TIME_ZONE): the day a figure counts it in."""
    return at.astimezone(ZoneInfo(settings.ANALYTICS_TIME_ZONE)).date()


def paused() -> bool:
    """Not recording: turned off (ANALYTICS_RECORDING), or stepping aside for a while."""
    return not settings.ANALYTICS_RECORDING or time.monotonic() < _paused_until


def _pause(reason: str, dropped: int) -> None:
    global _paused_until
    _paused_until = time.monotonic() + settings.ANALYTICS_PAUSE_SECONDS
    log.warning(
        "Analytics: %d events dropped (%s); recording pauses for %d s in this process.",
        dropped,
        reason,
        settings.ANALYTICS_PAUSE_SECONDS,
    )


def write(events: list[Event], *, once: bool = False) -> int:
    """Insert these events in one statement; the number given to the database (0 when paused or
    refused). `once`: rows a unique constraint already holds are skipped (a purchase sent again)."""
    if not events:
        return 0
    if paused():
        log.info("Analytics: %d events dropped (recording paused).", len(events))
        return 0
    started = time.monotonic()
    try:
        Event.objects.bulk_create(events, ignore_conflicts=once)
    except DatabaseError as exc:
        _pause(f"the database refused them: {exc}", len(events))
        return 0
    took_ms = (time.monotonic() - started) * 1000
    if took_ms > settings.ANALYTICS_SLOW_WRITE_MS:
        _pause(f"a write took {took_ms:.0f} ms", 0)
    return len(events)


def consenting(user) -> int | None:
    """The customer's id if they allow their shopping to be tied to them (cached for a few minutes)."""
    if user is None or not user.is_authenticated:
        return None
    key = consent_key(user.pk)
    allowed = cache.get(key)
    if allowed is None:
        from shop.accounts.models import Profile

        allowed = Profile.objects.filter(user_id=user.pk, analytics_consent=True).exists()
        cache.set(key, allowed, CONSENT_SECONDS)
    return user.pk if allowed else None


def consent_key(user_id: int) -> str:
    return f"analytics:consent:{user_id}"


def event(name: str, at: datetime, **fields) -> Event:
    return Event(name=name, at=at, day=store_day(at), **fields)


NAMES = set(EventName.values)
