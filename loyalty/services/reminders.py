"""Expiry reminders: one email per member announcing the points that will expire, sent once."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef
from django.utils import timezone

from loyalty.models import Account, LedgerEntry
from loyalty.program import current
from loyalty.services.ledger import used_points

log = logging.getLogger(__name__)


def expiry_notices_queue(*, now=None, batch: int = 500) -> int:
    """Write a reminder for every member with points expiring within the reminder period that no
    earlier reminder announced. A reminder announces everything expiring within twice the period,
    so nothing falls between two reminders and a member who keeps earning hears from us about once
    a period, not daily. Safe to run twice: accounts are locked (a batch at a time, in id order) and
    their last reminder re-read under the locks."""
    from loyalty.models import ExpiryNotice

    now = now or timezone.now()
    program = current().program
    days = program.expiry_reminder_days
    if not days or not program.is_active:
        return 0
    horizon = now + dt.timedelta(days=days)
    announced = ExpiryNotice.objects.filter(account_id=OuterRef("account_id"), covers_until__gte=OuterRef("expires_at"))
    candidates = (
        LedgerEntry.objects.filter(points__gt=0, expires_at__gt=now, expires_at__lte=horizon)
        .exclude(Exists(announced))
        .annotate(used=used_points())
        .filter(used__lt=F("points"))
        .values_list("account_id", flat=True)
    )
    ids = sorted(set(candidates))
    queued = 0
    for start in range(0, len(ids), batch):
        with transaction.atomic():
            queued += _notices_batch(ids[start : start + batch], now, horizon, now + dt.timedelta(days=2 * days))
    return queued


def _notices_batch(account_ids: list[int], now, horizon, covers_until) -> int:
    from loyalty.models import ExpiryNotice

    list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk").values_list("pk"))
    last = dict(
        ExpiryNotice.objects.filter(account_id__in=account_ids)
        .values("account_id")
        .annotate(until=Max("covers_until"))
        .values_list("account_id", "until")
    )
    coming: dict[int, list] = {}
    rows = (
        LedgerEntry.objects.filter(account_id__in=account_ids, points__gt=0, expires_at__gt=now)
        .filter(expires_at__lte=covers_until)
        .annotate(used=used_points())
        .filter(used__lt=F("points"))
        .values_list("account_id", "expires_at", F("points") - F("used"))
    )
    for account_id, expires_at, left in rows:
        if expires_at > max(now, last.get(account_id) or now):  # not announced by an earlier reminder
            coming.setdefault(account_id, []).append((expires_at, left))
    notices = [
        ExpiryNotice(
            account_id=account_id,
            points=sum(left for _at, left in lots_),
            first_expiry=min(at for at, _left in lots_),
            covers_until=covers_until,
        )
        for account_id, lots_ in coming.items()
        if any(at <= horizon for at, _left in lots_)
    ]
    ExpiryNotice.objects.bulk_create(notices)
    for notice in notices:
        transaction.on_commit(lambda pk=notice.pk: _enqueue_notice(pk))
    return len(notices)


def _enqueue_notice(notice_id: int) -> None:
    from loyalty.tasks import send_expiry_notice

    try:
        send_expiry_notice.delay(notice_id=notice_id)
    except Exception:  # the broker is down: the scheduled sweep sends it later
        log.warning("Could not enqueue expiry reminder %s; the sweep will send it.", notice_id, exc_info=True)


def expiry_notices_drop(*, user) -> int:
    """The customer's erasure (loyalty/privacy.py): reminders not sent yet are dropped (their points
    are forfeited, and the address is gone). Returns how many."""
    from loyalty.models import ExpiryNotice

    deleted, _by_model = ExpiryNotice.objects.filter(account_id=user.pk, sent_at__isnull=True).delete()
    return deleted
