"""The assistant's part of a customer's data (shop/accounts/privacy.py, docs/privacy.md): their
conversations with it, and what they asked staff."""

from django.db.models import Prefetch, Q
from django.utils.translation import gettext_lazy

from marketing.assistant import services
from marketing.assistant.models import Conversation, Turn


class AssistantData:
    key = "assistant"
    label = gettext_lazy("Shopping assistant")
    erases = gettext_lazy(
        "What you wrote to the shopping assistant and what it answered, what you asked our staff and "
        "their answers, and the email address you gave them."
    )
    keeps = gettext_lazy("That the conversations took place, with no words and no name (they count in the figures).")

    def export(self, user) -> list:
        turns = Turn.objects.order_by("created_at", "id").only(
            "conversation_id", "role", "text", "intent", "created_at"
        )
        conversations = (
            Conversation.objects.filter(_theirs(user))
            .select_related("ticket")
            .prefetch_related(Prefetch("turns", queryset=turns))
            .order_by("started_at", "id")
        )
        return [
            {
                "id": str(conversation.public_id),
                "channel": conversation.channel,
                "started_at": conversation.started_at,
                "handed_over": conversation.handed_over,
                "messages": [
                    {"at": turn.created_at, "from": turn.role, "text": turn.text, "understood_as": turn.intent}
                    for turn in conversation.turns.all()
                ],
                "ticket": _ticket(conversation),
            }
            for conversation in conversations
        ]

    def erase(self, user) -> None:
        # By id: the email's join to tickets is an outer one, which PostgreSQL's FOR UPDATE refuses.
        theirs = Conversation.objects.filter(_theirs(user)).values("pk")
        services.conversations_forget(conversations=Conversation.objects.filter(pk__in=theirs))


def _theirs(user) -> Q:
    """Their conversations (a guest's are theirs from the login that claims them). Not those with a
    ticket left under their email: anyone may type an email, and registering one is no proof of it."""
    return Q(user=user)


def _ticket(conversation):
    ticket = getattr(conversation, "ticket", None)
    if ticket is None:
        return None
    return {
        "status": ticket.status,
        "email": ticket.email,
        "question": ticket.question,
        "answer": ticket.answer,
        "answered_at": ticket.answered_at,
    }
