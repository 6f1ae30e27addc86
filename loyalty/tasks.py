"""Scheduled and background jobs: thin, idempotent, calling services (settings.CELERY_BEAT_SCHEDULE)."""

import datetime as dt
import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from loyalty import emails, services
from loyalty.models import ExpiryNotice

log = logging.getLogger(__name__)
CLAIM = dt.timedelta(minutes=5)


# Followers of the shop's events (loyalty.receivers): idempotent services, retried on failure.
RETRY = {"autoretry_for": (Exception,), "retry_backoff": 30, "max_retries": 8}


@shared_task(**RETRY)
def earn_for_order(*, order_id: int) -> None:
    services.order_points_earn(order_id=order_id)
    services.referral_reward(order_id=order_id)


@shared_task(**RETRY)
def settle_order(*, order_id: int) -> None:
    services.order_points_settle(order_id=order_id)


@shared_task(**RETRY)
def signup_reward(*, user_id: int) -> None:
    services.signup_reward(user_id=user_id)


@shared_task(**RETRY)
def review_reward(*, review_id: int) -> None:
    services.review_reward(review_id=review_id)


@shared_task
def reassign_tiers() -> int:
    """Staff changed the tiers (the admin's button): everyone is placed again."""
    return services.tiers_reassign_all()


@shared_task
def catch_up_orders() -> int:
    """Hourly: paid orders of the last days that have not earned (a task that never ran), earn now."""
    return services.orders_catch_up()


@shared_task
def expire_points() -> int:
    return services.points_expire()


@shared_task
def queue_expiry_notices() -> int:
    return services.expiry_notices_queue()


@shared_task
def birthday_points() -> int:
    return services.birthdays_reward()


@shared_task
def refresh_tiers() -> int:
    return services.tiers_refresh()


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_expiry_notice(self, *, notice_id: int) -> bool:
    """Send one reminder, once: claim it with a conditional update, send, mark it sent."""
    now = timezone.now()
    claimed = ExpiryNotice.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=notice_id, sent_at=None
    ).update(claimed_until=now + CLAIM)
    if claimed != 1:
        return False
    notice = ExpiryNotice.objects.select_related("account__user").get(pk=notice_id)
    try:
        emails.expiry_notice(notice).send()
    except Exception as exc:
        ExpiryNotice.objects.filter(pk=notice_id).update(
            claimed_until=None, attempts=notice.attempts + 1, last_error=str(exc)[:300]
        )
        raise self.retry(exc=exc) from None
    ExpiryNotice.objects.filter(pk=notice_id).update(sent_at=timezone.now(), attempts=notice.attempts + 1)
    return True


@shared_task
def send_pending_expiry_notices() -> int:
    """Sweep: reminders whose task never ran (the broker was down) go out now."""
    cutoff = timezone.now() - dt.timedelta(minutes=2)
    ids = list(
        ExpiryNotice.objects.filter(sent_at=None, created_at__lt=cutoff, attempts__lt=10).values_list("pk", flat=True)[
            :200
        ]
    )
    for notice_id in ids:
        try:
            send_expiry_notice.apply(kwargs={"notice_id": notice_id})
        except Exception:
            log.warning("Expiry reminder %s failed again", notice_id, exc_info=True)
    return len(ids)
