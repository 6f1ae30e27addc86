from celery import shared_task

from shop.core import outbox
from shop.orders import emails, services
from shop.orders.models import OrderEmail


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_order_email(self, *, email_id: int) -> bool:
    """Send one order email, once (shop.core.outbox)."""
    return outbox.send_once(
        self, OrderEmail, email_id, lambda email: emails.build(email.order, email.kind, email.reference)
    )


@shared_task
def send_pending_order_emails() -> int:
    """Scheduled sweep: emails whose task never ran (the broker was down) go out now."""
    return outbox.sweep(send_order_email, OrderEmail, argument="email_id")


@shared_task
def expire_unpaid_orders() -> int:
    """Scheduled: orders not paid in time expire and give their stock back."""
    return services.orders_expire()
