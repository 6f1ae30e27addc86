"""Background jobs of the recommendations app (settings.CELERY_BEAT_SCHEDULE): thin, safe to run twice."""

import logging

from celery import shared_task

from shop.core.errors import Conflict

log = logging.getLogger(__name__)


@shared_task
def build() -> int:
    """Build the similar-items tables and rankings again; the number of products with neighbours.
    A run that finds another one still building leaves it be (0)."""
    # Imported here: numpy and scipy are for the worker that builds, not for every web process
    # that imports the tasks (about 30 MiB each).
    from marketing.recommendations import build as builder

    try:
        return builder.build().products
    except Conflict:
        log.info("Recommendations: a build is already running; this one is skipped.")
        return 0
