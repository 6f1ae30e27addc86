"""POST /api/v1/assistant/telegram/: recorded Telegram Updates in, Bot API sendMessage bodies out."""

import json
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from marketing.assistant import telegram
from marketing.assistant.contract import Action, Intent, ProductCard, Reply
from marketing.assistant.models import Channel, Conversation, Turn
from marketing.assistant.telegram_checks import telegram_settings_problems
from shop.cart.models import CartLine
from shop.catalog.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/assistant/telegram/"
SECRET = "s3cret-for-the-telegram-webhook_0123456789"
PAYLOADS = Path(__file__).parent / "telegram_payloads"
ADA = 123456789  # the private chat of the recorded payloads
SITE = "https://shop.example.com"


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def telegram_on(settings):
    settings.ASSISTANT_TELEGRAM_SECRET = SECRET
    settings.ASSISTANT_TELEGRAM_BOT_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    settings.ASSISTANT_TELEGRAM_MESSAGES_PER_CHAT = (20, 60)
    settings.SHOP_SITE_URL = SITE + "/"


LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """A connection out of the machine fails the test (the database on loopback may still connect):
    the adapter answers in its response only."""
    connect, connect_ex, create_connection = socket.socket.connect, socket.socket.connect_ex, socket.create_connection

    def outside(address) -> bool:
        return isinstance(address, tuple) and address[0] not in LOOPBACK

    def refuse(address):
        raise AssertionError(f"the Telegram adapter connected to {address}")

    def guarded(real):
        def call(self, address, *args, **kwargs):
            if outside(address):
                refuse(address)
            return real(self, address, *args, **kwargs)

        return call

    def guarded_create(address, *args, **kwargs):
        if outside(address):
            refuse(address)
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
    monkeypatch.setattr(socket, "create_connection", guarded_create)


def post(body, secret=SECRET):
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret is not None else {}
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return Client().post(URL, data=data, content_type="application/json", **headers)


@pytest.fixture
def bag(db):
    return ProductFactory(name="Canvas Bag", price=Decimal("15.00"), stock=2)


def product_line(product: Product) -> str:
    product.refresh_from_db()
    return f"{product.name} — {product.price_money.format()} — Only 2 left\n{SITE}/product/{product.slug}/"


# --- the recorded payloads ----------------------------------------------------------------------


def test_it_answers_a_private_text_message_with_products_and_buttons(reader, bag):
    reader.teach("canvas bags", "search", words=("canvas",))

    response = post(payload("private_text"))

    assert response.status_code == 200
    assert response.json() == {
        "method": "sendMessage",
        "chat_id": ADA,
        "text": "Here is what I found:\n\n" + product_line(bag),
        "reply_markup": {
            "inline_keyboard": [
                [
                    {"text": "Cheaper", "callback_data": "Cheaper"},
                    {"text": "Only in stock", "callback_data": "Only in stock"},
                ],
                [{"text": "Show more", "callback_data": "Show more"}],
            ]
        },
    }
    assert "Canvas Bag — $15.00 — Only 2 left" in response.json()["text"]
    conversation = Conversation.objects.get()
    assert (conversation.channel, conversation.external_id, conversation.user) == (Channel.TELEGRAM, str(ADA), None)
    assert conversation.context["telegram_update"] == 914270301
    assert conversation.context["shown"] == [bag.pk]  # the dialogue's own context is kept
    assert list(conversation.turns.values_list("role", "text")) == [
        ("shopper", "canvas bags"),
        ("assistant", "Here is what I found:"),
    ]


def test_a_callback_query_is_read_as_the_shoppers_message(reader, bag):
    reader.teach("canvas bags", "search", words=("canvas",))
    reader.teach("add it", "add_to_cart", reference="it")
    reader.teach("Yes", "yes")
    post(payload("private_text"))
    text = payload("private_text")
    text["update_id"] += 10
    text["message"]["text"] = "add it"

    asked = post(text).json()

    # A guest in Telegram has no cart the store can reach: the dialogue says so before asking anything.
    assert asked == {
        "method": "sendMessage",
        "chat_id": ADA,
        "text": "I can't fill a cart from this chat, but you can buy Canvas Bag on our website.\n\n"
        + product_line(bag),
        "reply_markup": {
            "inline_keyboard": [[{"text": "Open Canvas Bag", "url": telegram.absolute(bag.get_absolute_url())}]]
        },
    }
    tapped = payload("callback_query")
    tapped["update_id"] = text["update_id"] + 1

    answered = post(tapped)

    assert answered.status_code == 200
    assert answered.json()["text"] == "There's nothing waiting for a yes. What can I do for you?"
    assert not CartLine.objects.exists()
    shopper = Turn.objects.filter(role=Turn.Role.SHOPPER).last()
    assert (shopper.text, shopper.intent) == ("Yes", Intent.YES)


def test_start_is_read_as_a_greeting(reader):
    reader.teach("hello", "greet")

    body = post(payload("start_command")).json()

    assert body["chat_id"] == 987654321
    assert body["text"] == "Hello! What are you looking for today?"
    assert body["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Find a product", "callback_data": "Find a product"},
                {"text": "What's in my cart?", "callback_data": "What's in my cart?"},
            ],
            [
                {"text": "Where is my order?", "callback_data": "Where is my order?"},
                {"text": "Talk to a person", "callback_data": "Talk to a person"},
            ],
        ]
    }
    assert Conversation.objects.get().turns.first().text == "hello"


@pytest.mark.parametrize(
    ("typed", "read"),
    [("/start", "hello"), ("/start@BazaarShopBot ref42", "hello"), ("/HELP", "what can you do?"), ("/stop", "/stop")],
)
def test_commands_are_read_as_what_they_ask(typed, read):
    assert telegram._command(typed) == read


def test_start_reaches_the_real_matcher_as_a_greeting():
    from marketing.assistant import understanding

    assert understanding.understand(telegram._command("/start"), {}).intent == Intent.GREET
    assert understanding.understand(telegram._command("/help"), {}).intent == Intent.HELP


@pytest.mark.parametrize("name", ["edited_message", "photo", "group_message"])
def test_what_it_does_not_answer_gets_a_200_with_nothing_to_send(reader, name):
    response = post(payload(name))

    assert (response.status_code, response.json()) == (200, {})
    assert not Conversation.objects.exists()


def test_an_unknown_kind_of_update_gets_a_200_with_nothing_to_send(reader):
    update = {"update_id": 914270399, "my_chat_member": {"chat": {"id": ADA, "type": "private"}}}
    assert (post(update).status_code, post(update).json()) == (200, {})


def test_a_malformed_body_is_a_400_with_a_message(reader):
    response = post((PAYLOADS / "malformed.json").read_bytes())

    assert response.status_code == 400
    assert response.json() == {"detail": "The body is not JSON: Telegram sends an Update object."}


def test_json_nested_too_deep_is_a_400_not_a_500(reader):
    response = post("[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400


@pytest.mark.parametrize("body", [[], {"message": {}}, {"update_id": "1"}, {"update_id": True}, "null"])
def test_json_that_is_not_an_update_is_a_400(reader, body):
    response = post(json.dumps(body) if not isinstance(body, str) else body)
    assert response.status_code == 400
    assert "update_id" in response.json()["detail"]


@pytest.mark.parametrize(
    "change",
    [
        lambda u: u["message"]["chat"].update(id="123456789"),
        lambda u: u["message"].update(chat=None),
        lambda u: u["message"].update(text=["canvas"]),
        lambda u: u["message"].update(text="   "),
        lambda u: u["message"]["from"].update(is_bot=True),
        lambda u: u.update(message="canvas bags"),
    ],
)
def test_odd_shapes_inside_an_update_are_not_answered_and_never_a_500(reader, change):
    update = payload("private_text")
    change(update)
    response = post(update)
    assert (response.status_code, response.json()) == (200, {})


# --- who may call it --------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET[:-1], SECRET + "x"])
def test_a_missing_or_wrong_secret_is_a_403(reader, secret):
    response = post(payload("private_text"), secret=secret)

    assert response.status_code == 403
    assert not Conversation.objects.exists()


def test_it_is_off_and_a_404_without_its_secret(reader, settings):
    settings.ASSISTANT_TELEGRAM_SECRET = ""
    settings.ASSISTANT_TELEGRAM_BOT_TOKEN = ""

    assert post(payload("private_text")).status_code == 404
    assert post(payload("private_text"), secret="").status_code == 404


def test_it_takes_only_posts(reader):
    response = Client().get(URL, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET)
    assert response.status_code == 405


def test_it_is_not_in_the_api_schema(api):
    paths = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert "/api/v1/assistant/telegram/" not in paths


# --- once per update, and not too often -------------------------------------------------------------


def test_a_redelivered_update_is_not_answered_twice_but_its_reply_is_sent_again(reader, bag):
    reader.teach("canvas bags", "search", words=("canvas",))
    first = post(payload("private_text")).json()

    again = post(payload("private_text"))

    assert again.status_code == 200
    assert again.json() == first  # Telegram did not get the first answer: the same one, not a new turn
    assert Turn.objects.count() == 2
    assert len(reader.contexts) == 1  # read once


def test_an_update_older_than_the_last_answered_gets_nothing(reader, bag):
    reader.teach("canvas bags", "search", words=("canvas",))
    post(payload("private_text"))
    older = payload("private_text")
    older["update_id"] -= 5

    response = post(older)

    assert (response.status_code, response.json()) == (200, {})
    assert Turn.objects.count() == 2


def test_a_new_update_after_one_answered_is_answered(reader, bag):
    reader.teach("canvas bags", "search", words=("canvas",))
    post(payload("private_text"))
    newer = payload("private_text")
    newer["update_id"] += 1

    assert post(newer).json()["text"].startswith("Here is what I found:")
    assert Turn.objects.count() == 4
    assert Conversation.objects.get().context["telegram_update"] == newer["update_id"]


def test_one_chat_is_one_conversation(reader, bag):
    reader.teach("canvas bags", "search", words=("canvas",))
    for n in range(3):
        update = payload("private_text")
        update["update_id"] += n
        post(update)
    assert Conversation.objects.count() == 1


def test_a_chat_that_floods_is_asked_to_wait(reader, settings):
    settings.ASSISTANT_TELEGRAM_MESSAGES_PER_CHAT = (2, 60)
    reader.teach("canvas bags", "search", words=("canvas",))
    bodies = []
    for n in range(3):
        update = payload("private_text")
        update["update_id"] += n
        bodies.append(post(update).json())

    assert bodies[2] == {
        "method": "sendMessage",
        "chat_id": ADA,
        "text": "You're sending messages faster than I can read them. Wait a minute, please.",
    }
    assert Turn.objects.count() == 4  # the third was not read
    other = payload("start_command")  # another chat is not held back
    reader.teach("hello", "greet")
    assert post(other).json()["text"] == "Hello! What are you looking for today?"


def test_a_message_over_500_characters_is_refused_politely(reader):
    update = payload("private_text")
    update["message"]["text"] = "bag " * 126

    body = post(update).json()

    assert body == {"method": "sendMessage", "chat_id": ADA, "text": "Keep a message under 500 characters."}
    assert not Turn.objects.exists()


def test_a_failure_in_the_dialogue_is_an_apology_not_a_500(reader, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(telegram.dialogue, "respond", broken)

    response = post(payload("private_text"))

    assert response.status_code == 200
    assert response.json()["text"] == "Sorry, something went wrong on our side. Please try again."
    assert not Conversation.objects.exists()  # nothing kept: a later message starts cleanly


# --- rendering --------------------------------------------------------------------------------------


def card(name="Kettle", url="/product/kettle/"):
    return ProductCard(1, name, url, "$9.99", Decimal("9.99"), "USD", True, "In stock")


def test_links_become_url_buttons_on_the_stores_address():
    reply = Reply(
        "Your total is $9.99. Check out here:",
        Intent.CHECKOUT,
        actions=[Action("link", "Checkout", url="/checkout/"), Action("send", "More", text="show more")],
    )

    body = telegram.render(reply, chat_id=5)

    assert body["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "show more", "callback_data": "show more"}],
            [{"text": "Checkout", "url": f"{SITE}/checkout/"}],
        ]
    }


def test_a_quick_reply_too_long_for_callback_data_is_left_out():
    long = "é" * 33  # 66 bytes
    body = telegram.render(Reply("Pick one", Intent.HELP, quick_replies=["Yes", long]), chat_id=5)
    assert body["reply_markup"] == {"inline_keyboard": [[{"text": "Yes", "callback_data": "Yes"}]]}


def test_a_reply_without_buttons_has_no_keyboard():
    assert telegram.render(Reply("Goodbye", Intent.GOODBYE), chat_id=5) == {
        "method": "sendMessage",
        "chat_id": 5,
        "text": "Goodbye",
    }


def test_the_text_keeps_within_telegrams_4096_limit_counted_in_utf16():
    reply = Reply("😀" * 3000, Intent.FAQ, products=[card()])

    text = telegram.render(reply, chat_id=5)["text"]

    assert len(text.encode("utf-16-le")) // 2 <= 4096
    assert text.endswith("…") and text.startswith("😀")
    assert telegram.fit("short") == "short"
    exact = "a" * 4096
    assert telegram.fit(exact) == exact


def test_absolute_keeps_full_links_and_joins_paths():
    assert telegram.absolute("https://cdn.example.com/a.jpg") == "https://cdn.example.com/a.jpg"
    assert telegram.absolute("/product/x/") == f"{SITE}/product/x/"


# --- settings ---------------------------------------------------------------------------------------


def test_settings_that_are_unset_are_fine_and_off():
    assert telegram_settings_problems(bot_token="", secret="") == []


def test_a_bot_token_without_a_secret_refuses_to_start():
    problems = telegram_settings_problems(bot_token="7000000001:AAH-token", secret="")
    assert problems and "ASSISTANT_TELEGRAM_SECRET" in problems[0]


@pytest.mark.parametrize("secret", ["short", "a" * 31, "a" * 257, "has spaces " * 4, "é" * 40])
def test_a_secret_telegram_would_refuse_refuses_to_start(secret):
    assert telegram_settings_problems(bot_token="7000000001:AAH-token", secret=secret)


def test_a_good_secret_starts():
    assert telegram_settings_problems(bot_token="7000000001:AAH-token", secret=SECRET) == []
    assert telegram_settings_problems(bot_token="", secret=SECRET) == []


def test_the_secret_must_not_be_the_token():
    token = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    assert telegram_settings_problems(bot_token=token, secret=token.split(":")[1])


def test_the_store_refuses_to_start_with_a_token_and_no_secret():
    import os
    import subprocess
    import sys

    env = {**os.environ, "BAZAAR_DEMO": "1", "ASSISTANT_TELEGRAM_BOT_TOKEN": "7000000001:AAH-token"}
    env.pop("ASSISTANT_TELEGRAM_SECRET", None)
    root = Path(__file__).resolve().parents[3]
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup()",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "ASSISTANT_TELEGRAM_SECRET" in run.stderr


# --- no network -------------------------------------------------------------------------------------


def test_the_adapter_has_no_http_client():
    source = Path(telegram.__file__).read_text()
    for client in ("requests", "httpx", "urllib", "http.client", "aiohttp", "socket"):
        assert f"import {client}" not in source and f"from {client}" not in source


def test_the_no_network_fixture_does_refuse_connections():
    with pytest.raises(AssertionError, match="connected"):
        socket.create_connection(("api.telegram.org", 443))
    with socket.socket() as s, pytest.raises(AssertionError, match="connected"):
        s.connect(("149.154.167.220", 443))  # one of Telegram's addresses
