"""The assistant in the admin: the conversations with their figures, the FAQ, and answering tickets."""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from marketing.assistant import tasks, tickets
from marketing.assistant.models import Conversation, FaqEntry, Synonym, Ticket, TicketEmail, Turn
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(StaffFactory())
    return client


def conversation(*, user=None, handed_over=False, fallbacks=0, said=("red dresses",), intent="search"):
    c = Conversation.objects.create(user=user, session_key="" if user else "s", handed_over=handed_over)
    for text in said:
        Turn.objects.create(conversation=c, role="shopper", text=text, intent=intent, confidence=0.9)
        Turn.objects.create(conversation=c, role="assistant", text=f"Answer to {text}", intent=intent)
    for i in range(fallbacks):
        Turn.objects.create(conversation=c, role="shopper", text=f"blorp {i}", intent="unknown", fallback=True)
    return c


def test_the_conversation_list_shows_channel_user_last_message_intents_fallbacks_and_hand_overs(staff_client):
    ada = UserFactory(email="ada@example.org")
    conversation(user=ada, handed_over=True, fallbacks=2)
    conversation(said=("is the kettle in stock", "the blue one"), intent="product_stock")

    response = staff_client.get("/admin/assistant/conversation/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "ada@example.org" in html and "blorp 1" in html  # the last message
    assert "search, unknown" in html and "product_stock" in html
    # 2 conversations; 2 fallbacks of 5 shopper messages; 1 of 2 handed over.
    assert "2 conversations" in html and "40.0%" in html and "50.0%" in html


def test_the_conversation_list_reads_a_fixed_number_of_queries(staff_client):
    conversation(fallbacks=1)
    with CaptureQueriesContext(connection) as few:
        staff_client.get("/admin/assistant/conversation/")
    for i in range(8):
        conversation(user=UserFactory(), said=("a", "b", "c"), fallbacks=i % 3, handed_over=bool(i % 2))
    with CaptureQueriesContext(connection) as many:
        response = staff_client.get("/admin/assistant/conversation/")

    assert response.status_code == 200
    assert len(many) == len(few)


def test_conversations_are_searched_by_what_was_said_and_filtered(staff_client):
    conversation(said=("a red dress",))
    conversation(said=("headphones",), fallbacks=1)

    found = staff_client.get("/admin/assistant/conversation/?q=dress")
    not_understood = staff_client.get("/admin/assistant/conversation/?fallbacks=yes")

    assert found.context["cl"].result_count == 1
    assert [c.turns.first().text for c in not_understood.context["cl"].result_list] == ["headphones"]


def test_a_conversation_shows_its_messages_read_only_with_intent_and_confidence(staff_client):
    c = conversation(said=("a red dress",))

    html = staff_client.get(f"/admin/assistant/conversation/{c.pk}/change/").content.decode()

    assert "a red dress" in html and "0.9" in html and "search" in html
    assert 'name="turns-0-text"' not in html  # read-only


def test_a_conversation_shows_what_was_read_and_never_a_guests_session_key(staff_client):
    c = Conversation.objects.create(session_key="guest-session-key-1234567890")
    Turn.objects.create(
        conversation=c,
        role="shopper",
        text="red dresses under 100",
        intent="search",
        confidence=0.85,
        entities={"values": {"colour": ["red"]}, "max_price": "100.00"},
    )

    html = staff_client.get(f"/admin/assistant/conversation/{c.pk}/change/").content.decode()

    assert "values: colour red · max_price: 100.00" in html
    assert "A guest" in html
    assert "guest-session-key-1234567890" not in html  # a guest's credential stays out of the admin


def test_faq_entries_are_ordered_and_switched_on_from_the_list(staff_client):
    faq = FaqEntry.objects.create(question="How long does shipping take?", answer="3 days", position=5)
    Synonym.objects.create(word="sneakers", means="trainers")

    response = staff_client.get("/admin/assistant/faqentry/?q=shipping")
    synonyms = staff_client.get("/admin/assistant/synonym/")

    html = response.content.decode()
    assert "How long does shipping take?" in html and 'name="form-0-position"' in html
    assert 'name="form-0-is_active"' in html
    assert "sneakers" in synonyms.content.decode()
    assert faq.position == 5


def ticket(email="ada@example.org"):
    c = conversation(handed_over=True)
    return Ticket.objects.create(conversation=c, email=email, question="Can I return a worn dress?")


def test_the_ticket_queue_shows_open_tickets_first(staff_client):
    waiting = ticket()
    done = ticket()
    done.status = Ticket.Status.ANSWERED
    done.save()

    queue = staff_client.get("/admin/assistant/ticket/")
    everything = staff_client.get("/admin/assistant/ticket/?status=all")

    assert list(queue.context["cl"].result_list) == [waiting]
    assert everything.context["cl"].result_count == 2


def test_answering_a_ticket_records_it_adds_it_to_the_chat_and_sends_one_email(
    staff_client, django_capture_on_commit_callbacks
):
    t = ticket()
    form = {"status": "open", "email": t.email, "answer": "Yes, within 30 days.", "_send_answer": "1"}

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/admin/assistant/ticket/{t.pk}/change/", form)

    assert response.status_code == 302
    t.refresh_from_db()
    assert t.status == Ticket.Status.ANSWERED and t.answer == "Yes, within 30 days." and t.answered_at
    assert t.conversation.turns.last().role == "staff"
    assert t.conversation.turns.last().text == "Yes, within 30 days."
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.org"] and "Yes, within 30 days." in mail.outbox[0].body
    email = TicketEmail.objects.get()
    assert email.sent_at is not None and email.attempts == 1
    # Sent once: the task again, or the sweep, sends nothing more.
    assert tasks.send_ticket_email.apply(kwargs={"email_id": email.pk}).get() is False
    tasks.send_pending_ticket_emails.apply()
    assert len(mail.outbox) == 1


def test_an_answer_email_that_fails_is_kept_for_a_retry(staff_client, monkeypatch, django_capture_on_commit_callbacks):
    t = ticket()
    monkeypatch.setattr(tasks.send_ticket_email, "max_retries", 0)

    def broken(self, *args, **kwargs):
        raise ConnectionError("SMTP down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", broken)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/admin/assistant/ticket/{t.pk}/change/",
                          {"status": "open", "email": t.email, "answer": "Yes.", "_send_answer": "1"})  # fmt: skip

    email = TicketEmail.objects.get()
    assert email.sent_at is None and email.attempts == 1 and "SMTP down" in email.last_error
    assert t.conversation.turns.filter(role="staff").count() == 1  # the answer is in the chat all the same


def test_a_plain_save_does_not_send_and_an_empty_answer_is_refused(staff_client):
    t = ticket()

    saved = staff_client.post(f"/admin/assistant/ticket/{t.pk}/change/",
                              {"status": "closed", "email": t.email, "answer": "draft"})  # fmt: skip
    blank = {"status": "open", "email": "b@example.org", "answer": " ", "_send_answer": "1"}
    empty = staff_client.post(f"/admin/assistant/ticket/{ticket().pk}/change/", blank)

    t.refresh_from_db()
    assert saved.status_code == 302 and t.status == "closed" and t.answer == "" and not mail.outbox
    assert empty.status_code == 200 and "Write an answer first." in empty.content.decode()
    assert not TicketEmail.objects.exists()


def test_closing_and_sending_in_one_save_is_refused_and_reopening_and_sending_answers(staff_client):
    t = ticket()
    url = f"/admin/assistant/ticket/{t.pk}/change/"

    refused = staff_client.post(url, {"status": "closed", "email": t.email, "answer": "Yes.", "_send_answer": "1"})

    t.refresh_from_db()
    assert refused.status_code == 200 and "A closed ticket takes no answer" in refused.content.decode()
    assert t.status == "open" and not TicketEmail.objects.exists()
    Ticket.objects.filter(pk=t.pk).update(status="closed")
    reopened = staff_client.post(url, {"status": "open", "email": t.email, "answer": "Yes.", "_send_answer": "1"})
    t.refresh_from_db()
    assert reopened.status_code == 302 and t.status == "answered" and TicketEmail.objects.count() == 1


def test_an_answer_to_a_ticket_closed_meanwhile_says_so_instead_of_failing(staff_client, monkeypatch):
    t = ticket()
    real = tickets.ticket_answer

    def closed_meanwhile(**kwargs):  # another member of staff closed it after this form was checked
        Ticket.objects.filter(pk=t.pk).update(status="closed")
        return real(**kwargs)

    monkeypatch.setattr(tickets, "ticket_answer", closed_meanwhile)
    response = staff_client.post(
        f"/admin/assistant/ticket/{t.pk}/change/",
        {"status": "open", "email": t.email, "answer": "Yes.", "_send_answer": "1"},
        follow=True,
    )

    assert (
        response.status_code == 200 and "The answer was not sent: This ticket is closed." in response.content.decode()
    )
    assert not TicketEmail.objects.exists()


@pytest.mark.parametrize(
    ("link", "saved"),
    [
        ("/pages/shipping/", True),
        ("https://help.example.org/returns", True),
        ("javascript:alert(document.domain)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
    ],
)
def test_an_faq_link_is_a_store_page_or_an_http_address(staff_client, link, saved):
    response = staff_client.post(
        "/admin/assistant/faqentry/add/",
        {"question": "Pirate flags?", "answer": "No.", "phrasings": "", "link": link, "position": 0, "is_active": "on"},
    )
    assert (response.status_code == 302) is saved, response.content.decode()[:300]
    assert FaqEntry.objects.filter(link=link).exists() is saved
    if not saved:
        assert "Give a page of this store" in response.content.decode()
