"""Emails written to an outbox row in the transaction that decides them, then sent once by a task.

A row model has `claimed_until`, `sent_at`, `attempts`, `last_error` and `created_at`
(shop.orders.models.OrderEmail, loyalty.models.ExpiryNotice). A worker claims a row
with a conditional update, so two workers (or a retry racing the sweep) never send it
twice. A failure keeps the row claimed for a wait that doubles with each attempt (1, 2,
4… minutes, at most 6 hours): the task's retry and the sweep both find it again then,
not before. A scheduled sweep sends the rows whose task never ran (the broker was down)
or whose retries ran out (a long outage of the mail server), one attempt a row per
sweep, for GIVE_UP; each row's attempts and last error show in the admin.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db.models import Q
from django.utils import timezone

log = logging.getLogger(__name__)
CLAIM = dt.timedelta(minutes=5)
LONGEST_WAIT = dt.timedelta(hours=6)
GIVE_UP = dt.timedelta(days=7)  # a message a week late is not sent: the row keeps its error for staff


def wait_after(attempts: int) -> dt.timedelta:
    """How long a row rests after its n-th failed attempt: 1, 2, 4… minutes, at most LONGEST_WAIT."""
    return min(dt.timedelta(minutes=2 ** min(attempts - 1, 20)), LONGEST_WAIT)


def send_once(task, model, pk: int, build: Callable) -> bool:
    """Claim the row, send the message `build(row)` makes, mark it sent. False if sent or claimed already.

    `task` is the bound Celery task: a failure is recorded on the row and retried with its backoff."""
    now = timezone.now()
    claimed = model.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=pk, sent_at=None
    ).update(claimed_until=now + CLAIM)
    if claimed != 1:
        return False
    row = model.objects.get(pk=pk)
    try:
        build(row).send()
    except Exception as exc:
        attempts, wait = row.attempts + 1, wait_after(row.attempts + 1)
        model.objects.filter(pk=pk).update(
            claimed_until=timezone.now() + wait, attempts=attempts, last_error=str(exc)[:300]
        )
        # Called directly (the sweep) this raises `exc` at once: one attempt, no retries run in place.
        raise task.retry(exc=exc, countdown=wait.total_seconds()) from None
    model.objects.filter(pk=pk).update(sent_at=timezone.now(), attempts=row.attempts + 1)
    return True


def sweep(task, model, *, argument: str, limit: int = 200) -> int:
    """Send the unsent rows older than two minutes whose wait is over (their task never ran, or its
    retries ran out), one attempt each, through `task` called in this process. Returns how many it tried."""
    now = timezone.now()
    ids = list(
        model.objects.filter(sent_at=None, created_at__lt=now - dt.timedelta(minutes=2), created_at__gte=now - GIVE_UP)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        try:
            task(**{argument: pk})  # called directly: a failure is recorded and raised, not retried here
        except Exception:
            log.warning("%s %s failed again", model._meta.verbose_name, pk, exc_info=True)
    return len(ids)
