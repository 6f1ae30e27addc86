"""Staff answering a hand-over (a support ticket). The answer is recorded, added to the
conversation as a staff message, and an email to the shopper is written to the outbox in the same
transaction; a task sends it once after commit (shop.core.outbox), retried and swept if it fails."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketing.assistant.models import Conversation, Ticket, TicketEmail, Turn

log = logging.getLogger(__name__)


class TicketError(Exception):
    """A ticket that cannot take this answer (a readable message for staff)."""


def ticket_answer(*, ticket_id: int, answer: str, staff) -> Turn:
    """Record `answer` on the ticket, add it to the conversation, and queue it by email when the
    ticket has an address. Returns the staff message."""
    answer = answer.strip()
    if not answer:
        raise TicketError(_("Write an answer first."))
    with transaction.atomic():
        # Locked and re-read: two members of staff answering at once each add their own answer,
        # one after the other, never half of each.
        ticket = Ticket.objects.select_for_update().select_related("conversation").get(pk=ticket_id)
        if ticket.status == Ticket.Status.CLOSED:
            raise TicketError(_("This ticket is closed."))
        now = timezone.now()
        ticket.answer, ticket.status = answer, Ticket.Status.ANSWERED
        ticket.answered_by, ticket.answered_at = staff, now
        ticket.save(update_fields=["answer", "status", "answered_by", "answered_at"])
        turn = Turn.objects.create(conversation=ticket.conversation, role=Turn.Role.STAFF, text=answer)
        # The conversation moves up in the shopper's list and the staff's.
        Conversation.objects.filter(pk=ticket.conversation_id).update(updated_at=now)
        if ticket.email:
            email = TicketEmail.objects.create(ticket=ticket, turn=turn, to=ticket.email)
            transaction.on_commit(lambda: _queue(email.pk))
    return turn


def _queue(email_id: int) -> None:
    from marketing.assistant import tasks

    try:
        tasks.send_ticket_email.delay(email_id=email_id)
    except Exception:  # the broker is down: the sweep sends it
        log.warning("Could not queue answer email %s; the sweep will send it.", email_id)
