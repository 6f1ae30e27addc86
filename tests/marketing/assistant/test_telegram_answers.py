"""Staff answers to a Telegram hand-over reach the chat: an outbox row written with the answer, sent
once by a task with sendMessage, retried, swept; refused for good when Telegram says so."""

import datetime as dt

import pytest
import requests
import responses
from django.core import mail
from django.test import Client
from django.utils import timezone

from marketing.assistant import dialogue, tasks, telegram_client, tickets
from marketing.assistant.models import Channel, Conversation, TelegramAnswer, Ticket, TicketEmail
from tests.factories import StaffFactory
from tests.marketing.assistant.test_telegram import (  # noqa: F401  (no_network: autouse, refuses outside connections)
    ADA,
    SECRET,
    no_network,
    payload,
    post,
)

pytestmark = pytest.mark.django_db

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
ANSWER = "Yes, you can return it within 30 days."


@pytest.fixture(autouse=True)
def telegram_on(settings):
    settings.ASSISTANT_TELEGRAM_SECRET = SECRET
    settings.ASSISTANT_TELEGRAM_BOT_TOKEN = TOKEN
    settings.ASSISTANT_TELEGRAM_MESSAGES_PER_CHAT = (20, 60)


class Telegram:
    """The fake transport: records each sendMessage, or fails with the errors it was given, in turn."""

    def __init__(self):
        self.sent: list[dict] = []
        self.failures: list[Exception] = []
        self.during = None  # called inside a send (a second worker arriving mid-send)

    def __call__(self, *, token, chat_id, text):
        if self.during is not None:
            during, self.during = self.during, None
            during()
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append({"token": token, "chat_id": chat_id, "text": text})


@pytest.fixture
def telegram(monkeypatch):
    fake = Telegram()
    monkeypatch.setattr(telegram_client, "send_message", fake)
    return fake


@pytest.fixture
def staff():
    return StaffFactory()


def telegram_ticket(email="") -> Ticket:
    conversation = Conversation.objects.create(channel=Channel.TELEGRAM, external_id=str(ADA), handed_over=True)
    return Ticket.objects.create(conversation=conversation, email=email, question="Can I return a worn dress?")


def answer(ticket, staff, captured):
    with captured(execute=True):
        return tickets.ticket_answer(ticket_id=ticket.pk, answer=ANSWER, staff=staff)


def age(row: TelegramAnswer) -> None:
    """The row as the sweep finds it: older than its task should have taken."""
    TelegramAnswer.objects.filter(pk=row.pk).update(created_at=timezone.now() - dt.timedelta(minutes=10))


# --- the shopper's side ----------------------------------------------------------------------------


def test_it_hands_over_in_telegram_without_asking_an_email_and_staff_answer_in_the_chat(
    reader, telegram, django_capture_on_commit_callbacks
):
    reader.teach("talk to a person", "human")
    update = payload("private_text")
    update["message"]["text"] = "talk to a person"

    handed = post(update)

    assert handed.status_code == 200
    assert "Our team will answer here" in handed.json()["text"]
    assert "email" not in handed.json()["text"]
    ticket = Ticket.objects.get()
    assert ticket.email == "" and ticket.status == Ticket.Status.OPEN and ticket.conversation.handed_over

    staff = Client()
    staff.force_login(StaffFactory())
    form = {"status": "open", "email": "", "answer": ANSWER, "_send_answer": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/admin/assistant/ticket/{ticket.pk}/change/", form, follow=True)

    assert "Telegram chat" in response.content.decode()
    assert telegram.sent == [{"token": TOKEN, "chat_id": str(ADA), "text": f"Our team's answer:\n\n{ANSWER}"}]
    row = TelegramAnswer.objects.get()
    assert row.sent_at is not None and row.attempts == 1 and row.failed_at is None
    assert not TicketEmail.objects.exists() and not mail.outbox


def test_the_hand_over_on_the_web_still_asks_for_an_email(reader):
    reader.teach("talk to a person", "human")
    conversation = Conversation.objects.create(session_key="s")

    reply = dialogue.respond(conversation, "talk to a person", user=None, request=None)

    assert "email" in reply.text.lower()
    assert not Ticket.objects.exists()


# --- sent once ------------------------------------------------------------------------------------


def test_answering_a_telegram_ticket_writes_one_row_and_sends_once(staff, telegram, django_capture_on_commit_callbacks):
    ticket = telegram_ticket()

    turn = answer(ticket, staff, django_capture_on_commit_callbacks)

    row = TelegramAnswer.objects.get()
    assert (row.ticket, row.turn, row.chat_id) == (ticket, turn, str(ADA))
    assert row.sent_at is not None and row.attempts == 1
    assert len(telegram.sent) == 1
    # Its task again, or the sweep, sends nothing more.
    assert tasks.send_telegram_answer.apply(kwargs={"answer_id": row.pk}).get() is False
    age(row)
    tasks.send_pending_telegram_answers.apply()
    assert len(telegram.sent) == 1


def test_a_telegram_ticket_with_an_email_gets_both(staff, telegram, django_capture_on_commit_callbacks):
    ticket = telegram_ticket(email="ada@example.org")

    answer(ticket, staff, django_capture_on_commit_callbacks)

    assert len(telegram.sent) == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.org"]


def test_a_web_ticket_is_answered_by_email_only_as_before(staff, telegram, django_capture_on_commit_callbacks):
    conversation = Conversation.objects.create(session_key="s", handed_over=True)
    ticket = Ticket.objects.create(conversation=conversation, email="ada@example.org", question="Returns?")

    answer(ticket, staff, django_capture_on_commit_callbacks)

    assert not TelegramAnswer.objects.exists() and telegram.sent == []
    assert len(mail.outbox) == 1 and ANSWER in mail.outbox[0].body
    assert TicketEmail.objects.get().sent_at is not None


def test_two_workers_at_once_send_it_once(staff, telegram, django_capture_on_commit_callbacks):
    ticket = telegram_ticket()
    with django_capture_on_commit_callbacks(execute=False):
        tickets.ticket_answer(ticket_id=ticket.pk, answer=ANSWER, staff=staff)
    row = TelegramAnswer.objects.get()
    age(row)
    others = []
    # While the task is sending, the sweep and a second task arrive: the claim stops both.
    telegram.during = lambda: others.extend(
        [
            tasks.send_pending_telegram_answers.apply().get(),
            tasks.send_telegram_answer.apply(kwargs={"answer_id": row.pk}).get(),
        ]
    )

    first = tasks.send_telegram_answer.apply(kwargs={"answer_id": row.pk}).get()

    assert first is True and others == [1, False]
    assert len(telegram.sent) == 1
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 1


# --- failures ---------------------------------------------------------------------------------------


def test_a_failure_is_retried(staff, telegram, django_capture_on_commit_callbacks):
    telegram.failures = [telegram_client.Unavailable("502 Bad Gateway")]
    ticket = telegram_ticket()

    answer(ticket, staff, django_capture_on_commit_callbacks)  # eager: the task's retry runs at once

    row = TelegramAnswer.objects.get()
    assert row.sent_at is not None and row.attempts == 2 and row.last_error == "502 Bad Gateway"
    assert len(telegram.sent) == 1


def test_a_failure_that_outlasts_the_retries_is_swept(staff, telegram, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(tasks.send_telegram_answer, "max_retries", 0)
    telegram.failures = [telegram_client.Unavailable("ConnectTimeout: timed out")]
    ticket = telegram_ticket()

    answer(ticket, staff, django_capture_on_commit_callbacks)

    row = TelegramAnswer.objects.get()
    assert row.sent_at is None and row.attempts == 1 and "timed out" in row.last_error
    assert row.claimed_until is None  # released for the retry
    assert tasks.send_pending_telegram_answers.apply().get() == 0  # too recent: its own retry comes first
    age(row)
    assert tasks.send_pending_telegram_answers.apply().get() == 1
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2
    assert len(telegram.sent) == 1


def test_a_chat_that_keeps_failing_leaves_the_sweep(staff, telegram, django_capture_on_commit_callbacks):
    ticket = telegram_ticket()
    with django_capture_on_commit_callbacks(execute=False):
        tickets.ticket_answer(ticket_id=ticket.pk, answer=ANSWER, staff=staff)
    row = TelegramAnswer.objects.get()
    age(row)
    TelegramAnswer.objects.filter(pk=row.pk).update(attempts=tasks.TELEGRAM_TRIES)

    assert tasks.send_pending_telegram_answers.apply().get() == 0
    assert telegram.sent == []


@pytest.mark.parametrize("refusal", ["403 Forbidden: bot was blocked by the user", "400 Bad Request: chat not found"])
def test_a_refusal_for_good_is_recorded_and_not_retried(staff, telegram, refusal, django_capture_on_commit_callbacks):
    telegram.failures = [telegram_client.Refused(refusal)]
    ticket = telegram_ticket()

    answer(ticket, staff, django_capture_on_commit_callbacks)

    row = TelegramAnswer.objects.get()
    assert row.failed_at is not None and row.sent_at is None
    assert row.attempts == 1 and row.last_error == refusal
    age(row)
    assert tasks.send_pending_telegram_answers.apply().get() == 0
    assert tasks.send_telegram_answer.apply(kwargs={"answer_id": row.pk}).get() is False
    assert telegram.sent == []
    row.refresh_from_db()
    assert row.attempts == 1


def test_without_a_bot_token_the_answer_waits_saying_why(staff, telegram, settings, django_capture_on_commit_callbacks):
    settings.ASSISTANT_TELEGRAM_BOT_TOKEN = ""
    ticket = telegram_ticket()

    answer(ticket, staff, django_capture_on_commit_callbacks)

    row = TelegramAnswer.objects.get()
    assert row.sent_at is None and row.failed_at is None and row.attempts == 0
    assert "ASSISTANT_TELEGRAM_BOT_TOKEN" in row.last_error
    age(row)
    assert tasks.send_pending_telegram_answers.apply().get() == 0
    assert telegram.sent == []
    # Once the token is set, the sweep sends it.
    settings.ASSISTANT_TELEGRAM_BOT_TOKEN = TOKEN
    assert tasks.send_pending_telegram_answers.apply().get() == 1
    row.refresh_from_db()
    assert row.sent_at is not None and len(telegram.sent) == 1


def test_a_token_telegram_refuses_keeps_the_answer_waiting(staff, telegram, django_capture_on_commit_callbacks):
    telegram.failures = [telegram_client.TokenRefused("401 Unauthorized")]
    ticket = telegram_ticket()

    answer(ticket, staff, django_capture_on_commit_callbacks)

    row = TelegramAnswer.objects.get()
    assert row.sent_at is None and row.failed_at is None and row.attempts == 0
    assert "401 Unauthorized" in row.last_error and "ASSISTANT_TELEGRAM_BOT_TOKEN" in row.last_error


def test_the_backoff_waits_as_telegram_asks_else_doubles():
    assert tasks.backoff(telegram_client.Unavailable("429", retry_after=17), 3) == 17
    assert [tasks.backoff(telegram_client.Unavailable("503"), n) for n in range(3)] == [60, 120, 240]


# --- the admin ----------------------------------------------------------------------------------------


def test_the_ticket_shows_each_delivery_and_its_state(staff, telegram, django_capture_on_commit_callbacks):
    telegram.failures = [telegram_client.Refused("403 Forbidden: bot was blocked by the user")]
    ticket = telegram_ticket(email="ada@example.org")
    answer(ticket, staff, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(staff)

    html = client.get(f"/admin/assistant/ticket/{ticket.pk}/change/").content.decode()

    assert "Email to ada@example.org: sent" in html
    assert "Telegram chat: refused for good: 403 Forbidden: bot was blocked by the user" in html


def test_the_ticket_shows_an_answer_waiting_for_the_token(
    staff, telegram, settings, django_capture_on_commit_callbacks
):
    settings.ASSISTANT_TELEGRAM_BOT_TOKEN = ""
    ticket = telegram_ticket()
    answer(ticket, staff, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(staff)

    html = client.get(f"/admin/assistant/ticket/{ticket.pk}/change/").content.decode()

    assert "Telegram chat: not sent yet (0 attempts): Waiting for the bot token" in html


# --- the client, at the requests boundary ------------------------------------------------------------

URL = f"https://api.telegram.org/bot{TOKEN}/sendMessage"


def send():
    telegram_client.send_message(token=TOKEN, chat_id="42", text="Hello")


def test_the_client_posts_plain_text_to_sendmessage_with_a_timeout():
    with responses.RequestsMock() as mock:  # a request that is not mocked fails
        call = mock.post(URL, json={"ok": True, "result": {"message_id": 7}})
        send()

    assert call.call_count == 1
    assert call.calls[0].request.body == b'{"chat_id": "42", "text": "Hello"}'
    assert call.calls[0].request.req_kwargs["timeout"] == telegram_client.TIMEOUT


@pytest.mark.parametrize(
    ("status", "body", "raised"),
    [
        (429, {"ok": False, "description": "Too Many Requests: retry after 9", "parameters": {"retry_after": 9}},
         telegram_client.Unavailable),
        (502, None, telegram_client.Unavailable),
        (500, {"ok": False, "description": "Internal Server Error"}, telegram_client.Unavailable),
        (403, {"ok": False, "description": "Forbidden: bot was blocked by the user"}, telegram_client.Refused),
        (400, {"ok": False, "description": "Bad Request: chat not found"}, telegram_client.Refused),
        (401, {"ok": False, "description": "Unauthorized"}, telegram_client.TokenRefused),
        (404, {"ok": False, "description": "Not Found"}, telegram_client.TokenRefused),
    ],
)  # fmt: skip
def test_the_client_tells_what_may_pass_from_what_never_will(status, body, raised):
    with responses.RequestsMock() as mock:
        if body is None:
            mock.post(URL, status=status, body="<html>Bad Gateway</html>")
        else:
            mock.post(URL, status=status, json=body)
        with pytest.raises(raised) as error:
            send()

    assert str(error.value).startswith(str(status))
    if status == 429:
        assert error.value.retry_after == 9


def test_a_network_error_may_pass_and_never_carries_the_token():
    with responses.RequestsMock() as mock:
        mock.post(URL, body=requests.ConnectionError(f"Max retries exceeded with url: /bot{TOKEN}/sendMessage"))
        with pytest.raises(telegram_client.Unavailable) as error:
            send()

    assert TOKEN not in str(error.value) and "<token>" in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__
