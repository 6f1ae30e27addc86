"""POST /api/v1/assistant/messages/ and GET /api/v1/assistant/conversations/<id>/ over HTTP."""

import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from marketing.assistant.models import Channel, Conversation, Turn
from shop.cart.models import CartLine
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/assistant/messages/"


def test_it_answers_a_guest_with_products_and_keeps_the_conversation(reader):
    bag = ProductFactory(name="Canvas Bag", price=Decimal("15.00"), stock=2)
    reader.teach("bags", "search", words=("canvas",))
    reader.teach("add it", "add_to_cart", reference="it")
    reader.teach("yes", "yes")
    client = APIClient()

    first = client.post(URL, {"message": "bags"}, format="json")
    assert first.status_code == 200
    body = first.json()
    card = body["reply"]["products"][0]
    assert card == {
        "id": bag.pk,
        "name": "Canvas Bag",
        "url": f"/product/{bag.slug}/",
        "price": "$15.00",
        "amount": "15.00",
        "currency": "USD",
        "in_stock": True,
        "stock_note": "Only 2 left",
        "image": "",
        "was": "",
        "offer": "",
    }
    assert body["reply"]["intent"] == "search" and body["reply"]["handed_over"] is False
    conversation = body["conversation"]

    confirm = client.post(URL, {"message": "add it", "conversation": conversation}, format="json").json()
    assert confirm["reply"]["quick_replies"] == ["Yes", "No"]
    added = client.post(URL, {"message": "yes", "conversation": conversation}, format="json").json()
    assert added["conversation"] == conversation
    assert {a["label"] for a in added["reply"]["actions"]} == {"View cart", "Checkout"}
    assert added["reply"]["cart"] == {"items": 1, "label": "(1 item)"}  # what the header's cart link says
    assert confirm["reply"]["cart"] is None  # nothing changed yet
    assert CartLine.objects.get().product == bag  # the guest's own cart, as the cart page finds it
    assert client.get("/api/v1/cart/").json()["item_count"] == 1
    saved = Conversation.objects.get()
    assert (saved.user, saved.channel, saved.turns.count()) == (None, Channel.API, 6)


def test_a_customer_talks_with_their_token(reader, api_as, customer):
    reader.teach("hello", "greet")
    response = api_as(customer).post(URL, {"message": "hello"}, format="json")
    assert response.status_code == 200
    assert Conversation.objects.get(public_id=response.json()["conversation"]).user == customer


@pytest.mark.parametrize(
    "data, field",
    [
        ({}, "message"),
        ({"message": ""}, "message"),
        ({"message": "x" * 501}, "message"),
        ({"message": "hi", "conversation": "not-a-uuid"}, "conversation"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(reader, data, field):
    response = APIClient().post(URL, data, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Turn.objects.exists()


def test_an_unknown_conversation_is_a_404(reader):
    response = APIClient().post(URL, {"message": "hi", "conversation": str(uuid.uuid4())}, format="json")
    assert response.status_code == 404


def test_messages_are_throttled(settings, reader):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "assistant": "2/minute"},
    }
    from rest_framework.throttling import SimpleRateThrottle

    # DRF reads the rates once, at import: set them for this test, and put the real ones back.
    before = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    try:
        client = APIClient()
        codes = [client.post(URL, {"message": "hi"}, format="json").status_code for _ in range(3)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = before
    assert codes == [200, 200, 429]


def test_the_owner_reads_the_conversation(reader, api_as, customer):
    reader.teach("hello", "greet")
    client = api_as(customer)
    conversation = client.post(URL, {"message": "hello"}, format="json").json()["conversation"]
    body = client.get(f"/api/v1/assistant/conversations/{conversation}/").json()
    assert [(t["role"], t["text"]) for t in body["turns"]] == [
        ("shopper", "hello"),
        ("assistant", "Hello! What are you looking for today?"),
    ]


def test_the_schema_documents_the_endpoints(api):
    paths = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"400", "404", "429"} <= set(paths["/api/v1/assistant/messages/"]["post"]["responses"])
    assert "/api/v1/assistant/conversations/{public_id}/" in paths


def _queries(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def test_reading_a_conversation_costs_the_same_however_long_it_is(reader, api_as, customer):
    reader.teach("hello", "greet")
    client = api_as(customer)
    conversation = client.post(URL, {"message": "hello"}, format="json").json()["conversation"]
    url = f"/api/v1/assistant/conversations/{conversation}/"
    short = _queries(lambda: client.get(url))
    for _ in range(10):
        client.post(URL, {"message": "hello", "conversation": conversation}, format="json")
    assert _queries(lambda: client.get(url)) == short


def test_a_reply_with_more_product_cards_costs_no_more_queries(reader):
    from tests.factories import ProductImageFactory

    for name in ("Canvas Bag", "Canvas Tote", "Canvas Pouch", "Canvas Case", "Linen Apron"):
        ProductImageFactory(product=ProductFactory(name=name, price=Decimal("15.00"), stock=5))
    reader.teach("canvas", "search", words=("canvas",))
    reader.teach("apron", "search", words=("apron",))
    client = APIClient()
    client.post(URL, {"message": "hi"}, format="json")  # the session and the caches
    one = client.post(URL, {"message": "apron"}, format="json")
    conversation = one.json()["conversation"]
    assert len(one.json()["reply"]["products"]) == 1
    said = {"conversation": conversation}
    one_card = _queries(lambda: client.post(URL, {**said, "message": "apron"}, format="json"))
    four = client.post(URL, {**said, "message": "canvas"}, format="json")
    assert len(four.json()["reply"]["products"]) == 4
    assert _queries(lambda: client.post(URL, {**said, "message": "canvas"}, format="json")) == one_card
