"""The assistant's emails, sent once (thin: tickets.py decides, shop.core.outbox sends)."""

from celery import shared_task

from marketing.assistant import emails
from marketing.assistant.models import TicketEmail
from shop.core import outbox


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_ticket_email(self, *, email_id: int) -> bool:
    """Send one staff answer by email, once."""
    return outbox.send_once(self, TicketEmail, email_id, emails.ticket_answer)


@shared_task
def send_pending_ticket_emails() -> int:
    """Sweep: answers whose task never ran (the broker was down) go out now."""
    return outbox.sweep(send_ticket_email, TicketEmail, argument="email_id")


@shared_task
def forget_old_conversations() -> int:
    """The retention (settings.ASSISTANT_KEEP_DAYS): old conversations lose their words and owner."""
    from django.conf import settings

    from marketing.assistant import services

    return services.conversations_forget_old(days=settings.ASSISTANT_KEEP_DAYS)
