"""Nobody reads or continues another's conversation, or tracks another's order, through the assistant."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from marketing.assistant import services
from marketing.assistant.models import Turn
from shop.core.errors import NotFound
from tests.factories import OrderFactory as _OrderFactory
from tests.marketing.assistant.talk import Chat, web_request

pytestmark = pytest.mark.django_db

URL = "/api/v1/assistant/messages/"


D = Decimal
PLACED = dt.datetime(2026, 11, 3, 15, 0, tzinfo=dt.UTC)


def OrderFactory(**fields):  # noqa: N802
    return _OrderFactory(**{"placed_at": timezone.now(), **fields})


def _started(client) -> str:
    return client.post(URL, {"message": "hello"}, format="json").json()["conversation"]


def test_another_customers_conversation_is_a_404(reader, api_as, customer, stranger):
    reader.teach("hello", "greet")
    mine = _started(api_as(customer))
    theirs = api_as(stranger)
    assert theirs.post(URL, {"message": "hello", "conversation": mine}, format="json").status_code == 404
    assert theirs.get(f"/api/v1/assistant/conversations/{mine}/").status_code == 404
    assert Turn.objects.count() == 2  # the stranger's message went nowhere


def test_a_guests_conversation_is_a_404_from_another_session_and_for_a_customer(reader, api_as, stranger):
    reader.teach("hello", "greet")
    guest = APIClient()
    theirs = _started(guest)
    assert guest.post(URL, {"message": "hello", "conversation": theirs}, format="json").status_code == 200
    for other in (APIClient(), api_as(stranger)):
        assert other.post(URL, {"message": "hello", "conversation": theirs}, format="json").status_code == 404
        assert other.get(f"/api/v1/assistant/conversations/{theirs}/").status_code == 404


def test_a_customers_conversation_does_not_open_from_a_session(customer):
    chat = Chat(customer)
    with pytest.raises(NotFound):
        services.conversation_for_request(web_request(), public_id=chat.conversation.public_id)


def test_a_customer_sees_only_their_own_recent_orders(reader, customer, stranger):
    mine = OrderFactory(user=customer, status="shipped", subtotal=D("84.00"), placed_at=PLACED)
    OrderFactory(user=stranger)
    reader.teach("where is my order?", "track_order")
    reply = Chat(customer).say("where is my order?")
    assert reply.text == f"Your recent orders:\nOrder {mine.number} of Nov. 3, 2026, $84.00: Shipped"


def test_another_customers_order_cannot_be_tracked_by_its_number(reader, customer, stranger):
    theirs = OrderFactory(user=stranger)
    reader.teach("order", "track_order", order_number=theirs.number)
    assert Chat(customer).say("order").text == "No order matches that number and email."


def test_a_guest_needs_the_number_and_the_matching_email(reader):
    order = OrderFactory(email="ada@example.org", status="shipped", placed_at=PLACED)
    reader.teach("track my order", "track_order")
    reader.teach("the number", "track_order", order_number=order.number.lower())
    reader.teach("right email", "track_order", email="ADA@example.org")
    chat = Chat()
    assert "order number" in chat.say("track my order").text
    assert "email" in chat.say("the number").text
    reply = chat.say("right email")
    assert reply.text == f"Order {order.number} of Nov. 3, 2026, $10.00: Shipped."
    assert order.number in chat.request.session["guest_orders"]  # its page opens for them


def test_a_wrong_email_gets_the_same_answer_as_no_such_order(reader):
    order = OrderFactory(email="ada@example.org")
    reader.teach("wrong email", "track_order", order_number=order.number, email="eve@example.org")
    reader.teach("no such order", "track_order", order_number="BZ000000", email="eve@example.org")
    chat = Chat()
    assert chat.say("wrong email").text == chat.say("no such order").text == "No order matches that number and email."


def test_guessing_order_emails_is_rate_limited(reader):
    order = OrderFactory(email="ada@example.org")
    for n in range(10):
        reader.teach(f"guess {n}", "track_order", order_number=order.number, email=f"eve{n}@example.org")
    reader.teach("right", "track_order", order_number=order.number, email="ada@example.org")
    for n in range(10):
        Chat().say(f"guess {n}")  # new sessions, same client address: limited on the client and the number
    assert Chat().say("right").text == "Too many attempts. Wait 15 minutes and try again."


def test_a_guests_conversation_becomes_theirs_when_they_log_in(customer):
    chat = Chat()
    chat.request.session.cycle_key()  # as login() does
    chat.request.user = customer
    found = services.conversation_for_request(chat.request, public_id=chat.conversation.public_id)
    assert found == chat.conversation and found.user == customer and found.session_key == ""
    with pytest.raises(NotFound):  # and from then on, only theirs
        services.conversation_for_request(web_request(), public_id=found.public_id)


def test_another_customer_logging_in_elsewhere_cannot_claim_it(customer, stranger):
    chat = Chat()
    elsewhere = web_request(stranger)
    with pytest.raises(NotFound):
        services.conversation_for_request(elsewhere, public_id=chat.conversation.public_id)
    chat.conversation.refresh_from_db()
    assert chat.conversation.user is None
