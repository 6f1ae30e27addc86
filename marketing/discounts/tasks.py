"""Background jobs of the discounts app: thin, idempotent, calling services (settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from marketing.discounts import services

# Followers of the shop's events (marketing.discounts.receivers): idempotent services, retried on failure.
RETRY = {"autoretry_for": (Exception,), "retry_backoff": 30, "max_retries": 8}


@shared_task(**RETRY)
def release_order_codes(*, order_id: int) -> int:
    """An order expired or was cancelled: its codes and uses come back (once, however often this runs)."""
    return services.redemptions_release(order_id=order_id)


@shared_task
def release_missed_codes() -> int:
    """Sweep: closed orders whose release task never ran give their codes back now."""
    return services.redemptions_release_missed()
