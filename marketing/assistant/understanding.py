"""Reading a shopper's sentence: its intent (with a confidence and every intent's score) and its
entities, offline and in a few milliseconds (docs/assistant.md, "How it understands").

1. Patterns: an email, an order number (8 characters of the order alphabet), a discount code, a
   number of points, prices ("under 50", "between 20 and 40", "around 100"), references ("it",
   "those", "the second one" → "2"), a size ("size 42") and a quantity ("two", "a couple") are
   read and taken out of the sentence, in that order, so "use 500 points" is no quantity. A
   reference's own words stay ("forget it", "how does this work" keep their cues); an ordinal
   needs "the", a thing ("second one") or the whole message, so "last week" is no reference.
2. Words: lower-cased, synonyms replaced (the store's Synonym rows, then a built-in list), and a
   word that neither the assistant's phrases nor the catalog know corrected to the nearest one
   within one or two edits (rapidfuzz's OSA distance): "kettel" → "kettle", "chekout" → "checkout".
3. Entities over the catalog's own vocabulary (vocabulary.py): brands, attribute values
   (colours, sizes, materials), categories (the most specific named), products by name (and
   colour), persona and occasion words for gifts ("a runner"), the FAQ entry asked (fuzzy).
4. Scores: each intent's best cue phrase (a weight in 0..1; all of a phrase's words in another
   order count for 85%; a phrase inside a longer one of another intent counts for half), plus what
   the entities add (a code for "apply code", a product or "it" for a question about a product).
   The confidence is the best score, lowered when the runner-up is close: below
   settings.ASSISTANT_CONFIDENCE the dialogue says it did not understand and offers choices.

`context` (the dialogue's, optional) only breaks ties: when something was shown or searched,
"under 30" and "in blue" refine it; when a confirmation waits, "sure" is a yes.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from shop.catalog.search import max_edits, stem, words
from shop.orders.models import NUMBER_ALPHABET

from .contract import Entities, Intent, Understanding
from .vocabulary import Vocabulary, vocabulary

MAX_CHARS = 500
MAX_NAMED = 12  # more products than this share the words: a search, not one product named
IN = Intent

# Cue phrases (lower case, apostrophes dropped: "what's" is "whats") and their weights.
CUES: dict[str, dict[str, float]] = {
    IN.GREET: {
        "hi": 0.9, "hello": 0.9, "hey": 0.85, "hiya": 0.9, "howdy": 0.85, "good morning": 0.9,
        "good afternoon": 0.9, "good evening": 0.9, "greetings": 0.85, "hi there": 0.95, "hey there": 0.95,
    },
    IN.THANKS: {
        "thanks": 0.9, "thank you": 0.95, "thx": 0.9, "cheers": 0.8, "appreciate it": 0.9, "thanks a lot": 0.95,
        "much appreciated": 0.9, "ta": 0.6,
    },
    IN.GOODBYE: {
        "bye": 0.9, "goodbye": 0.95, "see you": 0.85, "see ya": 0.85, "thats all": 0.8, "talk later": 0.8,
        "have a nice day": 0.85, "good night": 0.85, "cya": 0.85, "im done": 0.6, "later": 0.4,
    },
    IN.HELP: {
        "help": 0.7, "what can you do": 0.95, "how does this work": 0.9, "what do you do": 0.9,
        "how can you help": 0.95, "what can i ask": 0.95, "who are you": 0.8, "what are you": 0.75,
        "options": 0.45, "menu": 0.5, "how do i use": 0.75, "can you help": 0.75, "what can i do here": 0.9,
    },
    IN.SEARCH: {
        "show me": 0.55, "looking for": 0.6, "look for": 0.55, "find": 0.5, "search": 0.6, "do you have": 0.55,
        "do you sell": 0.65, "do you carry": 0.65, "i want": 0.4, "i need": 0.4, "gift": 0.6, "gifts": 0.6,
        "present": 0.55, "recommend": 0.5, "suggest": 0.45, "got any": 0.5, "browse": 0.5, "shopping for": 0.6,
        "ideas": 0.45, "any": 0.2, "some": 0.15, "buy": 0.25, "get": 0.15, "do you stock": 0.7,
    },
    IN.REFINE: {
        "cheaper": 0.75, "cheaper ones": 0.9, "something cheaper": 0.85, "show more": 0.9, "more": 0.45,
        "more results": 0.9, "more options": 0.8, "see more": 0.9, "load more": 0.9, "next": 0.55,
        "only in stock": 0.9, "in stock only": 0.9, "just in stock": 0.85, "only available": 0.85,
        "only on sale": 0.9, "on sale only": 0.9, "just on sale": 0.85, "only the ones": 0.7, "only": 0.35,
        "less expensive": 0.8, "lower price": 0.7, "lower prices": 0.7, "sort by price": 0.85,
        "what else": 0.6, "other ones": 0.6, "any others": 0.65, "instead": 0.3, "narrow": 0.6,
        "in": 0.05,
    },
    IN.PRODUCT_STOCK: {
        "in stock": 0.6, "available": 0.55, "availability": 0.7, "sold out": 0.7, "any left": 0.75,
        "left": 0.35, "stock": 0.5, "how many left": 0.85, "back in stock": 0.8, "is it available": 0.9,
        "still have": 0.55, "can i get it": 0.5, "out of stock": 0.7, "have it": 0.35, "ship today": 0.45,
    },
    IN.PRODUCT_PRICE: {
        "how much": 0.75, "price": 0.6, "cost": 0.6, "costs": 0.6, "how expensive": 0.8, "whats the price": 0.9,
        "price of": 0.85, "what does it cost": 0.95, "how much does": 0.85, "pricey": 0.5, "on sale": 0.5,
        "discounted": 0.45,
    },
    IN.PRODUCT_INFO: {
        "tell me about": 0.8, "tell me more": 0.75, "more about": 0.7, "details": 0.7, "describe": 0.7,
        "what sizes": 0.85, "which sizes": 0.85, "what size": 0.75, "what colours": 0.85, "which colours": 0.85,
        "sizes": 0.55, "colours": 0.5, "made of": 0.8, "material": 0.6, "info": 0.6, "information": 0.6,
        "specs": 0.7, "come in": 0.6, "does it come": 0.75, "reviews": 0.6, "rating": 0.6, "rated": 0.55,
        "dimensions": 0.7, "what is": 0.3, "is it good": 0.6, "features": 0.65,
    },
    IN.SIMILAR: {
        "similar": 0.85, "like this": 0.75, "like that": 0.7, "like it": 0.6, "like these": 0.7, "like those": 0.7,
        "alternatives": 0.85, "alternative": 0.85, "something else": 0.55, "other options": 0.55,
        "same but": 0.8, "else like": 0.8, "comparable": 0.8, "similar to": 0.9, "look alike": 0.8,
        "something like": 0.7,
    },
    IN.GOES_WITH: {
        "goes with": 0.95, "go with": 0.9, "going with": 0.85, "match": 0.6, "matches": 0.65, "matching": 0.6,
        "pair with": 0.85, "pairs with": 0.85, "complete the look": 0.95, "wear with": 0.9, "to go with": 0.95,
        "complement": 0.75, "complements": 0.8, "bought together": 0.9, "accessories for": 0.7,
        "works with": 0.8, "pairs well": 0.9,
    },
    IN.ADD_TO_CART: {
        "add": 0.75, "add to cart": 0.95, "add to my cart": 0.95, "add to basket": 0.95, "add to my basket": 0.95,
        "put in": 0.6, "put it in": 0.8, "ill take": 0.85, "i will take": 0.85, "take": 0.35, "buy": 0.55,
        "i want to buy": 0.7, "purchase": 0.55, "get me": 0.45, "throw in": 0.6, "in my basket": 0.4,
        "in my cart": 0.35, "i want": 0.3, "want": 0.2,
    },
    IN.SHOW_CART: {
        "cart": 0.6, "basket": 0.6, "bag": 0.35, "my cart": 0.8, "my basket": 0.8, "in my cart": 0.85,
        "in my basket": 0.85, "whats in my": 0.8, "total": 0.65, "my total": 0.9, "how much do i owe": 0.9,
        "subtotal": 0.85, "show cart": 0.95, "view cart": 0.95, "see my cart": 0.95, "what did i add": 0.85,
        "show my cart": 0.95, "order total": 0.85,
    },
    IN.CHECKOUT: {
        "checkout": 0.95, "check out": 0.9, "pay": 0.7, "pay now": 0.9, "place order": 0.9,
        "place my order": 0.95, "place the order": 0.95, "proceed": 0.55, "complete my order": 0.85,
        "complete the purchase": 0.85, "finish": 0.5, "ready to buy": 0.8, "ready to order": 0.85,
        "go to checkout": 0.95, "buy now": 0.8, "ready to pay": 0.9, "want to pay": 0.85, "finalise": 0.8,
        "finalize": 0.8, "done shopping": 0.85,
    },
    IN.APPLY_CODE: {
        "code": 0.55, "discount code": 0.85, "coupon": 0.85, "coupon code": 0.9, "voucher": 0.85, "promo": 0.8,
        "promo code": 0.9, "use code": 0.95, "apply code": 0.95, "apply": 0.45, "redeem": 0.35, "discount": 0.45,
    },
    IN.POINTS: {
        "points": 0.6, "my points": 0.75, "point balance": 0.9, "points balance": 0.9, "how many points": 0.95,
        "loyalty": 0.7, "rewards": 0.7, "reward": 0.6, "tier": 0.85, "my tier": 0.9, "points worth": 0.95,
        "membership": 0.6, "my balance": 0.7, "balance": 0.55, "level": 0.4, "member": 0.45,
        "loyalty points": 0.85, "my loyalty points": 0.95, "reward points": 0.85,
    },
    IN.USE_POINTS: {
        "use my points": 0.95, "use points": 0.95, "use the points": 0.95, "redeem points": 0.95,
        "redeem my points": 0.95, "spend points": 0.95, "spend my points": 0.95, "pay with points": 0.95,
        "pay with my points": 0.95, "apply points": 0.95, "apply my points": 0.95, "cash in": 0.7,
    },
    IN.TRACK_ORDER: {
        "where is my order": 0.95, "track": 0.85, "tracking": 0.85, "my order": 0.65, "order status": 0.95,
        "my orders": 0.85, "shipped": 0.55, "arrive": 0.5, "delivered": 0.5, "delivery status": 0.9,
        "my package": 0.85, "my parcel": 0.85, "recent orders": 0.9, "past orders": 0.85, "order": 0.3,
        "status of my order": 0.95, "wheres my": 0.7, "when will": 0.35, "my delivery": 0.8, "ordered": 0.6,
        "i ordered": 0.7, "hasnt arrived": 0.9, "not arrived": 0.85, "hasnt come": 0.8, "been delivered": 0.8,
        "been shipped": 0.85, "has it shipped": 0.9, "still waiting": 0.7,
    },
    IN.FAQ: {
        "shipping": 0.5, "delivery": 0.45, "returns": 0.55, "return": 0.45, "refund": 0.55, "refunds": 0.55,
        "exchange": 0.5, "payment methods": 0.75, "pay with": 0.4, "opening hours": 0.6, "warranty": 0.55,
        "international": 0.45, "how do": 0.15, "policy": 0.55, "how long": 0.3, "privacy": 0.55,
        "ship to": 0.7, "do you ship": 0.8, "ship abroad": 0.8, "ship internationally": 0.85, "postage": 0.6,
        "send it back": 0.8, "apple pay": 0.8, "google pay": 0.8, "paypal": 0.75, "credit card": 0.6,
        "do you accept": 0.6, "do you take": 0.45,
    },
    IN.HUMAN: {
        "human": 0.9, "person": 0.8, "real person": 0.95, "agent": 0.85, "someone": 0.55, "talk to": 0.6,
        "speak to": 0.65, "speak with": 0.65, "representative": 0.9, "customer service": 0.85, "support": 0.55,
        "staff": 0.7, "operator": 0.85, "not helpful": 0.75, "complaint": 0.7, "manager": 0.8, "live chat": 0.8,
        "useless": 0.6, "call me": 0.7, "contact": 0.45, "member of staff": 0.95, "staff member": 0.9,
        "make a complaint": 0.9, "speak to someone": 0.95, "talk to someone": 0.95,
    },
    IN.YES: {
        "yes": 0.9, "yeah": 0.85, "yep": 0.85, "yup": 0.85, "sure": 0.8, "ok": 0.7, "okay": 0.7,
        "please do": 0.85, "go ahead": 0.85, "confirm": 0.85, "correct": 0.75, "do it": 0.8, "sounds good": 0.8,
        "absolutely": 0.8, "thats right": 0.85, "y": 0.6, "yes please": 0.95, "of course": 0.8, "right": 0.4,
    },
    IN.NO: {
        "no": 0.85, "nope": 0.9, "nah": 0.85, "cancel": 0.8, "dont": 0.45, "never mind": 0.85,
        "nevermind": 0.85, "not now": 0.85, "no thanks": 0.95, "no thank you": 0.95, "stop": 0.6, "wrong": 0.6,
        "not that": 0.7, "n": 0.6, "forget it": 0.85,
    },
}  # fmt: skip

# Short answers: their cue means what it says when it is (nearly) the whole message.
SOCIAL = {IN.GREET, IN.THANKS, IN.GOODBYE, IN.YES, IN.NO}
# Questions about one product: the product (named, or "it") is their subject, not a search.
ABOUT_ONE = (IN.PRODUCT_STOCK, IN.PRODUCT_PRICE, IN.PRODUCT_INFO, IN.SIMILAR, IN.GOES_WITH, IN.ADD_TO_CART)

STOP = set(
    """a an the i im me my we our you your u it its is are was be been am do does did doing have has had
    to of for in on at by with from and or but so if as than then that this these those them they there
    what whats which who whom how when where why can could would should will shall may might must
    please pls plz just really very also too some any one ones all both each another other
    show find get got want wanted need needs looking look search see give tell let lets like
    something anything thing things stuff item items product products buy ill id ive youre
    hi hello hey thanks thank ok okay yes no not dont cant wont about into up out over more most
    much many little bit still only same new nice good great best make made making gear""".split()
)
# Everyday words that are no misspelt catalog words ("weather" is not "leather").
GENERAL = set(
    """weather news joke jokes time today tomorrow yesterday football soccer sport movie movies film
    capital president rain sunny snow temperature meaning life love world music song songs game games
    politics election stocks bitcoin crypto recipe recipes dinner lunch breakfast doctor homework
    translate math maths number numbers name named city country year years week weeks day days hour
    hours minute minutes people person family friend friends birthday christmas mother father mum mom
    dad wife husband girlfriend boyfriend sister brother kids child children baby work working
    train trains flight flights hotel taxi bus car cars lover lovers fan fans send back french english
    spanish german italian translate""".split()
)
FLAGS = {"cheap", "cheapest", "cheaper", "budget", "affordable", "inexpensive", "sale", "stock", "available", "deals"}
CHEAP = {"cheap", "cheapest", "budget", "affordable", "inexpensive"}
# Words that put something in the cart ("put 3 in my basket", "ad it to the cart": not a look at it).
ADDING = {"add", "ad", "put", "throw", "pop", "stick", "chuck"}
BUYING = {"buy", "purchase"}
CART_WORDS = {"cart", "basket", "bag", "trolley"}

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "a couple": 2, "a couple of": 2, "couple of": 2, "a pair of": 2,
    "a few": 3, "a dozen": 12, "half a dozen": 6, "single": 1, "a single": 1,
}  # fmt: skip
_ORDINALS = {
    "first": "1", "1st": "1", "second": "2", "2nd": "2", "third": "3", "3rd": "3", "fourth": "4", "4th": "4",
    "fifth": "5", "5th": "5", "last": "last",
}  # fmt: skip

_ALPHABET = re.escape(NUMBER_ALPHABET)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ORDER_NAMED = re.compile(
    rf"\border(?:\s+(?:number|no\.?|num|#))?\s*[:#]?\s*#?([{_ALPHABET}{_ALPHABET.lower()}]{{8}})\b", re.I
)
_ORDER_BARE = re.compile(rf"(?<![\w-])#?([{_ALPHABET}]{{8}})(?![\w-])")
_CODE_NAMED = re.compile(
    r"\b(?:code|coupon|voucher|promo)(?:\s+code)?\s*(?:is\s+|of\s+)?[:=]?\s*[\"“']?"
    r"([A-Za-z0-9][A-Za-z0-9_-]{2,31})",
    re.I,
)
_CODE_BARE = re.compile(r"\b(?:use|apply|redeem|try|enter|add)\s+(?:the\s+)?([A-Za-z][A-Za-z0-9_-]{3,31})\b")
_STOCK_VERB = re.compile(r"\bdo\s+you\s+(?:stock|carry)\b")
_POINTS = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+)\s*(?:loyalty\s+)?(?:points?|pts)\b", re.I)

_AMOUNT = r"(?:[$€£]\s*)?(\d+(?:[.,]\d{1,2})?)(?:\s*(?:dollars|bucks|euros|pounds|usd|eur|gbp|quid|[$€£]))?"
_PRICE_RANGE = re.compile(
    rf"\b(?:between|from)\s+{_AMOUNT}\s*(?:and|to|-|–)\s*{_AMOUNT}|(?<![\w.])[$€£]\s*(\d+(?:\.\d{{1,2}})?)\s*(?:-|–|to)\s*[$€£]?\s*(\d+(?:\.\d{{1,2}})?)\b"
    # A bare range of two amounts ("headphones 50-100", "20 to 40"): two digits at least, so "2-3" stays a quantity.
    r"|(?<![\w.])(\d{2,5}(?:\.\d{1,2})?)\s*(?:-|–|to)\s*(\d{2,5}(?:\.\d{1,2})?)(?![\w.%])"
)
_PRICE_MAX = re.compile(
    rf"\b(?:under|below|less than|cheaper than|up to|max(?:imum)?|no more than|not more than|at most|within|"
    rf"budget of|budget is|for less than|max price|lower than|beneath){{1}}\s+{_AMOUNT}"
)
_PRICE_MAX_AFTER = re.compile(
    rf"(?<![\w.]){_AMOUNT}\s+(?:or\s+(?:less|under|below|cheaper)|and\s+(?:under|below)|max)\b"
)
_PRICE_MIN_AFTER = re.compile(rf"(?<![\w.]){_AMOUNT}\s*(?:or\s+more|and\s+up|and\s+above|and\s+over|plus\b|\+)")
_PRICE_MIN = re.compile(rf"\b(?:over|above|more than|at least|min(?:imum)?|starting at|higher than|from)\s+{_AMOUNT}")
_PRICE_AROUND = re.compile(rf"\b(?:around|about|approximately|roughly|near|circa|close to)\s+{_AMOUNT}|~\s*{_AMOUNT}")
_PRICE_BARE = re.compile(
    r"(?<![\w.])[$€£]\s*(\d+(?:\.\d{1,2})?)\b|\b(\d+(?:\.\d{1,2})?)\s*(?:dollars|bucks|euros|pounds|quid)\b"
)
_ORDINAL_WORD = r"(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last)"
_ORDINAL_THING = r"(?:one|item|product|option|choice)"
_NOT_AN_ITEM = r"(?!\s+(?:week|month|year|time|night|weekend|order|minute|hour|day|few|couple)\b)"
_ORDINAL = re.compile(
    rf"\bthe\s+{_ORDINAL_WORD}(?:\s+{_ORDINAL_THING})?\b{_NOT_AN_ITEM}|\b{_ORDINAL_WORD}\s+{_ORDINAL_THING}\b"
    rf"|^\s*{_ORDINAL_WORD}\s*(?:one)?\s*(?:please|pls)?\s*[.!?]*\s*$"
    r"|\b(?:number|option|no\.?|#)\s*([1-9])\b"
)
_PLURAL_REF = re.compile(r"\b(?:all\s+of\s+them|those|these|them|both(?:\s+of\s+them)?|all\s+three|all\s+of\s+those)\b")
_SINGULAR_REF = re.compile(r"\b(?:this|that|the)\s+one\b|\bit\b|\bthis\b(?!\s+\w+\s+(?:is|are))|\bthat\b\s*$")
_SIZE = re.compile(r"\bsize\s+([a-z0-9]{1,4})\b|\bin\s+(?:an?\s+)?(xs|s|m|l|xl|xxl)\b(?!\s*\w)", re.I)
_QUANTITY = re.compile(
    r"\b(?:" + "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True)) + r")\b"
    r"|(?<![\w.$€£])(\d{1,2})(?![\w.%$€£])|\bx\s*(\d{1,2})\b|\b(\d{1,2})\s*x\b"
)


def understand(text: str, context: dict | None = None) -> Understanding:
    """What a sentence asks and names (see the module's docstring); never reads a row."""
    context = context or {}
    vocab = vocabulary()
    reading = _Reading(text[:MAX_CHARS], vocab)
    entities = reading.entities()
    scores = _scores(reading, entities, context)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], Intent.ALL.index(item[0])))
    intent, top = ranked[0] if ranked and ranked[0][1] > 0 else (Intent.UNKNOWN, 0.0)
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    confidence = min(1.0, top) * (1 - 0.35 * (second / top) ** 2) if top else 0.0
    return Understanding(
        intent=intent,
        confidence=round(confidence, 3),
        entities=entities,
        scores={k: round(v, 3) for k, v in ranked if v > 0},
        corrected=reading.corrected,
    )


def effective_intent(understanding: Understanding, threshold: float | None = None) -> str:
    """The intent the dialogue acts on: the best guess, or unknown below the confidence threshold."""
    from django.conf import settings

    threshold = settings.ASSISTANT_CONFIDENCE if threshold is None else threshold
    return understanding.intent if understanding.confidence >= threshold else Intent.UNKNOWN


# -- reading --------------------------------------------------------------------------------------


_MOST = Decimal("9999999999.99")  # the highest price a product can have (12 digits, 2 after the point)


def _money(value: str) -> Decimal:
    """An amount as written; one beyond any price ("under 10000000000000000000000000000") is that
    highest price, so it filters nothing rather than overflowing the decimal context."""
    return min(Decimal(value.replace(",", ".")), _MOST).quantize(Decimal("0.01"), ROUND_HALF_UP)


class _Reading:
    """One sentence as read: the patterns found, then its words (corrected) and what they name."""

    def __init__(self, text: str, vocab: Vocabulary):
        self.vocab = vocab
        self.found: dict = {}
        self.text = " ".join(text.replace("’", "'").split())
        rest = self._patterns(self.text)
        self.tokens, self.corrections = self._words(rest)
        self.corrected = " ".join(self.tokens) if self.corrections else ""
        self.token_set = set(self.tokens)
        self.claimed: set[int] = set()  # positions read as a cue of an intent or an entity
        self.cover: dict[str, int] = {}  # intent → how many words its cues claimed

    # 1. patterns -----------------------------------------------------------------------------
    def _patterns(self, text: str) -> str:
        found = self.found
        if m := _EMAIL.search(text):
            found["email"] = m.group(0).casefold()
            text = _cut(text, m)
        if m := _CODE_NAMED.search(text):
            code = m.group(1)
            known = STOP | _cue_words() | {"for", "code", "codes", "please", "work", "works"}
            if code.casefold() not in known and not code.isdigit():
                found["code"] = code.upper()
                text = text[: m.start(1)] + " " + text[m.end(1) :]
        if "code" not in found and (m := _CODE_BARE.search(text)):
            if m.group(1).casefold() not in {"points", "my"} and any(c.isdigit() for c in m.group(1)):
                found["code"] = m.group(1).upper()
                text = text[: m.start(1)] + " " + text[m.end(1) :]
        m = _ORDER_NAMED.search(text)
        if m is None:
            m = next((b for b in _ORDER_BARE.finditer(text) if any(c.isdigit() for c in b.group(1))), None)
        if m is not None:
            found["order_number"] = m.group(1).upper()
            text = text[: m.start(1)] + " " + text[m.end(1) :]
        text = _STOCK_VERB.sub("do you sell", text.casefold())  # "do you stock tents" (not "in stock")
        if m := _POINTS.search(text):
            found["points"] = int(m.group(1).replace(",", ""))
            text = text[: m.start(1)] + " " + text[m.end(1) :]
        text = self._prices(text)
        if m := _ORDINAL.search(text):
            word, digit = next((g for g in m.groups()[:-1] if g), None), m.groups()[-1]
            found["reference"] = _ORDINALS.get(word or "", digit)
            text = _cut(text, m)
        elif m := _PLURAL_REF.search(text):
            found["reference"] = "those"
            text = _keep_stop_words(text, m)
        elif m := _SINGULAR_REF.search(text):
            found["reference"] = "it"
            text = _keep_stop_words(text, m)
        if m := _SIZE.search(text):
            found["size"] = (m.group(1) or m.group(2)).casefold()
            text = _cut(text, m)
        if m := _QUANTITY.search(text):
            digits = next((g for g in m.groups() if g), None)
            quantity = int(digits) if digits else _NUMBER_WORDS[" ".join(m.group(0).split())]
            if 0 < quantity <= 99:
                found["quantity"] = quantity
                text = _cut(text, m)
        return text.replace("'", "")

    def _prices(self, text: str) -> str:
        found = self.found
        if m := _PRICE_RANGE.search(text):
            low, high = [g for g in m.groups() if g][:2]
            found["min_price"], found["max_price"] = sorted([_money(low), _money(high)])
            return _cut(text, m)
        if m := _PRICE_MAX.search(text) or _PRICE_MAX_AFTER.search(text):
            found["max_price"] = _money(m.group(1))
            text = _cut(text, m)
        if m := _PRICE_MIN.search(text) or _PRICE_MIN_AFTER.search(text):
            found["min_price"] = _money(m.group(1))
            text = _cut(text, m)
        if "min_price" in found or "max_price" in found:
            return text
        m = _PRICE_AROUND.search(text) or _PRICE_BARE.search(text)
        if m:
            around = _money(next(g for g in m.groups() if g))
            found["min_price"] = (around * Decimal("0.8")).quantize(Decimal("0.01"), ROUND_HALF_UP)
            found["max_price"] = (around * Decimal("1.2")).quantize(Decimal("0.01"), ROUND_HALF_UP)
            text = _cut(text, m)
        return text

    # 2. words ------------------------------------------------------------------------------------
    def _words(self, text: str) -> tuple[list[str], dict[str, str]]:
        tokens = self._synonyms(words(text))
        corrections = {}
        known = _cue_words()
        for i, word in enumerate(tokens):
            if word in known or word in STOP or word in GENERAL or not max_edits(word) or self.vocab.knows(word):
                continue
            if word in self.vocab.faq_words:  # "address" is no misspelt "dress"
                continue
            fixed = _correct(word, self.vocab)
            if fixed:
                corrections[word] = fixed
                tokens[i] = fixed
        if corrections:
            tokens = self._synonyms(tokens)
        return tokens, corrections

    def _synonyms(self, tokens: list[str]) -> list[str]:
        synonyms = self.vocab.synonyms
        if not synonyms:
            return tokens
        out, i = [], 0
        while i < len(tokens):
            for size in (3, 2, 1):
                phrase = tuple(tokens[i : i + size])
                if len(phrase) == size and phrase in synonyms:
                    out.extend(synonyms[phrase])
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    # 3. entities --------------------------------------------------------------------------------
    def phrase_at(self, phrase: tuple[str, ...]) -> int | None:
        n = len(phrase)
        for i in range(len(self.tokens) - n + 1):
            if tuple(self.tokens[i : i + n]) == phrase:
                return i
        return None

    def entities(self) -> Entities:
        vocab, found, tokens = self.vocab, self.found, self.tokens
        taken: set[int] = set()

        def take(phrase) -> bool:
            at = self.phrase_at(phrase)
            if at is None or any(p in taken for p in range(at, at + len(phrase))):
                return False
            taken.update(range(at, at + len(phrase)))
            return True

        brands = tuple(sorted({name for phrase, name in vocab.brands.items() if take(phrase)}))
        values: dict[str, list[str]] = {}
        value_ids: set[int] = set()
        for phrase, entries in sorted(vocab.values.items(), key=lambda item: -len(item[0])):
            unsized = [e for e in entries if not e[3]]
            if unsized and take(phrase):
                for slug, value_slug, value_id, _sized in unsized:
                    values.setdefault(slug, []).append(value_slug)
                    value_ids.add(value_id)
        for i, word in enumerate(tokens):  # "blu": a colour typed short
            if i in taken or len(word) < 3 or word in STOP or (word,) in vocab.values:
                continue
            for phrase, entries in vocab.values.items():
                if len(phrase) == 1 and phrase[0].startswith(word) and not entries[0][3]:
                    taken.add(i)
                    for slug, value_slug, value_id, _sized in entries:
                        values.setdefault(slug, []).append(value_slug)
                        value_ids.add(value_id)
                    break
        if size := found.get("size"):
            for slug, value_slug, value_id, _sized in vocab.values.get((size,), ()):
                values.setdefault(slug, []).append(value_slug)
                value_ids.add(value_id)

        categories = self._categories(taken)
        ideas = self._gifts(taken)
        category_ids = tuple(sorted(set(categories) | ideas["categories"]))
        search_words = [
            w
            for i, w in enumerate(tokens)
            if i not in taken and w not in STOP and w not in FLAGS and w not in _cue_words() and len(w) > 1
        ]
        search_words = [w for w in search_words if not w.isdigit()] + list(ideas["words"])
        search_words = self._name_words(taken, search_words)
        search_words = self._cue_name_words(taken, search_words)
        # A word the catalog has but no product's name ("skillet" where names say otherwise) is a search
        # when it is all the shopper typed; in a longer sentence it may be a description's word.
        bare = len(search_words) == 1 and len(self.tokens) <= 3
        self.catalog_words = [w for w in search_words if vocab.products_named(w) or (bare and vocab.has(w))]
        self.unknown_words = [w for w in search_words if w not in self.catalog_words and w not in ideas["words"]]
        product_ids = self._products(value_ids, brands)
        text = " " + " ".join(tokens) + " "
        self.faq_id, self.faq_score = self._faq()
        return Entities(
            words=tuple(dict.fromkeys(search_words)),
            category_ids=category_ids,
            brands=brands,
            product_ids=product_ids,
            values={slug: tuple(dict.fromkeys(v)) for slug, v in values.items()},
            min_price=found.get("min_price"),
            max_price=found.get("max_price"),
            cheap=bool(CHEAP & self.token_set) or " low cost " in text,
            in_stock=" in stock " in text or " available " in text or " availability " in text,
            on_sale=" on sale " in text or " sale " in text or " discounted " in text or " deals " in text,
            quantity=found.get("quantity"),
            reference=found.get("reference"),
            order_number=found.get("order_number"),
            email=found.get("email"),
            code=found.get("code"),
            points=found.get("points"),
            faq_id=self.faq_id,
            more=any(p in text for p in (" more ", " next ", " other ones ", " what else ")),
            cheaper=any(p in text for p in (" cheaper ", " less expensive ", " lower price")),
        )

    def _name_words(self, taken: set[int], search_words: list[str]) -> list[str]:
        """A word taken as a category but also in a product's name next to another search word
        ("yoga mat", "phone case", "coffee grinder") stays a search word: it narrows the search."""
        kept = []
        for i, word in enumerate(self.tokens):
            if i not in taken or word in STOP or word in search_words:
                continue
            ids = self.vocab.products_named(word)
            neighbours = [self.tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(self.tokens)]
            if ids and any(n in search_words and ids & self.vocab.products_named(n) for n in neighbours):
                kept.append(word)
        return kept + search_words if kept else search_words

    def _cue_name_words(self, taken: set[int], search_words: list[str]) -> list[str]:
        """A cue word inside a product's name, next to another word of that name ("sleeping bag":
        not the shopping bag) is a search word; `self.name_cues` keeps them (their cue weakened)."""
        self.name_cues = set()
        for i, word in enumerate(self.tokens):
            if i in taken or word in STOP or word in search_words or word not in _cue_words():
                continue
            ids = self.vocab.products_named(word)
            neighbours = [self.tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(self.tokens)]
            if ids and any(n in search_words and ids & self.vocab.products_named(n) for n in neighbours):
                self.name_cues.add(word)
        return search_words + [w for w in self.tokens if w in self.name_cues] if self.name_cues else search_words

    def _categories(self, taken: set[int]) -> list[int]:
        """The categories the words name: those with the most words named, the most specific."""
        stems = {i: stem(w) for i, w in enumerate(self.tokens) if i not in taken and w not in STOP and len(w) > 2}
        cues = {i for i, w in enumerate(self.tokens) if w in _cue_words()}
        best: dict[int, tuple[int, str, set[int]]] = {}
        for pk, path, _parent, name_stems in self.vocab.categories:
            hits = {
                i
                for i, s in stems.items()
                if any(n == s or (i not in cues and (n.startswith(s) or s.startswith(n))) for n in name_stems)
            }
            if hits:
                best[pk] = (len(hits), path, hits)
        if not best:
            return []
        most = max(n for n, _p, _h in best.values())
        chosen = {pk: (path, hits) for pk, (n, path, hits) in best.items() if n == most}
        paths = [path for path, _h in chosen.values()]
        named = [pk for pk, (path, _h) in chosen.items() if not any(p.startswith(path + "/") for p in paths)]
        for pk in named:
            taken.update(chosen[pk][1])
        self.named_categories = len(named)
        return named

    def _gifts(self, taken: set[int]) -> dict:
        """Persona and occasion words ("a runner", "housewarming") → the catalog's words and categories."""
        ideas = {"words": [], "categories": set()}
        for phrase, targets in self.vocab.gifts.items():
            at = self.phrase_at(phrase)
            if at is None:
                continue
            taken.update(range(at, at + len(phrase)))
            for target in targets:
                target_words = words(target)
                stems = [stem(w) for w in target_words]
                cats = [pk for pk, _p, _pa, name in self.vocab.categories if tuple(name) == tuple(stems)]
                if cats:
                    ideas["categories"].update(cats)
                elif all(self.vocab.products_named(w) for w in target_words):
                    ideas["words"].append(target)
        self.gift = bool(ideas["words"] or ideas["categories"])
        return ideas

    def _products(self, value_ids: set[int], brands: tuple[str, ...]) -> tuple[int, ...]:
        """Products named: every name word found, narrowed by the values and brands named when some
        have them; none when more than MAX_NAMED share the words (that is a search)."""
        named = self.catalog_words
        self.specific = False
        if not named:
            return ()
        found = None
        for word in named:
            ids = self.vocab.products_named(word)
            found = ids if found is None else found & ids
        if not found:
            return ()
        if value_ids:
            having = {pk for pk in found if value_ids & self.vocab.product_values.get(pk, set())}
            found = having or found
        if brands:
            branded = {pk for b in brands for w in words(b) for pk in self.vocab.products_named(w)} & found
            found = branded or found
        if len(found) > MAX_NAMED:
            return ()
        # One product asked about: "the blue kettle", "this dress", two words of a name.
        determiner = bool({"the", "this", "that", "your"} & self.token_set)
        # "sleeping bags in stock": a plural without "the" asks about the kind, not one product.
        plural = named[-1].endswith("s") and not named[-1].endswith("ss") and stem(named[-1]) != named[-1]
        self.specific = determiner or (
            not plural and (len(named) + len(value_ids) + len(brands) >= 2 or len(found) == 1)
        )
        return tuple(sorted(found))

    def _faq(self) -> tuple[int | None, float]:
        """The FAQ entry whose question or a phrasing the content words match best: 70% for the share
        of the phrasing's words found (a word found: the same stem, or rapidfuzz's ratio ≥ 85), 30%
        for the share of the sentence's words it explains."""
        if not self.vocab.faq:
            return None, 0.0
        content = [w for w in self.tokens if w not in STOP or w in ("long", "much")]
        if not content:
            return None, 0.0
        best_id, best = None, 0.0
        self.faq_explained: set[str] = set()
        for pk, phrasings in self.vocab.faq:
            for phrasing in phrasings:
                wanted = [w for w in phrasing.split() if w not in STOP or w in ("long", "much")]
                if not wanted:
                    continue
                found = [w for w in wanted if any(_same(w, t) for t in content)]
                explained = [t for t in content if any(_same(w, t) for w in wanted)]
                score = 0.7 * len(found) / len(wanted) + 0.3 * len(explained) / len(content)
                if score > best:
                    best_id, best = pk, score
                    self.faq_explained = set(explained)
        return (best_id, best) if best >= 0.75 else (None, best)


# Store-question words and the ones FAQ entries use, for FAQ matching only (a search for "delivery"
# or "pay" is left as typed): "how much is delivery" is the entry that says shipping.
FAQ_SYNONYMS = {
    "delivery": "shipping", "deliver": "ship", "delivered": "shipped", "postage": "shipping",
    "pay": "payment", "paying": "payment", "payments": "payment", "coupon": "code", "voucher": "code",
    "promo": "code", "codes": "code", "refund": "return", "refunds": "return", "returns": "return",
    "send": "ship", "wrapping": "wrap", "wrapped": "wrap",
}  # fmt: skip


def _same(a: str, b: str) -> bool:
    a, b = FAQ_SYNONYMS.get(a, a), FAQ_SYNONYMS.get(b, b)
    return a == b or stem(a) == stem(b) or (len(a) > 4 and len(b) > 4 and fuzz.ratio(a, b) >= 85)


def _cut(text: str, match: re.Match) -> str:
    return text[: match.start()] + " " + text[match.end() :]


def _keep_stop_words(text: str, match: re.Match) -> str:
    """A reference read: its words stay for the cues ("forget it", "how does this work", "like
    those") but its "one" or "three" is no quantity."""
    kept = " ".join(w for w in match.group(0).split() if w in STOP and w != "one")
    return text[: match.start()] + " " + kept + " " + text[match.end() :]


_CUE_WORDS: set[str] | None = None


def _cue_words() -> set[str]:
    """Every word of a cue phrase (never corrected to a catalog word)."""
    global _CUE_WORDS
    if _CUE_WORDS is None:
        _CUE_WORDS = {w for cues in CUES.values() for phrase in cues for w in phrase.split()} | FLAGS
        _CUE_WORDS |= {"colour", "colours", "size", "sizes", "gift", "gifts", "sale", "stock", "points"}
    return _CUE_WORDS


_CUE_LIST: list[str] | None = None


def _correct(word: str, vocab: Vocabulary) -> str | None:
    """The nearest cue word or catalog word within the edits the word's length allows."""
    global _CUE_LIST
    if _CUE_LIST is None:
        _CUE_LIST = sorted(w for w in _cue_words() if len(w) > 3)
    edits = max_edits(word)
    cue = process.extractOne(word, _CUE_LIST, scorer=OSA.distance, score_cutoff=edits)
    catalog = process.extractOne(word, vocab.catalog_words, scorer=OSA.distance, score_cutoff=edits)
    if cue and (not catalog or cue[1] <= catalog[1]):
        return cue[0]
    return catalog[0] if catalog else None


# -- scores ---------------------------------------------------------------------------------------


def _cue_matches(reading: _Reading) -> dict[str, float]:
    """Each intent's best cue: contiguous phrases in full, scattered words at 85%, a phrase inside a
    longer phrase of another intent at half."""
    tokens = reading.tokens
    matches = []  # (length, weight, intent, positions)
    for intent, cues in CUES.items():
        for phrase, weight in cues.items():
            parts = tuple(phrase.split())
            at = reading.phrase_at(parts)
            if at is not None:
                matches.append((len(parts), weight, intent, set(range(at, at + len(parts)))))
            elif len(parts) > 1 and all(p in reading.token_set for p in parts):
                positions = {tokens.index(p) for p in parts}
                matches.append((len(parts), weight * 0.85, intent, positions))
    matches.sort(key=lambda m: (-m[0], -m[1]))
    best: dict[str, float] = {}
    claimed: dict[int, str] = {}
    for _length, weight, intent, positions in matches:
        owners = {claimed.get(p) for p in positions}
        if None not in owners and intent not in owners:
            weight *= 0.5
        for p in positions:
            claimed.setdefault(p, intent)
        best[intent] = max(best.get(intent, 0.0), weight)
    reading.claimed = set(claimed)
    reading.cover = {intent: sum(1 for owner in claimed.values() if owner == intent) for intent in best}
    return best


def _pick(s: dict[str, float], context: dict, shown: bool) -> None:
    """ "The second one" on its own: the answer to "which one?" (the intent that asked it), or the
    product shown at that place; with nothing shown, a weak guess only (below the threshold)."""
    if any(v >= 0.5 for v in s.values()):
        return
    pending = context.get("pending") or {}
    if pending.get("kind") == "which" and pending.get("intent") in s:
        s[pending["intent"]] = 0.8
    elif pending.get("kind") in ("choose", "add"):
        s[IN.ADD_TO_CART] = 0.7
    else:
        s[IN.PRODUCT_INFO] = 0.6 if shown else 0.4


QUESTION_WORDS = {"how", "where", "what", "whats", "when", "which", "why", "do", "does", "is", "are"}
ACTING = {"use", "apply", "redeem"}  # "can I use a coupon": to do it now, not how it works


def _store_question(reading: _Reading, e: Entities, s: dict[str, float], subject: bool) -> None:
    """An FAQ entry found nearly whole ("do you gift wrap?", "how do promo codes work", "wrong
    address on my order"), naming nothing the other intents act on (a code, an order number, a
    product): the store question wins over the action its words also cue."""
    if reading.faq_score < 0.8 or e.code or e.order_number or e.points or e.email or subject:
        return
    if e.category_ids or e.brands or e.values or not set(reading.catalog_words) <= reading.faq_explained:
        return
    asked = bool(QUESTION_WORDS & set(reading.tokens[:2])) or reading.faq_score >= 0.9
    if not asked:
        return
    for intent in (IN.SEARCH, IN.APPLY_CODE, IN.TRACK_ORDER, IN.CHECKOUT, IN.POINTS, IN.PRODUCT_PRICE):
        if intent == IN.TRACK_ORDER and s[intent] >= 0.85:
            continue  # "when will my parcel arrive": their own order
        if intent == IN.APPLY_CODE and ACTING & reading.token_set:
            s[intent] += 0.15
            continue
        s[intent] *= 0.7


def _scores(reading: _Reading, e: Entities, context: dict) -> dict[str, float]:
    s = dict.fromkeys(Intent.ALL, 0.0)
    s.pop(Intent.UNKNOWN)
    for intent, weight in _cue_matches(reading).items():
        s[intent] = weight
    n = len(reading.tokens)
    catalog = bool(e.category_ids or e.brands or reading.catalog_words or e.values or reading.gift)
    constraints = bool(e.min_price or e.max_price or e.cheap or e.on_sale or e.in_stock)
    corrected_only = (
        catalog
        and set(reading.catalog_words) <= set(reading.corrections.values())
        and not (e.category_ids or e.brands or e.values)
    )
    shown = bool(context.get("shown") or context.get("search") or context.get("products") or context.get("product"))
    subject = bool(e.reference or (e.product_ids and reading.specific))

    # A short answer inside a longer message is weaker, unless it is most of it ("that's all, have a
    # nice day").
    for intent in SOCIAL:
        if n > 4 and reading.cover.get(intent, 0) < 0.6 * n:
            s[intent] *= 0.6
    asks = reading.tokens[:1] in (["is"], ["does"], ["are"])
    if asks and (subject or reading.tokens[1:2] in (["it"], ["this"])) and not any(s[i] >= 0.5 for i in ABOUT_ONE):
        s[IN.PRODUCT_INFO] = 0.5  # "is it waterproof?", "is the puffer jacket warm" (not "what time is it")
    if not (subject or catalog or context.get("product") or context.get("shown")):
        s[IN.GOES_WITH] *= 0.7  # "who won the match": with nothing
    if any(s[i] >= 0.5 for i in ABOUT_ONE) and subject:
        for intent in ABOUT_ONE:
            if s[intent]:
                s[intent] += 0.25
    # A search: the catalog's words, with or without "show me"; weaker when the only catalog word
    # was a correction ("what's the leather" read from "weather").
    only_values = bool(e.values) and not (e.category_ids or e.brands or reading.catalog_words or reading.gift)
    # Everyday words a product name happens to share ("will it rain", "translate into French").
    everyday = (
        catalog
        and set(reading.catalog_words) <= GENERAL
        and not (e.category_ids or e.brands or e.values or reading.gift)
    )
    if (
        not catalog
        and reading.unknown_words
        and not constraints
        and not {"gift", "gifts", "present"} & reading.token_set
    ):
        s[IN.SEARCH] *= 0.7  # "do you sell cars": a search for nothing the store knows
    if catalog:
        bonus = 0.45 if s[IN.SEARCH] else 0.6
        if only_values:
            bonus = 0.2 if shown else 0.35  # "any in white?" after a search narrows it
        asked = subject and any(s[i] >= 0.5 for i in ABOUT_ONE)
        if asked:
            bonus *= 0.3
        if corrected_only or everyday:
            bonus *= 0.5
        if constraints and not asked:  # "is the kettle in stock": the question asked, not a filter
            bonus += 0.15
        s[IN.SEARCH] += bonus + (0.1 if e.category_ids and e.values else 0.0)
        if reading.gift:
            s[IN.SEARCH] += 0.2
    # A refinement: narrower or more of what was shown, naming nothing new.
    if not (e.category_ids or reading.catalog_words or e.brands):
        similar = s[IN.SIMILAR] >= 0.8 or (s[IN.SIMILAR] and subject)  # "similar but cheaper"
        if (e.cheaper or e.more or e.values or constraints) and not similar:
            base = 0.45 if only_values else 0.4 if (e.min_price or e.max_price) else 0.3
            s[IN.REFINE] += base + 0.2 if shown else base * 0.6  # nothing shown: nothing to refine
        if (e.min_price or e.max_price) and not s[IN.REFINE] >= 0.5:
            # Nothing shown yet: "under 50 dollars" asks what there is at that price.
            s[IN.SEARCH] += 0.65 if not shown else 0.1
    elif e.cheaper and subject:
        s[IN.SIMILAR] += 0.2
    if BUYING & reading.token_set and not ADDING & reading.token_set and not (subject or e.quantity):
        if catalog or s[IN.SEARCH] >= 0.5:
            # "I want to buy headphones", "a present for my mum": what to buy is still to be found.
            s[IN.SEARCH] = max(s[IN.SEARCH], s[IN.ADD_TO_CART]) + 0.1
            s[IN.ADD_TO_CART] *= 0.6
    if e.code:
        s[IN.APPLY_CODE] += 0.4
    if e.points and s[IN.USE_POINTS] == 0 and ({"use", "redeem", "spend", "apply"} & reading.token_set):
        s[IN.USE_POINTS] = 0.9
    if e.order_number:
        # "7K4M2QXP" alone is an order asked about.
        s[IN.TRACK_ORDER] = max(s[IN.TRACK_ORDER] + 0.5, 0.85)
    if CART_WORDS & reading.name_cues:
        s[IN.SHOW_CART] *= 0.5  # "sleeping bag": a product's name, not the shopping bag
    if ADDING & reading.token_set and (CART_WORDS & reading.token_set or e.quantity or e.reference):
        # "put 3 in my basket", "ad it to the cart": into the cart, not a look at it.
        s[IN.ADD_TO_CART] = max(s[IN.ADD_TO_CART], 0.6) + 0.3
        s[IN.SHOW_CART] *= 0.5
    if e.reference and e.quantity and s[IN.ADD_TO_CART] < 0.75:
        s[IN.ADD_TO_CART] = 0.75  # "2 of those please"
    if e.reference and (e.reference[0].isdigit() or e.reference == "last"):
        if not catalog:
            s[IN.SEARCH] *= 0.5  # "show me the third one" names no search
        _pick(s, context, bool(shown))
    if not (subject or catalog) and s[IN.FAQ] >= 0.45:
        # "how much is delivery": a question about the store, not about a product.
        for intent in (IN.PRODUCT_PRICE, IN.PRODUCT_STOCK, IN.PRODUCT_INFO):
            s[intent] *= 0.6
    if reading.faq_id is not None and not (e.code or e.order_number):  # "use code X" is no question
        s[IN.FAQ] = max(s[IN.FAQ], reading.faq_score * 0.95) + (0.1 if s[IN.FAQ] else 0.0)
        _store_question(reading, e, s, bool(e.reference))
        if s[IN.HUMAN] >= 0.8 and not QUESTION_WORDS & set(reading.tokens[:2]):
            s[IN.FAQ] *= 0.8  # "customer service": a person asked for, not the contact details
    if (context.get("pending") or {}).get("kind") == "add" and s[IN.YES] >= 0.5:
        s[IN.YES] = max(s[IN.YES], s[IN.ADD_TO_CART]) + 0.1  # "yes please add it" confirms the add asked
        s[IN.ADD_TO_CART] *= 0.6
    if context.get("pending") or context.get("confirm"):
        s[IN.YES] += 0.1 if s[IN.YES] else 0.0
        s[IN.NO] += 0.1 if s[IN.NO] else 0.0
    if n == 0 and not any(v for v in s.values()):
        return {}
    return {k: min(v, 1.0) for k, v in s.items()}
