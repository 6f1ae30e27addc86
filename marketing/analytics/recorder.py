"""Writing events: cheaply, after the response, and never at the cost of a page.

A request's events are built once its response has been sent (shop.core.tracking) and kept in
this process, to be written with other requests' in one INSERT: when ANALYTICS_BATCH_SIZE are
waiting (by the request that brings the count there, after its response), at the latest
ANALYTICS_BATCH_SECONDS after the first of them (a timer thread), and when the process exits
normally (atexit: gunicorn's workers exit through sys.exit, on a restart as on a shutdown).
A commit per page view was most of what recording cost (SQLite's commit, PostgreSQL's round
trip and WAL flush); one per batch is shared by dozens. Facts told outside a request (a task, a
command) and orders' facts are written at once: a task's process may end without atexit.

If the database refuses a write, or one write takes longer than ANALYTICS_SLOW_WRITE_MS, this
process stops recording for ANALYTICS_PAUSE_SECONDS: the store is under strain and its shoppers
come first. What is dropped is logged with its count. At most a batch is held in memory.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections, router, transaction
from django.db.models.constants import OnConflict

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
    """Insert these events in one statement (one per chunk the database takes); the number given to
    the database (0 when paused or refused). `once`: rows a unique constraint already holds are
    skipped (a purchase sent again)."""
    if not events:
        return 0
    if paused():
        log.info("Analytics: %d events dropped (recording paused).", len(events))
        return 0
    started = time.monotonic()
    try:
        _insert(events, once=once)
    except DatabaseError as exc:
        _pause(f"the database refused them: {exc}", len(events))
        return 0
    took_ms = (time.monotonic() - started) * 1000
    if took_ms > settings.ANALYTICS_SLOW_WRITE_MS:
        _pause(f"a write took {took_ms:.0f} ms", 0)
    return len(events)


# Every column but the id, in the table's order.
FIELDS = [field for field in Event._meta.concrete_fields if not field.primary_key]


def _insert(events: list[Event], *, once: bool) -> None:
    """What `Event.objects.bulk_create(events, ignore_conflicts=once)` does, for a fraction of its
    CPU: bulk_create builds its statement value by value through the ORM's compiler, which cost
    ten times what the database itself did. Each value is still adapted by its field for this
    database (get_db_prep_save: a UUID, a date, JSON), the statement and the conflict clause
    come from the backend, in rows of as many as it takes (SQLite: 999 parameters)."""
    connection = connections[router.db_for_write(Event)]
    ops = connection.ops
    on_conflict = OnConflict.IGNORE if once else None
    suffix = ops.on_conflict_suffix_sql(FIELDS, on_conflict, None, None)
    head = "{} {} ({}) VALUES ".format(
        ops.insert_statement(on_conflict=on_conflict),
        ops.quote_name(Event._meta.db_table),
        ", ".join(ops.quote_name(field.column) for field in FIELDS),
    )
    row = "({})".format(", ".join(["%s"] * len(FIELDS)))
    size = max(1, ops.bulk_batch_size(FIELDS, events))
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            values = [field.get_db_prep_save(getattr(e, field.attname), connection) for e in chunk for field in FIELDS]
            cursor.execute(f"{head}{', '.join([row] * len(chunk))} {suffix}".rstrip(), values)


class _Batch:
    """This process's events waiting to be written, and the timer that writes them in time."""

    def __init__(self):
        self.events: list[Event] = []
        self.lock = threading.Lock()  # guards events and timer: held for an append or a swap only
        self.writing = threading.Lock()  # one flush at a time, so exit waits for the timer's write
        self.timer: threading.Timer | None = None


_batch = _Batch()


def queue(events: list[Event]) -> None:
    """Keep a request's events to be written with others' (see the module's docstring); written
    at once when that makes ANALYTICS_BATCH_SIZE (1 while developing and in the tests)."""
    if not events:
        return
    batch = _batch
    with batch.lock:
        batch.events.extend(events)
        full = len(batch.events) >= settings.ANALYTICS_BATCH_SIZE
        if not full and batch.timer is None:
            batch.timer = threading.Timer(settings.ANALYTICS_BATCH_SECONDS, _flush_in_time)
            batch.timer.daemon = True
            batch.timer.start()
    if full:
        flush()


def flush() -> int:
    """Write every event waiting, in one INSERT; the number given to the database."""
    batch = _batch
    with batch.writing:
        with batch.lock:
            events, batch.events = batch.events, []
            if batch.timer is not None:
                batch.timer.cancel()  # the batch it was for is being written
                batch.timer = None
        return write(events)


def _flush_in_time() -> None:
    """The timer's thread: write the batch, then close this thread's database connection."""
    try:
        flush()
    except Exception:  # a thread's exception would only be printed: log it, never lose the process
        log.exception("Analytics: a batch of events could not be written")
    finally:
        connections.close_all()


def _forget_after_fork() -> None:
    """A forked child starts with nothing waiting: its parent writes its own batch (not twice), and a
    lock another thread held at the fork would never be released in the child."""
    global _batch
    _batch = _Batch()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(flush)  # a normal exit loses nothing


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
