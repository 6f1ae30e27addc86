"""Every write of the assistant: conversations for their owner, the turns, tickets for staff."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from marketing.assistant import selectors
from marketing.assistant.contract import Reply, Understanding
from marketing.assistant.models import Channel, Conversation, TelegramAnswer, Ticket, TicketEmail, Turn
from shop.core.errors import NotFound


def session_key_of(request, *, create: bool) -> str | None:
    """The request's session key; with `create`, a session is started for a guest who has none yet."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    if not session.session_key and create:
        session.save()
        session.modified = True  # so the response sets the cookie that brings the guest back
    return session.session_key


def _customer(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


# The guest conversations this session started: the session's data survives logging in (its key
# does not), so a shopper who logs in mid-chat carries on in the same conversation.
SESSION_KEY = "assistant_conversations"


def conversation_for_request(request, *, public_id) -> Conversation:
    """The requester's conversation with this id; NotFound (404) for anyone else's or none."""
    user = _customer(request)
    found = selectors.conversation_owned(
        public_id=public_id, user=user, session_key=session_key_of(request, create=False)
    )
    if found is None and user is not None:
        found = _attach(request, user=user, public_id=public_id)
    if found is None:
        raise NotFound(_("There is no such conversation."), field="conversation")
    return found


def _attach(request, *, user, public_id) -> Conversation | None:
    """A conversation this session started as a guest becomes the customer's once they log in."""
    session = getattr(request, "session", None)
    if session is None or str(public_id) not in session.get(SESSION_KEY, []):
        return None
    # Conditional: only a conversation still without a customer is claimed.
    if not Conversation.objects.filter(public_id=public_id, user__isnull=True).update(user=user, session_key=""):
        return None
    session[SESSION_KEY] = [i for i in session[SESSION_KEY] if i != str(public_id)]
    return Conversation.objects.get(public_id=public_id)


def conversations_claim(request, *, user) -> int:
    """At login: every conversation this session started as a guest becomes the customer's, so it
    shows in their data download and goes with their erasure (shop.accounts.privacy) even if they
    never open the chat again. Conditional, as `_attach`: one another customer claimed stays theirs."""
    session = getattr(request, "session", None)
    started = session.get(SESSION_KEY, []) if session is not None else []
    if not started:
        return 0
    claimed = Conversation.objects.filter(public_id__in=started, user__isnull=True).update(user=user, session_key="")
    session[SESSION_KEY] = []
    return claimed


def conversation_get_or_create(*, request, public_id=None, channel: str = Channel.WEB) -> Conversation:
    """The conversation to continue (the requester's own, else NotFound), or a new one for them."""
    if public_id is not None:
        return conversation_for_request(request, public_id=public_id)
    user = _customer(request)
    if user is not None:
        return Conversation.objects.create(user=user, channel=channel)
    conversation = Conversation.objects.create(session_key=session_key_of(request, create=True) or "", channel=channel)
    started = request.session.get(SESSION_KEY, [])
    request.session[SESSION_KEY] = [*started[-9:], str(conversation.public_id)]
    return conversation


def plain(value):
    """A dataclass, Decimal, tuple… as JSON can store it."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


def _entities(understanding: Understanding) -> dict:
    # Only what was read: the defaults tell staff nothing.
    defaults = type(understanding.entities)()
    return {
        name: plain(value) for name, value in plain_fields(understanding.entities) if value != getattr(defaults, name)
    }


def plain_fields(entities):
    return [(f.name, getattr(entities, f.name)) for f in dataclasses.fields(entities)]


def turns_record(
    *, conversation: Conversation, text: str, understanding: Understanding, fallback: bool, reply: Reply
) -> tuple[Turn, Turn]:
    """The shopper's turn (what was understood) and the assistant's (what it showed)."""
    shopper = Turn(
        conversation=conversation,
        role=Turn.Role.SHOPPER,
        text=text,
        intent=understanding.intent,
        confidence=understanding.confidence,
        entities=_entities(understanding),
        fallback=fallback,
    )
    answer = Turn(
        conversation=conversation,
        role=Turn.Role.ASSISTANT,
        text=reply.text,
        intent=reply.intent,
        parts=plain({"products": reply.products, "actions": reply.actions, "quick_replies": reply.quick_replies}),
    )
    # One by one (not bulk_create): created_at and the ids keep their order on every database.
    shopper.save()
    answer.save()
    return shopper, answer


def context_save(*, conversation: Conversation) -> None:
    # updated_at too: the admin lists the latest conversations first.
    conversation.save(update_fields=["context", "handed_over", "updated_at"])


def ticket_open(*, conversation: Conversation, email: str, question: str) -> Ticket:
    """Hand the conversation over to staff (one ticket per conversation: a second ask reopens it)."""
    with transaction.atomic():
        ticket, created = Ticket.objects.select_for_update().get_or_create(
            conversation=conversation, defaults={"email": email, "question": question}
        )
        if not created and ticket.status != Ticket.Status.OPEN:
            ticket.status = Ticket.Status.OPEN
            ticket.question = f"{ticket.question}\n\n{question}"
            ticket.email = email or ticket.email
            ticket.save(update_fields=["status", "question", "email"])
        conversation.handed_over = True
    return ticket


# The context key that marks a conversation whose words and owner are gone (the erasure, the retention).
FORGOTTEN = "forgotten"


def conversations_forget(*, conversations) -> int:
    """Empty these conversations of everything personal, keeping what staff's figures count: the
    messages stay, with their role, time, intent, confidence and fallback, but no words, nothing read
    in them and nothing shown; the conversation keeps its channel, dates and hand-over, but no
    customer, session or chat id; a ticket keeps its status and dates, but no email, question or
    answer, and its emails and Telegram messages (sent or not) go. Returns how many were forgotten."""
    from django.utils import timezone

    with transaction.atomic():
        ids = list(
            conversations.exclude(**{f"context__{FORGOTTEN}__isnull": False})
            .select_for_update()
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0
        Turn.objects.filter(conversation__in=ids).update(text="", entities={}, parts={})
        Ticket.objects.filter(conversation__in=ids).update(email="", question="", answer="")
        TicketEmail.objects.filter(ticket__conversation__in=ids).delete()
        TelegramAnswer.objects.filter(ticket__conversation__in=ids).delete()
        Conversation.objects.filter(pk__in=ids).update(
            user=None, session_key="", external_id="", context={FORGOTTEN: timezone.now().date().isoformat()}
        )
    return len(ids)


def conversations_forget_old(*, days: int) -> int:
    """The retention: conversations with no message for `days` are forgotten (conversations_forget)."""
    from datetime import timedelta

    from django.utils import timezone

    cutoff = timezone.now() - timedelta(days=days)
    return conversations_forget(conversations=Conversation.objects.filter(updated_at__lt=cutoff))
