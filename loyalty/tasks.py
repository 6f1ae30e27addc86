"""Scheduled and background jobs: thin, idempotent, calling services (settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from loyalty import emails, services
from loyalty.models import ExpiryNotice
from shop.core import outbox

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


@shared_task(**RETRY)
def review_reward_reverse(*, review_id: int) -> None:
    services.review_reward_reverse(review_id=review_id)


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
    """Send one reminder, once (shop.core.outbox)."""
    return outbox.send_once(self, ExpiryNotice, notice_id, emails.expiry_notice)


@shared_task
def send_pending_expiry_notices() -> int:
    """Sweep: reminders whose task never ran (the broker was down) go out now."""
    return outbox.sweep(send_expiry_notice, ExpiryNotice, argument="notice_id")
