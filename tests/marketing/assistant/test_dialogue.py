"""What the assistant answers, turn after turn (the sentences' reading is fixed: tests/.../talk.py)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import CartPoints
from marketing.assistant.models import Conversation, FaqEntry, Ticket, Turn
from marketing.discounts.models import CartCode
from shop.cart.models import Cart, CartLine
from shop.cart.pricing import price_cart
from shop.catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.loyalty.helpers import member_with
from tests.marketing.assistant.talk import Chat
from tests.variants import variant, with_variants

pytestmark = pytest.mark.django_db


@pytest.fixture
def tee():
    return with_variants(
        ProductFactory(name="Oxford Tee", slug="oxford-tee", price=Decimal("20.00")),
        sizes=("S", "M"),
        colours=("Red", "Blue"),
        stock=5,
    )


def test_it_searches_adds_two_of_those_confirms_totals_and_uses_points(reader, tee):
    customer = member_with(1000)
    reader.teach("oxford tees", "search", words=("oxford",))
    reader.teach("add two of those", "add_to_cart", quantity=2, reference="those")
    reader.teach("yes", "yes")
    reader.teach("what's my total?", "show_cart")
    reader.teach("use my points", "use_points")
    chat = Chat(customer)

    found = chat.say("oxford tees")
    assert [card.name for card in found.products] == ["Oxford Tee"]
    assert found.products[0].price == "$20.00" and found.products[0].stock_note == "In stock"

    asked = chat.say("add two of those")
    assert asked.quick_replies == ["Red", "Blue"]  # the missing option, from the product's variants
    asked = chat.say("Red")
    assert asked.quick_replies == ["S", "M"]
    confirm = chat.say("M")
    assert confirm.text == "Add 2 × Oxford Tee (Red, M) for $40.00 to your cart?"
    assert not CartLine.objects.exists()  # nothing before the yes

    added = chat.say("yes")
    line = CartLine.objects.get(cart__user=customer)
    assert (line.variant, line.quantity) == (variant(tee, "M", "Red"), 2)
    assert "Added 2 × Oxford Tee (Red, M)" in added.text

    total = chat.say("what's my total?")
    assert "Total: $40.00" in total.text
    assert any(action.url == "/checkout/" for action in total.actions)

    used = chat.say("use my points")
    chosen = CartPoints.objects.get(cart__user=customer)
    assert chosen.points > 0
    cart = Cart.objects.get(user=customer)
    priced = price_cart(cart, customer=customer)
    assert priced.total.amount < Decimal("40.00")
    assert f"Total: {priced.total.format()}" in used.text


def test_it_records_every_turn_with_what_was_understood(reader, tee):
    reader.teach("oxford tees", "search", confidence=0.8, words=("oxford",))
    chat = Chat()
    chat.say("oxford tees")
    chat.say("blah blah")
    turns = list(Turn.objects.filter(conversation=chat.conversation))
    assert [(t.role, t.intent) for t in turns] == [
        ("shopper", "search"),
        ("assistant", "search"),
        ("shopper", "unknown"),
        ("assistant", "unknown"),
    ]
    assert turns[0].confidence == 0.8 and turns[0].entities == {"words": ["oxford"]} and not turns[0].fallback
    assert turns[1].parts["products"][0]["name"] == "Oxford Tee"
    assert turns[2].fallback


def test_it_says_honestly_it_did_not_understand_and_offers_choices(reader):
    reader.teach("hmm maybe", "search", confidence=0.2, words=("maybe",))
    reply = Chat().say("hmm maybe")
    assert reply.intent == "unknown"
    assert "didn't understand" in reply.text
    assert len(reply.quick_replies) == 4
    assert Turn.objects.get(role="shopper").fallback


def test_it_reads_the_price_and_stock_at_the_moment_it_answers(reader):
    kettle = ProductFactory(name="Blue Kettle", price=Decimal("30.00"), stock=3)
    reader.teach("kettle", "search", words=("kettle",))
    reader.teach("how much is it?", "product_price", reference="it")
    reader.teach("is it in stock?", "product_stock", reference="it")
    chat = Chat()
    chat.say("kettle")
    Product.objects.filter(pk=kettle.pk).update(price=Decimal("25.50"), stock=0)
    assert chat.say("how much is it?").text == "Blue Kettle costs $25.50."
    assert "sold out" in chat.say("is it in stock?").text


def test_a_product_whose_sizes_cost_differently_is_priced_from_its_lowest(reader):
    pan = with_variants(
        ProductFactory(name="Steel Pan", sku="PAN", price=Decimal("30.00")),
        sizes=("S", "M", "L"),
        colours=("Black",),
        prices={("S", "Black"): Decimal("24.00"), ("L", "Black"): Decimal("38.00")},
    )
    reader.teach("steel pan", "search", words=("pan",))
    reader.teach("how much is it?", "product_price", reference="it")
    chat = Chat()

    found = chat.say("steel pan")
    price = chat.say("how much is it?")

    assert (found.products[0].id, found.products[0].price, found.products[0].was) == (pan.pk, "From $24.00", "")
    assert price.text == "Steel Pan costs from $24.00: its sizes have prices of their own."


def test_it_refines_the_search_cheaper_in_stock_and_more(reader):
    category = CategoryFactory(slug="mugs", name="Mugs")
    for n, price in enumerate(["10.00", "12.00", "14.00", "16.00", "18.00", "20.00"]):
        ProductFactory(name=f"Mug {n}", category=category, price=Decimal(price), stock=0 if n == 1 else 5)
    reader.teach("mugs", "search", category_ids=(category.pk,), cheap=True)
    reader.teach("show more", "refine", more=True)
    reader.teach("only in stock", "refine", in_stock=True)
    reader.teach("cheaper", "refine", cheaper=True)
    chat = Chat()
    assert [c.name for c in chat.say("mugs").products] == ["Mug 0", "Mug 1", "Mug 2", "Mug 3"]
    assert [c.name for c in chat.say("show more").products] == ["Mug 4", "Mug 5"]
    assert [c.name for c in chat.say("only in stock").products] == ["Mug 0", "Mug 2", "Mug 3", "Mug 4"]
    assert [c.name for c in chat.say("cheaper").products] == []  # nothing below the cheapest shown
    chat.conversation.refresh_from_db()
    assert chat.context["search"]["in_stock"] is True


def test_cheaper_shows_products_below_those_shown(reader):
    ProductFactory(name="Lamp Deluxe", price=Decimal("80.00"))
    ProductFactory(name="Lamp Basic", price=Decimal("20.00"))
    lamp = ProductFactory(name="Lamp Mini", price=Decimal("35.00"))
    reader.teach("lamps over 50", "search", words=("lamp",), min_price=Decimal("50"))
    reader.teach("cheaper", "refine", cheaper=True)
    chat = Chat()
    assert [c.name for c in chat.say("lamps over 50").products] == ["Lamp Deluxe"]
    assert [c.name for c in chat.say("cheaper").products] == [lamp.name, "Lamp Basic"]


def test_no_cancels_the_confirmation(reader):
    bag = ProductFactory(name="Canvas Bag", price=Decimal("15.00"))
    reader.teach("add the bag", "add_to_cart", product_ids=(bag.pk,))
    reader.teach("no", "no")
    reader.teach("yes", "yes")
    chat = Chat()
    assert chat.say("add the bag").text == "Add 1 × Canvas Bag for $15.00 to your cart?"
    chat.say("no")
    assert chat.say("yes").intent == "yes"  # nothing waits for a yes any more
    assert not CartLine.objects.exists()


def test_it_asks_which_one_when_several_were_shown(reader):
    category = CategoryFactory(slug="hats")
    ProductFactory(name="Hat A", category=category, price=Decimal("10.00"))
    second = ProductFactory(name="Hat B", category=category, price=Decimal("11.00"))
    reader.teach("hats", "search", category_ids=(category.pk,), cheap=True)
    reader.teach("add two of those", "add_to_cart", quantity=2, reference="those")
    reader.teach("the second one", "add_to_cart", reference="2")
    chat = Chat()
    chat.say("hats")
    assert chat.say("add two of those").quick_replies == ["Hat A", "Hat B"]
    assert chat.say("the second one").text == "Add 2 × Hat B for $22.00 to your cart?"
    assert chat.context["pending"] == {"kind": "add", "variant": second.variants.get().pk, "quantity": 2}


def test_a_discount_code_gets_the_cart_pages_message(reader):
    bag = ProductFactory(name="Canvas Bag", price=Decimal("15.00"))
    reader.teach("use code NOPE", "apply_code", code="NOPE")
    customer = UserFactory()
    CartLine.objects.create(
        cart=Cart.objects.create(user=customer), product=bag, variant=bag.variants.get(), quantity=1
    )
    reply = Chat(customer).say("use code NOPE")
    assert reply.text == "We don't know the code “NOPE”. Check its spelling."
    assert not CartCode.objects.exists()


def test_points_need_a_login(reader):
    reader.teach("my points", "points")
    reply = Chat().say("my points")
    assert "Log in" in reply.text and reply.actions[0].url == "/account/login/"


def test_it_tells_a_member_their_balance_and_worth(reader):
    reader.teach("my points", "points")
    reply = Chat(member_with(1000)).say("my points")
    assert reply.text.startswith("You have 1,000 points available, worth $")


def test_it_answers_from_the_faq(reader):
    entry = FaqEntry.objects.create(question="Shipping?", answer="We ship in 2 days.", link="/pages/shipping/")
    reader.teach("how long is shipping", "faq", faq_id=entry.pk)
    reply = Chat().say("how long is shipping")
    assert reply.text == "We ship in 2 days." and reply.actions[0].url == "/pages/shipping/"


def test_a_guest_asking_for_a_person_gives_an_email_and_gets_a_ticket(reader):
    reader.teach("a person please", "human")
    reader.teach("ada@example.org", "unknown", confidence=0.3, email="ada@example.org")
    chat = Chat()
    asked = chat.say("a person please")
    assert "email" in asked.text and not Ticket.objects.exists()
    reply = chat.say("ada@example.org")
    ticket = Ticket.objects.get()
    assert (ticket.conversation, ticket.email) == (chat.conversation, "ada@example.org")
    assert "a person please" in ticket.question
    assert reply.handed_over
    chat.conversation.refresh_from_db()
    assert chat.conversation.handed_over


def _search_queries(reader, count: int) -> int:
    category = CategoryFactory()
    for n in range(count):
        with_variants(ProductFactory(name=f"Scarf {n}", category=category), sizes=("S",), colours=("Red",))
    reader.teach("scarves", "search", category_ids=(category.pk,))
    chat = Chat()
    with CaptureQueriesContext(connection) as queries:
        reply = chat.say("scarves")
    assert len(reply.products) == min(count, 4)
    return len(queries)


def test_a_search_reply_costs_the_same_queries_for_one_or_four_products(reader):
    assert _search_queries(reader, 1) == _search_queries(reader, 6)


def test_a_doubtful_yes_confirms_nothing(reader):
    bag = ProductFactory(name="Canvas Bag")
    reader.teach("add the bag", "add_to_cart", product_ids=(bag.pk,))
    reader.teach("yeah maybe", "yes", confidence=0.3)
    chat = Chat()
    chat.say("add the bag")
    assert chat.say("yeah maybe").intent == "unknown"
    assert not CartLine.objects.exists()
    assert chat.context["pending"]["kind"] == "add"  # still waiting for a clear yes


def test_the_reader_is_given_the_conversations_context(reader):
    bag = ProductFactory(name="Canvas Bag")
    reader.teach("bags", "search", words=("canvas",))
    chat = Chat()
    chat.say("bags")
    chat.say("anything")
    assert reader.contexts[-1]["shown"] == [bag.pk]


def test_it_tells_the_stock_of_one_colour_and_size(reader, tee):
    from shop.catalog.models import Variant

    Variant.objects.filter(pk=variant(tee, "M", "Blue").pk).update(stock=0)
    reader.teach(
        "is the blue tee in M in stock?",
        "product_stock",
        product_ids=(tee.pk,),
        values={"colour": ("blue",), "size": ("m",)},
    )
    reader.teach("and in red?", "product_stock", reference="it", values={"colour": ("red",), "size": ("m",)})
    chat = Chat()
    assert chat.say("is the blue tee in M in stock?").text == "Sorry, Oxford Tee (Blue, M) is sold out right now."
    assert chat.say("and in red?").text == "Yes, Oxford Tee (Red, M) is in stock (only 5 left)."


def test_it_describes_a_product_with_its_options(reader, tee):
    reader.teach("tell me about the tee", "product_info", product_ids=(tee.pk,))
    reply = Chat().say("tell me about the tee")
    assert "Colour: Red, Blue." in reply.text and "Size: S, M." in reply.text and "$20.00" in reply.text


def test_something_like_this_but_cheaper_stays_in_its_category(reader):
    category = CategoryFactory()
    shown = ProductFactory(name="Boot Pro", category=category, price=Decimal("90.00"))
    ProductFactory(name="Boot Lite", category=category, price=Decimal("60.00"))
    ProductFactory(name="Boot Max", category=category, price=Decimal("120.00"))
    ProductFactory(name="Sock", price=Decimal("5.00"))
    reader.teach("like this but cheaper", "similar", product_ids=(shown.pk,), cheaper=True)
    assert [c.name for c in Chat().say("like this but cheaper").products] == ["Boot Lite"]


def test_what_goes_with_it_never_shows_the_product_itself(reader):
    category = CategoryFactory()
    shown = ProductFactory(name="Boot Pro", category=category)
    ProductFactory(name="Boot Wax", category=category)
    reader.teach("what goes with it", "goes_with", product_ids=(shown.pk,))
    reply = Chat().say("what goes with it")
    assert reply.intent == "goes_with"
    assert shown.pk not in [c.id for c in reply.products]


def test_checkout_links_to_the_checkout_with_the_total(reader):
    bag = ProductFactory(name="Canvas Bag", price=Decimal("15.00"))
    customer = UserFactory()
    CartLine.objects.create(
        cart=Cart.objects.create(user=customer), product=bag, variant=bag.variants.get(), quantity=2
    )
    reader.teach("I want to pay", "checkout")
    reply = Chat(customer).say("I want to pay")
    assert reply.text == "Your total is $30.00. Check out here:" and reply.actions[0].url == "/checkout/"


def test_an_empty_cart_says_so(reader):
    reader.teach("my cart", "show_cart")
    assert Chat().say("my cart").text.startswith("Your cart is empty")


@pytest.mark.parametrize("intent", ["greet", "help", "thanks"])
def test_small_talk_offers_the_menu(reader, intent):
    reader.teach("hi", intent)
    assert len(Chat().say("hi").quick_replies) == 4


def test_every_intent_has_a_handler():
    from marketing.assistant.contract import Intent
    from marketing.assistant.dialogue import HANDLERS

    assert set(HANDLERS) == set(Intent.ALL)


def test_a_guest_outside_the_website_is_told_to_use_it_for_a_cart(reader):
    from marketing.assistant import dialogue, services
    from tests.marketing.assistant.talk import web_request

    bag = ProductFactory(name="Canvas Bag")
    reader.teach("add the bag", "add_to_cart", product_ids=(bag.pk,))
    reader.teach("my cart", "show_cart")
    reader.teach("use code SPRING10", "apply_code", code="SPRING10")
    conversation = services.conversation_get_or_create(request=web_request())

    asked = dialogue.respond(conversation, "add the bag", user=None, request=None)
    assert asked.text == "I can't fill a cart from this chat, but you can buy Canvas Bag on our website."
    assert [(a.label, a.url) for a in asked.actions] == [("Open Canvas Bag", bag.get_absolute_url())]
    assert asked.quick_replies == [] and "pending" not in Conversation.objects.get().context  # no yes to wait for
    for text in ("my cart", "use code SPRING10"):
        reply = dialogue.respond(conversation, text, user=None, request=None)
        assert reply.text == "I can't reach a cart from this chat: your cart is on our website."
    assert not CartLine.objects.exists()


def test_a_refinement_naming_a_new_thing_that_finds_nothing_searches_it_on_its_own(reader):
    dresses = CategoryFactory(name="Dresses", slug="dresses")
    ProductFactory(name="Wrap Dress", category=dresses)
    ProductFactory(name="Rose Tee")
    reader.teach("dresses", "search", category_ids=(dresses.pk,))
    reader.teach("rose tee", "refine", words=("rose", "tee"))  # read as narrowing the dresses
    chat = Chat()
    chat.say("dresses")

    reply = chat.say("rose tee")

    assert [card.name for card in reply.products] == ["Rose Tee"]
    assert chat.context["search"] == {"search": "rose tee"}


def test_an_unsafe_faq_link_written_past_the_admin_is_not_offered(reader):
    entry = FaqEntry.objects.create(question="Flags?", answer="No flags.", link="javascript:alert(document.domain)")
    reader.teach("flags", "faq", faq_id=entry.pk)
    reply = Chat().say("flags")
    assert reply.text == "No flags." and reply.actions == []
