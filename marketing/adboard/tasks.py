"""The board's scheduled work and its emails (thin: services.py decides, shop.core.outbox sends once)."""

import logging

from celery import shared_task
from django.utils import timezone

from marketing.adboard import emails, services
from marketing.adboard.models import Notice
from shop.core import outbox

log = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_notice(self, *, notice_id: int) -> bool:
    """Send one board email, once."""
    notice = Notice.objects.select_related("user").filter(pk=notice_id, sent_at=None).first()
    if notice is None:
        return False
    if emails.nothing_to_send(notice):
        Notice.objects.filter(pk=notice_id, sent_at=None).update(
            sent_at=timezone.now(), last_error="nothing left to send"
        )
        return False
    return outbox.send_once(self, Notice, notice_id, emails.build)


def send_notices_soon() -> None:
    """After a commit that wrote notices: queue each unsent one (a down broker leaves them to the sweep)."""
    for pk in Notice.objects.filter(sent_at=None, attempts=0, claimed_until=None).values_list("pk", flat=True)[:50]:
        try:
            send_notice.delay(notice_id=pk)
        except Exception:
            log.warning("Could not queue board email %s; the sweep will send it.", pk, exc_info=True)
            return


@shared_task
def send_pending_notices() -> int:
    """Scheduled sweep: board emails whose task never ran go out now."""
    return outbox.sweep(send_notice, Notice, argument="notice_id")


@shared_task
def expire_ads() -> int:
    return services.ads_expire()


@shared_task
def remind_expiring_ads() -> int:
    return services.ads_remind()


@shared_task
def saved_search_alerts() -> int:
    return services.saved_search_alerts()
