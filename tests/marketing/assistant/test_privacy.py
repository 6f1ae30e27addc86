"""The assistant's part of a customer's download and erasure, and the retention of old conversations."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketing.assistant import tasks
from marketing.assistant.models import Conversation, TelegramAnswer, Ticket, TicketEmail, Turn
from marketing.assistant.privacy import AssistantData
from shop.accounts.privacy import customer_data_export, customer_erase
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def talk(*, user=None, session_key="", said="my size is M, write to ada@example.com", ticket=True):
    conversation = Conversation.objects.create(user=user, session_key=session_key, handed_over=ticket)
    asked = Turn.objects.create(
        conversation=conversation,
        role="shopper",
        text=said,
        intent="human",
        confidence=0.9,
        entities={"email": "ada@example.com"},
    )
    answer = Turn.objects.create(conversation=conversation, role="staff", text="We will send size M, Ada.")
    if ticket:
        found = Ticket.objects.create(
            conversation=conversation,
            email="ada@example.com",
            question=said,
            answer=answer.text,
            status="answered",
            answered_at=timezone.now(),
        )
        TicketEmail.objects.create(ticket=found, turn=answer, to="ada@example.com")
        TelegramAnswer.objects.create(ticket=found, turn=answer, chat_id="424242")
    return conversation, asked


def test_the_download_has_the_customers_conversations_and_tickets(customer, stranger):
    mine, _ = talk(user=customer)
    talk(user=stranger, said="the stranger's words")

    exported = AssistantData().export(customer)

    assert [c["id"] for c in exported] == [str(mine.public_id)]
    assert [m["text"] for m in exported[0]["messages"]] == [
        "my size is M, write to ada@example.com",
        "We will send size M, Ada.",
    ]
    assert exported[0]["ticket"]["email"] == "ada@example.com"
    assert exported[0]["ticket"]["answer"] == "We will send size M, Ada."
    section = customer_data_export(user=customer)["sections"]["assistant"]  # registered with the others
    assert section["data"][0]["messages"][1]["text"] == "We will send size M, Ada."


def test_the_erasure_forgets_the_words_and_the_owner_and_keeps_the_figures(customer, stranger):
    mine, asked = talk(user=customer)
    theirs, _ = talk(user=stranger, said="the stranger's words")

    customer_erase(user=customer, requested_by="self")

    mine.refresh_from_db()
    asked.refresh_from_db()
    assert (mine.user, mine.session_key, mine.handed_over) == (None, "", True)
    assert set(mine.context) == {"forgotten"}
    assert (asked.text, asked.entities, asked.intent, asked.role) == ("", {}, "human", "shopper")
    assert set(Turn.objects.filter(conversation=mine).values_list("text", flat=True)) == {""}
    ticket = Ticket.objects.get(conversation=mine)
    assert (ticket.email, ticket.question, ticket.answer, ticket.status) == ("", "", "", "answered")
    assert not TicketEmail.objects.filter(ticket=ticket).exists()
    assert not TelegramAnswer.objects.filter(ticket=ticket).exists()
    # Nobody else's conversation is touched.
    assert Turn.objects.filter(conversation=theirs, text="the stranger's words").exists()
    assert Ticket.objects.get(conversation=theirs).email == "ada@example.com"


def test_old_conversations_are_forgotten_once_and_recent_ones_kept(settings):
    settings.ASSISTANT_KEEP_DAYS = 30
    old, old_turn = talk(session_key="guest-session", ticket=False)
    recent, recent_turn = talk(session_key="other-session", ticket=False)
    Conversation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(days=31))

    assert tasks.forget_old_conversations() == 1
    old_turn.refresh_from_db()
    recent_turn.refresh_from_db()
    assert old_turn.text == "" and Conversation.objects.get(pk=old.pk).session_key == ""
    assert recent_turn.text.startswith("my size")
    assert tasks.forget_old_conversations() == 0  # already forgotten: nothing to do again


def test_a_guests_chat_is_the_customers_from_login_so_it_is_downloaded_and_erased(client, reader, password):
    """Logging in on the page claims what this browser said as a guest, without opening the chat again."""
    customer = UserFactory(email="ada@example.org", password=password)
    reader.teach("my address is 1 Secret Lane", "unknown", 0.1)
    client.post(
        "/api/v1/assistant/messages/", {"message": "my address is 1 Secret Lane"}, content_type="application/json"
    )
    elsewhere = Client()  # another browser's guest chat: not theirs
    elsewhere.post(
        "/api/v1/assistant/messages/", {"message": "my address is 1 Secret Lane"}, content_type="application/json"
    )

    response = client.post(reverse("accounts:login"), {"username": customer.email, "password": password})

    assert response.status_code == 302
    mine = Conversation.objects.get(user=customer)
    assert [c["id"] for c in AssistantData().export(customer)] == [str(mine.public_id)]
    customer_erase(user=customer, requested_by="self")
    assert Turn.objects.filter(conversation=mine, role="shopper").get().text == ""
    assert Turn.objects.filter(role="shopper", text__contains="Secret Lane").count() == 1  # the other browser's


def test_a_guests_ticket_under_the_accounts_email_is_not_the_accounts(customer):
    """Anyone can type an email to the assistant, and registering one proves nothing: a guest's ticket
    under it is neither downloaded nor erased by that account (the retention empties it in time)."""
    telegram, asked = talk(said="where is my parcel? my card ends 4242")
    Ticket.objects.filter(conversation=telegram).update(email="Owner@Example.org")

    assert AssistantData().export(customer) == []
    customer_erase(user=customer, requested_by="self")

    asked.refresh_from_db()
    assert asked.text.endswith("4242") and Ticket.objects.get(conversation=telegram).email == "Owner@Example.org"
