from celery import shared_task

from shop.payments import refunds


@shared_task
def send_refund(*, refund_pk: int) -> bool:
    """Send one refund when it is due (scheduled with its backoff by shop.payments.refunds); never twice."""
    return refunds.refund_send(refund_pk=refund_pk)


@shared_task
def retry_due_refunds() -> int:
    """Scheduled sweep: refunds whose retry never ran (the broker was down, a worker died) go out now."""
    return refunds.refunds_retry_due()
