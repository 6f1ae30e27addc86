"""Queueing a Celery task when the broker may be down.

The work each task does is already written down (an outbox row, a queued job, a campaign being
listed) and a scheduled sweep finds what no task took: so a broker that does not answer must never
fail the request that decided the work. `enqueue` logs and says so instead of raising.
"""

from __future__ import annotations

import logging

from django.db import transaction

log = logging.getLogger(__name__)


def enqueue(task, **kwargs) -> bool:
    """`task.delay(**kwargs)`; False (logged) when the broker does not take it: its sweep will."""
    try:
        task.delay(**kwargs)
    except Exception:  # kombu's OperationalError, a timeout, a refused connection
        log.warning("Could not queue %s %s; its scheduled sweep will do it.", task.name, kwargs, exc_info=True)
        return False
    return True


def enqueue_on_commit(task, **kwargs) -> None:
    """`enqueue` once the transaction that wrote the work commits."""
    transaction.on_commit(lambda: enqueue(task, **kwargs))
