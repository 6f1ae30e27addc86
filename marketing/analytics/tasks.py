"""Background jobs of the analytics app (settings.CELERY_BEAT_SCHEDULE): thin, idempotent."""

from celery import shared_task

from marketing.analytics import customers, rollups


@shared_task
def build_figures() -> int:
    """Build the past days not built yet, and the last two again (late events, refunds); score the
    customers once a day, on the first run after midnight. Days built."""
    days = rollups.days_to_build()
    for first, last in rollups.runs(days):
        rollups.build_days(first, last)
    if customers.stale():
        customers.score()
    return len(days)
