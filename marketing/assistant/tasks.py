"""The assistant's staff answers, sent once (thin: tickets.py decides and sends, shop.core.outbox
sends the emails)."""

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from marketing.assistant import emails, telegram_client, tickets
from marketing.assistant.models import TelegramAnswer, TicketEmail
from shop.core import outbox

log = logging.getLogger(__name__)
TELEGRAM_TRIES = 10  # the sweep's, as shop.core.outbox: a chat that keeps failing stops being tried


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_ticket_email(self, *, email_id: int) -> bool:
    """Send one staff answer by email, once."""
    return outbox.send_once(self, TicketEmail, email_id, emails.ticket_answer)


@shared_task
def send_pending_ticket_emails() -> int:
    """Sweep: answers whose task never ran (the broker was down) go out now."""
    return outbox.sweep(send_ticket_email, TicketEmail, argument="email_id")


@shared_task(bind=True, max_retries=5)
def send_telegram_answer(self, *, answer_id: int) -> bool:
    """Send one staff answer to its Telegram chat, once; retried with backoff while Telegram is
    unavailable (after the wait it asks for, when it is rate limiting)."""
    try:
        return tickets.telegram_answer_send(answer_id=answer_id)
    except telegram_client.Unavailable as exc:
        raise self.retry(exc=exc, countdown=backoff(exc, self.request.retries)) from None


def backoff(exc: telegram_client.Unavailable, retries: int) -> int:
    """Telegram's retry_after when it gave one, else 1, 2, 4, 8... minutes."""
    return exc.retry_after if exc.retry_after else 60 * 2**retries


@shared_task
def send_pending_telegram_answers() -> int:
    """Sweep: Telegram answers whose task never ran or gave up retrying go out now. Nothing to do
    without a bot token (the answers wait, saying so)."""
    if not settings.ASSISTANT_TELEGRAM_BOT_TOKEN:
        return 0
    cutoff = timezone.now() - dt.timedelta(minutes=2)
    ids = list(
        TelegramAnswer.objects.waiting()
        .filter(created_at__lt=cutoff, attempts__lt=TELEGRAM_TRIES)
        .order_by("created_at")
        .values_list("pk", flat=True)[:200]
    )
    for pk in ids:
        # The service, not the task: a retry here would wait in this worker; the next sweep retries.
        try:
            tickets.telegram_answer_send(answer_id=pk)
        except telegram_client.Unavailable:
            log.warning("Telegram answer %s failed again", pk, exc_info=True)
    return len(ids)


@shared_task
def forget_old_conversations() -> int:
    """The retention (settings.ASSISTANT_KEEP_DAYS): old conversations lose their words and owner."""
    from django.conf import settings

    from marketing.assistant import services

    return services.conversations_forget_old(days=settings.ASSISTANT_KEEP_DAYS)
