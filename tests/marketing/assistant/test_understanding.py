"""The matcher (marketing/assistant/understanding.py) against the suite's fixed store: prices,
quantities, references, typos, synonyms, codes, order numbers, word order, unknown requests, the
scores that explain a choice, and no query once the vocabulary is built."""

from decimal import Decimal

import pytest
from django.conf import settings

from marketing.assistant.contract import Intent
from marketing.assistant.models import FaqEntry, Synonym
from marketing.assistant.understanding import effective_intent, understand
from shop.catalog.models import Category
from shop.orders.models import NUMBER_ALPHABET
from tests.marketing.assistant import suite_catalog

D = Decimal


@pytest.fixture
def store(db):
    built = suite_catalog.build()
    return {
        "products": built["ids"],
        "categories": {c.name: c.pk for c in Category.objects.all()},
        "faq": {f.question: f.pk for f in FaqEntry.objects.all()},
    }


def acted_on(text, context=None):
    return effective_intent(understand(text, context))


# -- prices -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("dresses under 50", None, D("50")),
        ("speakers between 20 and 40", D("20"), D("40")),
        ("headphones less than $30", None, D("30")),
        ("dresses 50 or less", None, D("50")),
        ("jackets over 100", D("100"), None),
        ("jackets 100 and up", D("100"), None),
        ("headphones under £30", None, D("30")),
        ("speakers below €40", None, D("40")),
        ("anything under 50 dollars", None, D("50")),
        ("a jacket around 100", D("80"), D("120")),
        ("lipstick under 12.50", None, D("12.50")),
    ],
)
def test_it_reads_prices(store, text, low, high):
    e = understand(text).entities
    assert (e.min_price, e.max_price) == (low, high)
    assert e.quantity is None  # "50" is the price, not fifty of something


def test_an_amount_beyond_any_price_reads_as_the_highest_price(store):
    e = understand("dresses under 1" + "0" * 30).entities
    assert (e.min_price, e.max_price) == (None, D("9999999999.99"))  # under it: every price


def test_a_price_alone_is_a_search_at_first_and_a_refinement_after_results(store):
    assert acted_on("under 50 dollars") == Intent.SEARCH
    assert acted_on("50 or less") == Intent.SEARCH
    assert acted_on("under 50 dollars", {"shown": [1, 2, 3]}) == Intent.REFINE


# -- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("add two of those", 2),
        ("add 3 of them", 3),
        ("add a couple of those", 2),
        ("add a dozen of those", 12),
        ("put 3 in my basket", 3),
        ("add it", None),
    ],
)
def test_it_reads_quantities(store, text, quantity):
    u = understand(text, {"shown": [1, 2]})
    assert u.entities.quantity == quantity
    assert effective_intent(u) == Intent.ADD_TO_CART


def test_points_are_no_quantity(store):
    e = understand("use 500 points").entities
    assert (e.points, e.quantity) == (500, None)


# -- references -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("how much is it?", "it"),
        ("what goes with this?", "it"),
        ("add two of those", "those"),
        ("tell me about the second one", "2"),
        ("the first one", "1"),
        ("the second", "2"),
        ("I'll take the last one", "last"),
        ("option 3", "3"),
    ],
)
def test_it_reads_references(store, text, reference):
    assert understand(text).entities.reference == reference


@pytest.mark.parametrize("text", ["I ordered last week", "wait a second", "first time here, hi"])
def test_last_week_and_a_second_are_no_references(store, text):
    assert understand(text).entities.reference not in {"1", "2", "last"}


def test_a_reference_keeps_its_words_for_the_cues(store):
    assert acted_on("how does this work") == Intent.HELP
    assert acted_on("forget it") == Intent.NO
    assert acted_on("something like this but cheaper") == Intent.SIMILAR


def test_the_second_one_answers_which_one_with_the_intent_that_asked(store):
    which = {"shown": [1, 2, 3], "pending": {"kind": "which", "intent": Intent.PRODUCT_PRICE}}
    u = understand("the second one", which)
    assert (effective_intent(u), u.entities.reference) == (Intent.PRODUCT_PRICE, "2")

    choose = {"shown": [1, 2], "pending": {"kind": "choose", "attribute": "colour"}}
    u = understand("the first one", choose)
    assert (effective_intent(u), u.entities.reference) == (Intent.ADD_TO_CART, "1")

    assert acted_on("the second one", {"shown": [1, 2, 3]}) == Intent.PRODUCT_INFO


def test_the_second_one_with_nothing_shown_is_only_a_weak_guess(store):
    u = understand("the second one")
    assert u.entities.reference == "2"
    assert u.intent == Intent.PRODUCT_INFO and u.confidence < settings.ASSISTANT_CONFIDENCE


# -- typos and synonyms -----------------------------------------------------------------------


def test_it_corrects_typos_in_categories_and_colours(store):
    u = understand("red dreses")
    assert effective_intent(u) == Intent.SEARCH
    assert store["categories"]["Dresses"] in u.entities.category_ids
    assert u.entities.values == {"colour": ("red",)}
    assert u.corrected == "red dress"

    u = understand("hedphones under 100")
    assert store["categories"]["Headphones"] in u.entities.category_ids
    assert u.corrected.startswith("headphones")


def test_it_corrects_typos_in_product_names(store):
    u = understand("is the gooseneck ketle in stock?")
    assert effective_intent(u) == Intent.PRODUCT_STOCK
    assert u.entities.product_ids == (store["products"]["Gooseneck Tea Kettle"],)


def test_a_synonym_staff_add_is_understood_at_once(store):
    assert "leggings" not in understand("black yoga pants").entities.words

    Synonym.objects.create(word="yoga pants", means="leggings")

    u = understand("black yoga pants")
    assert effective_intent(u) == Intent.SEARCH
    assert u.entities.product_ids == (store["products"]["High-Rise Leggings"],)


def test_a_built_in_synonym_and_the_store_one(store):
    assert understand("trainers please").entities.words == ("sneaker",)
    assert understand("kicks under 100").entities.words == ("sneaker",)  # suite_catalog's Synonym row


# -- codes, order numbers, emails -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [("use code SPRING10", "SPRING10"), ("apply spring10", "SPRING10"), ("my coupon is welcome5", "WELCOME5")],
)
def test_it_reads_discount_codes(store, text, code):
    u = understand(text)
    assert (effective_intent(u), u.entities.code) == (Intent.APPLY_CODE, code)


def test_it_reads_an_order_number_in_the_stores_format_and_an_email(store):
    number = "7K4M2QXP"
    assert set(number) <= set(NUMBER_ALPHABET)
    u = understand(f"order {number.lower()} ada@example.com")
    assert effective_intent(u) == Intent.TRACK_ORDER
    assert (u.entities.order_number, u.entities.email) == (number, "ada@example.com")


def test_a_bare_order_number_is_tracked(store):
    u = understand("7K4M2QXP")
    assert (effective_intent(u), u.entities.order_number) == (Intent.TRACK_ORDER, "7K4M2QXP")


@pytest.mark.parametrize("text", ["BZ-1234", "order 12345678", "order OIL10000"])
def test_what_is_not_the_stores_format_is_no_order_number(store, text):
    # No 0, O, 1, I or L in an order number; eight characters.
    assert understand(text).entities.order_number is None


# -- word order, FAQ, misreadings ---------------------------------------------------------------


def test_word_order_does_not_change_the_reading(store):
    a, b = understand("under 50 red dresses"), understand("red dresses under 50")
    assert (a.intent, a.entities) == (b.intent, b.entities)
    assert a.entities.max_price == D("50")


def test_a_shipping_question_is_answered_from_the_faq(store):
    u = understand("how long does shipping take")
    assert (effective_intent(u), u.entities.faq_id) == (Intent.FAQ, store["faq"]["How long does shipping take?"])


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("put 3 in my basket", Intent.ADD_TO_CART),
        ("ad it to the cart", Intent.ADD_TO_CART),
        ("2 of those please", Intent.ADD_TO_CART),
        ("my order hasn't arrived", Intent.TRACK_ORDER),
        ("I ordered last week, has it been delivered?", Intent.TRACK_ORDER),
        ("can I send it back?", Intent.FAQ),
        ("do you ship to canada", Intent.FAQ),
        ("i want to make a complaint", Intent.HUMAN),
        ("can a member of staff help me", Intent.HUMAN),
        ("my loyalty points", Intent.POINTS),
        ("that's all, have a nice day", Intent.GOODBYE),
        ("is it waterproof?", Intent.PRODUCT_INFO),
        ("sleeping bags in stock", Intent.SEARCH),
        ("is the puffer jacket warm", Intent.PRODUCT_INFO),
        ("I want to buy a present for my mum", Intent.SEARCH),
    ],
)
def test_sentences_once_misread(store, text, intent):
    assert acted_on(text, {"shown": [1, 2]}) == intent


def test_an_add_waiting_for_a_yes_is_confirmed_by_yes_please_add_it(store):
    assert acted_on("yes please add it", {"product": 1, "pending": {"kind": "add"}}) == Intent.YES
    assert acted_on("yes please add it", {"product": 1}) == Intent.ADD_TO_CART


def test_a_product_name_keeps_its_words_when_they_also_name_a_category(store):
    e = understand("I'm looking for a yoga mat").entities
    assert {"yoga", "mat"} <= set(e.words)
    assert store["products"]["Cork Yoga Mat"] in e.product_ids


# -- unknown requests, scores -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "what's the weather",
        "asdfgh",
        "will it rain tomorrow",
        "what time is it",
        "do you sell cars",
        "who won the match last night",
        "",
    ],
)
def test_unknown_requests_stay_below_the_threshold(store, text):
    u = understand(text)
    assert u.confidence < settings.ASSISTANT_CONFIDENCE
    assert effective_intent(u) == Intent.UNKNOWN


def test_the_scores_explain_the_choice(store):
    u = understand("put 3 in my basket")
    assert u.intent == Intent.ADD_TO_CART
    assert list(u.scores)[0] == Intent.ADD_TO_CART
    assert 0 < u.scores[Intent.SHOW_CART] < u.scores[Intent.ADD_TO_CART]  # the runner-up, shown
    assert u.confidence < u.scores[Intent.ADD_TO_CART]  # lowered by the runner-up


def test_a_clear_sentence_is_confident(store):
    u = understand("use code SPRING10")
    assert u.confidence >= 0.9 and list(u.scores) == [Intent.APPLY_CODE]


def test_it_never_queries_the_database_once_the_vocabulary_is_built(store, django_assert_num_queries):
    understand("hello")
    with django_assert_num_queries(0):
        for text in ("red dresses under 50", "is the blue kettle in stock?", "how long does shipping take", "7K4M2QXP"):
            understand(text)


@pytest.mark.parametrize(
    "text, low, high",
    [
        ("headphones 50-100", "50.00", "100.00"),
        ("speakers 100 to 40", "40.00", "100.00"),
        ("mats 25.50–60", "25.50", "60.00"),
    ],
)
def test_a_bare_range_of_two_amounts_is_a_price_range(store, text, low, high):
    entities = understand(text).entities
    assert (entities.min_price, entities.max_price) == (Decimal(low), Decimal(high))


def test_a_small_range_stays_a_quantity(store):
    assert understand("add 2-3 of those").entities.min_price is None
