import datetime as dt
import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from shop.orders import emails, services
from shop.orders.models import OrderEmail

log = logging.getLogger(__name__)
CLAIM = dt.timedelta(minutes=5)


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_order_email(self, *, email_id: int) -> bool:
    """Send one order email, once: claim it with a conditional update, send, mark it sent."""
    now = timezone.now()
    claimed = OrderEmail.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=email_id, sent_at=None
    ).update(claimed_until=now + CLAIM)
    if claimed != 1:
        return False  # sent already, or another worker has it
    email = OrderEmail.objects.select_related("order").get(pk=email_id)
    try:
        emails.build(email.order, email.kind, email.reference).send()
    except Exception as exc:
        OrderEmail.objects.filter(pk=email_id).update(
            claimed_until=None, attempts=email.attempts + 1, last_error=str(exc)[:300]
        )
        raise self.retry(exc=exc) from None
    OrderEmail.objects.filter(pk=email_id).update(sent_at=timezone.now(), attempts=email.attempts + 1)
    return True


@shared_task
def send_pending_order_emails() -> int:
    """Scheduled sweep: emails whose task never ran (the broker was down) go out now."""
    cutoff = timezone.now() - dt.timedelta(minutes=2)
    ids = list(
        OrderEmail.objects.filter(sent_at=None, created_at__lt=cutoff, attempts__lt=10).values_list("pk", flat=True)[
            :200
        ]
    )
    for email_id in ids:
        try:
            send_order_email.apply(kwargs={"email_id": email_id})
        except Exception:
            log.warning("Order email %s failed again", email_id, exc_info=True)
    return len(ids)


@shared_task
def expire_unpaid_orders() -> int:
    """Scheduled: orders not paid in time expire and give their stock back."""
    return services.orders_expire()
