"""Background jobs of the discounts app: thin, idempotent, calling services (settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from marketing.discounts import services
from marketing.discounts.models import CodeBatch

# --- codes of closed orders -----------------------------------------------------------------------------------------

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


# --- code batches ---------------------------------------------------------------------------------------------------


@shared_task(bind=True, max_retries=5, acks_late=True)
def fill_code_batch(self, *, batch_id: int) -> int:
    """Make a large batch's codes (services.code_batch_fill: resumable, never more than asked). Returns codes made."""
    if not CodeBatch.objects.filter(pk=batch_id).exists():
        return 0  # deleted with its promotion meanwhile
    try:
        return services.code_batch_fill(batch_id=batch_id).made
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            services.code_batch_fail(batch_id=batch_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task
def resume_code_batches() -> int:
    """Scheduled sweep: batches whose task was lost (broker down, worker killed) start again where they stopped."""
    stalled = services.code_batches_stalled()
    for batch_id in stalled:
        fill_code_batch.delay(batch_id=batch_id)
    return len(stalled)
