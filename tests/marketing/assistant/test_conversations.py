"""Whole conversations with the real matcher over the suite's store (tests/.../suite_catalog.py):
what a shopper reads, turn after turn, with every fact checked against the database."""

from decimal import Decimal
from decimal import Decimal as D

import pytest

from marketing.assistant.models import Conversation, Turn
from marketing.assistant.panels import CART_KEY
from shop.cart.models import CartLine
from shop.catalog.models import Product
from tests.loyalty.helpers import member_with
from tests.marketing.assistant import suite_catalog
from tests.marketing.assistant.talk import Chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return suite_catalog.build()["ids"]


def test_search_add_two_of_those_total_and_points(store):
    customer = member_with(1000)
    chat = Chat(customer)

    found = chat.say("red dresses under 100")
    names = [card.name for card in found.products]
    assert names == ["Maison Lila Linen Wrap Dress", "Aster & Co Floral Midi Dress"] or sorted(names) == sorted(
        ["Maison Lila Linen Wrap Dress", "Aster & Co Floral Midi Dress"]
    )
    assert all(Decimal(card.amount) < 100 for card in found.products)

    which = chat.say("add two of those")
    assert which.text == "Which one do you mean?"
    confirm = chat.say("the first one")
    first = Product.objects.get(pk=found.products[0].id)
    assert confirm.text == f"Add 2 × {first.name} (Red, M) for ${first.price * 2} to your cart?"
    assert not CartLine.objects.exists()

    added = chat.say("yes")
    line = CartLine.objects.get(cart__user=customer)
    assert (line.variant.product, line.quantity) == (first, 2)
    assert added.text.startswith(f"Added 2 × {first.name}")

    total = chat.say("what's my total?")
    assert f"Total: ${first.price * 2}" in total.text

    used = chat.say("use my points")
    assert "1,000 points are on your cart." in used.text
    assert f"Total: ${first.price * 2 - 10}" in used.text

    none = chat.say("use 0 points")  # none, not all of them
    assert none.text.startswith("No points are on your cart now.")
    assert f"Total: ${first.price * 2}" in none.text


def test_cheaper_after_the_only_match_shows_cheaper_ones_of_its_kind(store):
    chat = Chat()
    found = chat.say("silk dress")
    assert [c.name for c in found.products] == ["Solstice Silk Slip Dress"]
    cheaper = chat.say("cheaper")
    assert cheaper.text == "Nothing cheaper matches your search; these are like it, and cheaper:"
    dresses = Product.objects.filter(category__slug="dresses", price__lt=Decimal("149.00"))
    assert {c.id for c in cheaper.products} == set(dresses.values_list("pk", flat=True))
    assert [Decimal(c.amount) for c in cheaper.products] == sorted(
        (Decimal(c.amount) for c in cheaper.products), reverse=True
    )


def test_cheaper_than_the_cheapest_keeps_the_search(store):
    chat = Chat()
    chat.say("braided cable")
    cheaper = chat.say("cheaper")
    assert cheaper.products == []
    assert cheaper.text == "I found nothing cheaper that matches: what I showed you is the cheapest."
    assert "max_price" not in chat.context["search"]  # the search they had still stands
    more = chat.say("show more")
    assert more.text == "That's everything I found."


def test_cheaper_lists_below_what_was_shown(store):
    chat = Chat()
    chat.say("dutch oven")
    cheaper = chat.say("something like this but cheaper")
    assert cheaper.products and all(Decimal(c.amount) < Decimal("189.00") for c in cheaper.products)


def test_a_question_about_one_product_reads_the_database_now(store):
    chat = Chat()
    chat.say("tea kettle")
    Product.objects.filter(pk=store["Gooseneck Tea Kettle"]).update(price=Decimal("44.50"))
    price = chat.say("how much is it?")
    assert price.text == "Fjord Gooseneck Tea Kettle costs $44.50."
    stock = chat.say("is the sport earphones in stock?")
    assert stock.text == "Sorry, Kestrel Sport Earphones is sold out right now."


def test_a_guests_cart_is_recorded_for_the_orders_after_a_chat(store):
    chat = Chat()
    chat.say("glass french press")
    chat.say("add it to my cart")
    chat.say("yes")
    line = CartLine.objects.get()
    assert chat.context[CART_KEY] == str(line.cart.token)
    assert line.cart.user is None


def test_it_says_when_it_does_not_understand_and_offers_choices(store):
    chat = Chat()
    reply = chat.say("asdf qwerty zxcv")
    assert reply.intent == "unknown"
    assert reply.quick_replies == ["Find a product", "What's in my cart?", "Where is my order?", "Talk to a person"]
    assert Turn.objects.get(conversation=chat.conversation, role="shopper").fallback


def test_store_questions_are_answered_from_the_faq(store):
    reply = Chat().say("how long does shipping take?")
    assert "3 to 5 working days" in reply.text


def test_a_person_takes_over(store):
    chat = Chat()
    asked = chat.say("I want to talk to a person")
    assert "email" in asked.text.lower()
    done = chat.say("ada@example.com")
    assert done.handed_over
    conversation = Conversation.objects.get(pk=chat.conversation.pk)
    assert conversation.handed_over and conversation.ticket.email == "ada@example.com"


def test_an_answer_to_the_assistants_question_is_no_fallback(store):
    chat = Chat()
    chat.say("talk to a person")
    chat.say("ada@example.com")  # read alone, an email is no intent; here it answers the question asked
    chat.say("blorp fizzle")
    shopper = Turn.objects.filter(conversation=chat.conversation, role="shopper").order_by("id")
    assert [t.fallback for t in shopper] == [False, False, True]


def test_the_second_one_answers_which_colour(store):
    chat = Chat()
    chat.say("floral midi dress")
    asked = chat.say("add it to my cart")
    assert asked.text == "Which colour would you like for Aster & Co Floral Midi Dress?"
    assert asked.quick_replies == ["Red", "White"]
    confirm = chat.say("the second one")
    assert confirm.text == "Add 1 × Aster & Co Floral Midi Dress (White, M) for $89.00 to your cart?"


def test_cheaper_keeps_the_colour_searched(store):
    chat = Chat()
    found = chat.say("red floral dress")
    assert [c.name for c in found.products] == ["Aster & Co Floral Midi Dress"]
    cheaper = chat.say("cheaper")
    # Red and cheaper: the linen wrap dress; not the cotton shirt dress, which comes in blue and green.
    assert [c.name for c in cheaper.products] == ["Maison Lila Linen Wrap Dress"]


def test_the_cart_shows_a_promotions_saving_on_a_line(store):
    from marketing.discounts.models import Promotion

    sale = Promotion.objects.create(
        name="French press week", kind="percentage", value=D("10"), scope="products", requires_code=False
    )
    sale.products.add(store["Glass French Press"])
    chat = Chat()
    chat.say("glass french press")
    chat.say("add two of it")
    chat.say("yes")
    total = chat.say("what's my total?")
    assert "2 × Lumen Glass French Press: $52.20 (was $58.00, French press week" in total.text
    assert "Total: $52.20" in total.text


def test_prices_are_the_storefronts_under_a_promotion(store):
    from marketing.discounts.models import Promotion

    sale = Promotion.objects.create(
        name="Candle days", kind="percentage", value=D("50"), scope="products", requires_code=False
    )
    sale.products.add(store["Scented Candle"])
    chat = Chat()
    found = chat.say("scented candle")
    card = found.products[0]
    assert (card.price, card.amount, card.was, card.offer) == ("$11.00", D("11.00"), "$22.00", str(sale_label(sale)))
    price = chat.say("how much is it?")
    assert price.text.startswith("Aster & Co Scented Candle costs $11.00. That is with ")
    assert price.text.endswith("it was $22.00.")
    confirm = chat.say("add it to my cart")
    assert confirm.text.startswith("Add 1 × Aster & Co Scented Candle for $11.00 to your cart? That is with ")
    assert confirm.text.endswith("it was $22.00.")
    more = chat.say("no, add 3 of them")
    assert "for $66.00 to your cart?" in more.text and more.text.endswith("comes off in the cart.")


def sale_label(promotion):
    from shop.catalog.models import Product
    from shop.catalog.offers import attach_offers

    return attach_offers([Product.objects.get(name__endswith="Scented Candle")])[0].offer.label


@pytest.mark.parametrize(
    "text", ["dresses under 1" + "0" * 30, "dresses over " + "9" * 40, "a dress around 1" + "0" * 28]
)
def test_an_amount_beyond_any_price_is_read_not_a_server_error(store, text):
    """Through the API with the real matcher: 28 digits and more overflowed the decimal context."""
    from rest_framework.test import APIClient

    response = APIClient().post("/api/v1/assistant/messages/", {"message": text}, format="json")

    assert response.status_code == 200, response.content
