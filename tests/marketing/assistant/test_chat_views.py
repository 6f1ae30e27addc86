"""The chat page without JavaScript, and the chat so far for the launcher's panel."""

import uuid

import pytest
from django.test import Client

from marketing.assistant.models import Conversation, Turn
from marketing.assistant.views import SESSION_KEY
from tests.factories import ProductFactory, UserFactory
from tests.marketing.assistant import fakes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def dialogue(monkeypatch):
    fakes.install(monkeypatch)


@pytest.fixture
def kettle():
    return ProductFactory(name="Blue kettle", price="24.50", stock=3)


def test_it_shows_an_empty_chat_with_a_form():
    response = Client().get("/assistant/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in html and 'name="message"' in html
    assert "What are you looking for today?" in html
    assert "data-chat-launcher" not in html  # the page is the chat: no launcher on it


def test_it_answers_a_message_and_shows_the_conversation_with_product_cards(kettle):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/assistant/")
    token = page.cookies["csrftoken"].value

    response = client.post("/assistant/", {"message": "  a kettle  ", "csrfmiddlewaretoken": token}, follow=True)

    assert response.redirect_chain == [("/assistant/#latest", 302)]
    html = response.content.decode()
    assert "a kettle" in html and "Here is what I found for “a kettle”." in html
    assert "Blue kettle" in html and "$24.50" in html and "In stock" in html
    assert f'href="{kettle.get_absolute_url()}"' in html
    assert 'value="Cheaper"' in html  # a quick reply, sent by the same form
    conversation = Conversation.objects.get()
    assert client.session[SESSION_KEY] == str(conversation.public_id)
    assert conversation.user is None and conversation.session_key == client.session.session_key
    assert list(conversation.turns.values_list("role", flat=True)) == ["shopper", "assistant"]


def test_the_next_message_continues_the_same_conversation(kettle):
    client = Client()
    client.post("/assistant/", {"message": "kettle"})
    client.post("/assistant/", {"message": "cheaper"})

    assert Conversation.objects.count() == 1
    assert Turn.objects.filter(role="shopper").count() == 2


def test_a_customer_conversation_is_theirs(kettle):
    ada = UserFactory()
    client = Client()
    client.force_login(ada)

    client.post("/assistant/", {"message": "kettle"})

    assert Conversation.objects.get().user == ada


def test_it_refuses_an_empty_or_too_long_message_with_a_400():
    client = Client()
    assert client.post("/assistant/", {"message": "   "}).status_code == 400
    response = client.post("/assistant/", {"message": "x" * 501})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Conversation.objects.exists()


def test_it_never_shows_someone_elses_conversation(kettle):
    other = Conversation.objects.create(session_key="someone-else")
    Turn.objects.create(conversation=other, role="shopper", text="my secret address is 1 Elm St")
    client = Client()
    session = client.session
    session[SESSION_KEY] = str(other.public_id)  # a stolen id in this browser's session
    session.save()

    page = client.get("/assistant/")
    history = client.get(f"/assistant/history/?conversation={other.public_id}")

    assert "1 Elm St" not in page.content.decode()
    assert history.json()["conversation"] is None and history.json()["messages"] == []
    client.post("/assistant/", {"message": "kettle"})
    assert other.turns.count() == 1  # nothing was added to theirs
    assert Conversation.objects.exclude(pk=other.pk).get().session_key == client.session.session_key


def test_another_customers_conversation_is_not_shown_to_a_customer():
    ada, bob = UserFactory(), UserFactory()
    theirs = Conversation.objects.create(user=ada)
    Turn.objects.create(conversation=theirs, role="shopper", text="order BZ1 for ada@example.com")
    client = Client()
    client.force_login(bob)

    history = client.get(f"/assistant/history/?conversation={theirs.public_id}")

    assert history.json()["messages"] == []


def test_the_history_gives_the_panel_its_conversation_and_a_csrf_token(kettle):
    client = Client()
    client.post("/assistant/", {"message": "kettle"})

    data = client.get("/assistant/history/").json()

    assert data["conversation"] == client.session[SESSION_KEY]
    assert [m["role"] for m in data["messages"]] == ["shopper", "assistant"]
    assert data["messages"][1]["products"][0]["name"] == "Blue kettle"
    assert data["messages"][1]["quick_replies"] == ["Cheaper", "Only in stock"]
    assert data["csrf_token"]


def test_the_history_adopts_the_panels_own_conversation():
    client = Client()
    client.get("/assistant/history/")  # the session exists
    mine = Conversation.objects.create(session_key=client.session.session_key)

    data = client.get(f"/assistant/history/?conversation={mine.public_id}").json()

    assert data["conversation"] == str(mine.public_id)
    assert client.session[SESSION_KEY] == str(mine.public_id)


def test_the_history_refuses_a_malformed_id():
    assert Client().get("/assistant/history/?conversation=nope").status_code == 400
    assert Client().get(f"/assistant/history/?conversation={uuid.uuid4()}").json()["conversation"] is None


def test_too_many_messages_are_refused_kindly(settings, kettle):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "assistant": "2/minute"},
    }
    client = Client()
    for _ in range(2):
        client.post("/assistant/", {"message": "kettle"})

    response = client.post("/assistant/", {"message": "kettle"})

    assert response.status_code == 429
    assert "please wait a minute" in response.content.decode()
    assert Turn.objects.filter(role="shopper").count() == 2


def test_a_new_conversation_can_be_started(kettle):
    client = Client()
    client.post("/assistant/", {"message": "kettle"})

    client.post("/assistant/", {"new": "1"})

    assert SESSION_KEY not in client.session
    assert "Blue kettle" not in client.get("/assistant/").content.decode()


def test_every_storefront_page_has_the_launcher_to_the_chat_page(kettle):
    html = Client().get(kettle.get_absolute_url()).content.decode()

    assert 'class="chat-launcher" href="/assistant/"' in html
    assert "Chat with us" in html and "assistant/chat.js" in html and "assistant/chat.css" in html


@pytest.mark.parametrize("path", ["/account/login/", "/account/register/", "/account/password-reset/"])
def test_focused_pages_show_no_launcher_over_their_form(path):
    from django.urls import resolve

    assert resolve(path)  # the page exists at this address
    response = Client().get(path)
    assert response.status_code == 200
    assert (
        "data-chat-launcher" not in response.content.decode() and "assistant/chat.js" not in response.content.decode()
    )


def test_the_card_form_shows_no_launcher_but_the_cart_does(kettle, localstripe):
    from shop.orders.checkout import ShippingAddress, checkout_place
    from tests.factories import CartFactory, CartLineFactory, UserFactory

    user = UserFactory()
    cart = CartFactory(user=user)
    CartLineFactory(cart=cart, product=kettle, quantity=1)
    address = ShippingAddress(name="Ada", line1="1 Row", city="London", postal_code="N1", country="GB")
    order, _created = checkout_place(
        cart=cart, user=user, email=user.email, address=address, shipping_method="standard", idempotency_key="k"
    )
    client = Client()
    client.force_login(user)

    pay = client.get(f"/orders/{order.number}/pay/")
    assert pay.status_code == 200 and 'id="pay-button"' in pay.content.decode()
    assert "data-chat-launcher" not in pay.content.decode()
    assert "data-chat-launcher" in client.get("/cart/").content.decode()


def test_a_guest_who_logs_in_carries_on_in_the_same_conversation(kettle):
    client = Client()
    client.post("/assistant/", {"message": "kettle"})
    customer = UserFactory()
    client.force_login(customer)  # a new session key, the same session data

    page = client.get("/assistant/")
    assert "Here is what I found for “kettle”." in page.content.decode()
    conversation = Conversation.objects.get()
    assert (conversation.user, conversation.session_key) == (customer, "")  # now the customer's own
    client.post("/assistant/", {"message": "cheaper"})
    assert Conversation.objects.count() == 1 and conversation.turns.count() == 4


def test_another_session_cannot_continue_a_guests_conversation(kettle):
    first = Client()
    first.post("/assistant/", {"message": "kettle"})
    stolen = Conversation.objects.get().public_id
    other = Client()
    session = other.session
    session[SESSION_KEY] = str(stolen)  # even with the id planted in its own session
    session.save()

    page = other.get("/assistant/")
    assert "Here is what I found" not in page.content.decode()
    assert other.get(f"/assistant/history/?conversation={stolen}").json()["messages"] == []


def test_the_page_and_the_api_share_one_limit_per_client(settings, kettle):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "assistant": "3/minute"},
    }
    client = Client()
    client.post("/api/v1/assistant/messages/", {"message": "kettle"}, content_type="application/json")
    client.post("/assistant/", {"message": "kettle"})
    client.post("/api/v1/assistant/messages/", {"message": "kettle"}, content_type="application/json")

    assert client.post("/assistant/", {"message": "kettle"}).status_code == 429  # the fourth, whichever way
    api = client.post("/api/v1/assistant/messages/", {"message": "kettle"}, content_type="application/json")
    assert api.status_code == 429
    assert Turn.objects.filter(role="shopper").count() == 3
