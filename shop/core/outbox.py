"""Emails written to an outbox row in the transaction that decides them, then sent once by a task.

A row model has `claimed_until`, `sent_at`, `attempts`, `last_error` and `created_at`
(shop.orders.models.OrderEmail, loyalty.models.ExpiryNotice). A worker claims a row
with a conditional update, so two workers (or a retry racing the sweep) never send it
twice; a failure releases the claim for the retry, and a scheduled sweep sends rows
whose task never ran (the broker was down).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db.models import Q
from django.utils import timezone

log = logging.getLogger(__name__)
CLAIM = dt.timedelta(minutes=5)


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
        model.objects.filter(pk=pk).update(claimed_until=None, attempts=row.attempts + 1, last_error=str(exc)[:300])
        raise task.retry(exc=exc) from None
    model.objects.filter(pk=pk).update(sent_at=timezone.now(), attempts=row.attempts + 1)
    return True


def sweep(task, model, *, argument: str, limit: int = 200) -> int:
    """Send the rows older than two minutes that are still unsent (their task never ran), each through `task`."""
    cutoff = timezone.now() - dt.timedelta(minutes=2)
    ids = list(
        model.objects.filter(sent_at=None, created_at__lt=cutoff, attempts__lt=10).values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        try:
            task.apply(kwargs={argument: pk})
        except Exception:
            log.warning("%s %s failed again", model._meta.verbose_name, pk, exc_info=True)
    return len(ids)
