"""Staff answering a hand-over (a support ticket). The answer is recorded, added to the
conversation as a staff message, and written to the outbox in the same transaction: an email when
the shopper left an address, a Telegram message when they asked in Telegram. A task sends each once
after commit (emails through shop.core.outbox, Telegram messages below), retried and swept if it
fails."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from marketing.assistant import telegram_client
from marketing.assistant.models import Channel, Conversation, TelegramAnswer, Ticket, TicketEmail, Turn
from marketing.assistant.telegram import fit

log = logging.getLogger(__name__)
CLAIM = dt.timedelta(minutes=5)  # as shop.core.outbox: longer than a send can take
NO_TOKEN = "Waiting for the bot token: set ASSISTANT_TELEGRAM_BOT_TOKEN and it is sent."


class TicketError(Exception):
    """A ticket that cannot take this answer (a readable message for staff)."""


def ticket_answer(*, ticket_id: int, answer: str, staff) -> Turn:
    """Record `answer` on the ticket, add it to the conversation, and queue it by email when the
    ticket has an address and to the chat when the conversation is a Telegram one. Returns the
    staff message."""
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
        conversation = ticket.conversation
        if conversation.channel == Channel.TELEGRAM and conversation.external_id:
            message = TelegramAnswer.objects.create(ticket=ticket, turn=turn, chat_id=conversation.external_id)
            transaction.on_commit(lambda: _queue_telegram(message.pk))
    return turn


def _queue(email_id: int) -> None:
    from marketing.assistant import tasks

    try:
        tasks.send_ticket_email.delay(email_id=email_id)
    except Exception:  # the broker is down: the sweep sends it
        log.warning("Could not queue answer email %s; the sweep will send it.", email_id)


def _queue_telegram(answer_id: int) -> None:
    from marketing.assistant import tasks

    try:
        tasks.send_telegram_answer.delay(answer_id=answer_id)
    except Exception:  # the broker is down: the sweep sends it
        log.warning("Could not queue Telegram answer %s; the sweep will send it.", answer_id)


def telegram_answer_send(*, answer_id: int) -> bool:
    """Send one staff answer to its Telegram chat, once. True when sent now; False when it was sent,
    refused for good or claimed already, or when there is no bot token (it waits, with the reason in
    `last_error`). A failure that may pass is recorded and raised (telegram_client.Unavailable) for
    the caller to retry."""
    now = timezone.now()
    # The claim: a task, its retry and the sweep may reach one row at once; one of them sends.
    claimed = (
        TelegramAnswer.objects.waiting()
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=answer_id)
        .update(claimed_until=now + CLAIM)
    )
    if claimed != 1:
        return False
    row = TelegramAnswer.objects.select_related("turn").get(pk=answer_id)
    token = settings.ASSISTANT_TELEGRAM_BOT_TOKEN
    if not token:
        # Not an attempt: the answer waits for the setting instead of using up its tries.
        _release(row, last_error=NO_TOKEN)
        return False
    try:
        telegram_client.send_message(token=token, chat_id=row.chat_id, text=telegram_answer_text(row.turn.text))
    except telegram_client.TokenRefused as exc:
        _release(row, last_error=f"Telegram refused the bot token ({exc}); check ASSISTANT_TELEGRAM_BOT_TOKEN.")
        return False
    except telegram_client.Refused as exc:
        _release(row, last_error=str(exc), attempted=True, failed_at=timezone.now())
        log.info("Telegram refused answer %s for good: %s", answer_id, exc)
        return False
    except telegram_client.Unavailable as exc:
        _release(row, last_error=str(exc), attempted=True)
        raise
    TelegramAnswer.objects.filter(pk=row.pk).update(sent_at=timezone.now(), attempts=F("attempts") + 1)
    return True


def _release(row: TelegramAnswer, *, last_error: str, attempted: bool = False, **fields) -> None:
    if attempted:
        fields["attempts"] = F("attempts") + 1
    TelegramAnswer.objects.filter(pk=row.pk).update(claimed_until=None, last_error=last_error[:300], **fields)


def telegram_answer_text(answer: str) -> str:
    """The chat message: who answers, then the answer, within Telegram's length."""
    with translation.override(settings.LANGUAGE_CODE):
        return fit(_("Our team's answer:") + "\n\n" + answer)
