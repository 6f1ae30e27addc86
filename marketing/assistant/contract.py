"""What the assistant's parts pass each other (docs/assistant.md).

    text ──understand()──▶ Understanding ──dialogue.respond()──▶ Reply ──▶ web chat, API, messaging app

`understanding.understand(text, context)` reads a sentence: which intent (with a confidence and the
runner-up scores, to explain itself) and which entities. It never touches the database beyond the
catalog's cached vocabulary, and never states a fact. `dialogue.respond(conversation, text, actor)`
decides what to do, reads every price, stock level, order status or balance from the database at
that moment, acts through the other apps' services (the cart, discount codes, points), and keeps the
conversation's context (what "those" and "it" are, a confirmation waiting for a yes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


class Intent:
    """Every intent the assistant knows. A new one: add it here, teach understanding.py its
    phrases, give dialogue.py its handler, and add utterances to the suite."""

    GREET = "greet"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    HELP = "help"  # what can you do?
    SEARCH = "search"  # "red dresses under 50", "cheap headphones", "gifts for a runner"
    REFINE = "refine"  # "cheaper", "only in stock", "in blue", "show more"
    PRODUCT_STOCK = "product_stock"  # "is the blue kettle in stock?"
    PRODUCT_PRICE = "product_price"  # "how much is it?"
    PRODUCT_INFO = "product_info"  # "tell me about the kettle", "what sizes does it come in?"
    SIMILAR = "similar"  # "something like this but cheaper"
    GOES_WITH = "goes_with"  # "what goes with this?"
    ADD_TO_CART = "add_to_cart"  # "add two of those"
    SHOW_CART = "show_cart"  # "what's in my cart?", "what's my total?"
    CHECKOUT = "checkout"  # "I want to pay"
    APPLY_CODE = "apply_code"  # "use code SPRING10"
    POINTS = "points"  # "how many points do I have?", "what are points worth?"
    USE_POINTS = "use_points"  # "use my points"
    TRACK_ORDER = "track_order"  # "where is my order?", "order BZ123 for ada@example.com"
    FAQ = "faq"  # store questions: shipping, returns, payment, codes, points
    HUMAN = "human"  # "I want to talk to a person"
    YES = "yes"  # confirms what the assistant asked
    NO = "no"
    UNKNOWN = "unknown"  # below the confidence threshold: say so, offer choices

    ALL = (
        GREET, THANKS, GOODBYE, HELP, SEARCH, REFINE, PRODUCT_STOCK, PRODUCT_PRICE, PRODUCT_INFO, SIMILAR,
        GOES_WITH, ADD_TO_CART, SHOW_CART, CHECKOUT, APPLY_CODE, POINTS, USE_POINTS, TRACK_ORDER, FAQ,
        HUMAN, YES, NO, UNKNOWN,
    )  # fmt: skip


@dataclass(frozen=True)
class Entities:
    """What a sentence names. Every field is optional; ids point at rows the catalog's cached
    vocabulary knows (understanding never reads rows)."""

    words: tuple[str, ...] = ()  # the search words left once the rest is read ("dress", "runner")
    category_ids: tuple[int, ...] = ()
    brands: tuple[str, ...] = ()
    product_ids: tuple[int, ...] = ()  # products named by (fuzzy) name: "the blue kettle"
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # {"colour": ("red",)}: attribute values
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    cheap: bool = False  # "cheap", "budget": the lower prices first
    in_stock: bool = False  # "in stock", "available now"
    on_sale: bool = False
    quantity: int | None = None  # "two", "3"
    reference: str | None = None  # "it", "this", "those", "the second one" → "it", "those", "2"
    order_number: str | None = None
    email: str | None = None
    code: str | None = None  # a discount code
    points: int | None = None
    faq_id: int | None = None  # the FAQ entry that answers it
    more: bool = False  # "show more"
    cheaper: bool = False  # "cheaper", "less expensive"


@dataclass(frozen=True)
class Understanding:
    intent: str
    confidence: float  # 0..1; below settings.ASSISTANT_CONFIDENCE the dialogue treats it as unknown
    entities: Entities
    scores: dict[str, float] = field(default_factory=dict)  # every intent considered → its score (explains it)
    corrected: str = ""  # the text as read once typos were corrected, if any were


@dataclass(frozen=True)
class ProductCard:
    id: int
    name: str
    url: str
    price: str  # formatted in the active language ("$19.99")
    amount: Decimal
    currency: str
    in_stock: bool
    stock_note: str  # "In stock", "Only 2 left", "Sold out"
    image: str = ""
    was: str = ""  # the former price, as the storefront strikes it through (on sale, or under a promotion)
    offer: str = ""  # the automatic promotion behind `price` ("Dress weekend: 10% off all dresses")


@dataclass(frozen=True)
class Action:
    """Something the shopper can do next with one tap: a link or a message to send."""

    kind: str  # "link" (url) or "send" (text to send as the shopper's next message)
    label: str
    url: str = ""
    text: str = ""


@dataclass(frozen=True)
class CartSummary:
    """The shopper's cart once a reply changed it, for the page's header (and an app's badge)."""

    items: int  # units in the cart
    label: str  # "(2 items)", as the storefront's header says it


@dataclass
class Reply:
    text: str
    intent: str
    products: list[ProductCard] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    quick_replies: list[str] = field(default_factory=list)  # suggestions shown as buttons
    handed_over: bool = False  # the conversation now waits for a person
    cart: CartSummary | None = None  # set when this reply changed the cart
