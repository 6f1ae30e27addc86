"""The demo store's shopping assistant: the FAQ a real store answers, a few synonyms for the demo
catalog, and a year of conversations with the hand-overs staff answered (or have still to).

The FAQ's answers are written from the store's own rules as they are when it runs: the shipping
methods and prices (settings.SHOP_SHIPPING_METHODS), the loyalty program's rates (loyalty.program),
and what the starter pages (shop/pages, migration 0002) say about returns, payment and contact. It
runs after the catalog, the orders and loyalty, whose rows the conversations read.

The conversations are real: each shopper message goes through `dialogue.respond`, which reads it,
answers from the database and records both turns, as the chat does. Only their times are set
afterwards, in bulk, spread over the last year; a customer's chat is often the day before one of
their paid orders, so that the panel's "orders after a chat" counts orders that really followed one.
FAQ entries and synonyms are added only where missing (an entry staff edited stays as it is); the
conversations are skipped when there are any. Everything drawn from ctx.rng("assistant").
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from marketing.assistant import vocabulary
from marketing.assistant.models import Conversation, FaqEntry, Synonym, Ticket, TicketEmail, Turn
from shop.core.demo import DemoContext
from shop.core.money import Money

CONVERSATIONS = 300  # each message is real work (about 7 ms): 300 conversations take 5 s
HISTORY_DAYS = 365
TICKETS_OPEN = 3  # the most recent hand-overs wait for staff; the older ones were answered


def seed(ctx: DemoContext) -> None:
    started = time.monotonic()
    faq = faq_seed()
    synonyms = synonyms_seed()
    ctx.log(f"assistant: {faq} FAQ entries, {synonyms} synonyms")
    if Conversation.objects.exists():
        ctx.log("assistant: conversations already there")
        return
    made = _history(ctx)
    ctx.log(f"assistant: {made} conversations over {HISTORY_DAYS} days in {time.monotonic() - started:.1f} s")


# --- the FAQ ---------------------------------------------------------------------------------------


def _money(amount) -> str:
    return str(Money.of(Decimal(str(amount))))


def faq_entries() -> list[dict]:
    """The FAQ as the store's settings make it today: question, answer, other ways to ask, a link."""
    from loyalty import selectors as loyalty

    methods = settings.SHOP_SHIPPING_METHODS
    standard, express = methods["standard"], methods["express"]
    free_over = standard.get("free_over")
    free = f", free on orders of {_money(free_over)} or more" if free_over else ""
    rules = loyalty.program_rules()
    worth = _money(Decimal(1))
    expiry = (
        f"Points expire {rules.expiry_days // 30} months after you earn them; we email you before they do."
        if rules.expiry_days
        else "Points never expire."
    )
    return [
        {
            "question": "How long does shipping take?",
            "answer": (
                "Orders paid before 2 pm leave the same working day. Standard delivery takes 3–5 working days, "
                "express delivery 1–2 working days."
            ),
            "phrasings": [
                "how long does delivery take",
                "delivery time",
                "shipping time",
                "how fast do you ship",
                "how quickly will it arrive",
                "when do you dispatch",
                "express delivery",
                "next day delivery",
            ],
            "link": "/pages/shipping/",
        },
        {
            "question": "How much does shipping cost?",
            "answer": (
                f"Standard delivery is {_money(standard['price'])}{free}. "
                f"Express delivery is {_money(express['price'])}."
            ),
            "phrasings": [
                "shipping cost",
                "delivery cost",
                "how much is delivery",
                "how much is shipping",
                "delivery charge",
                "free shipping",
                "free delivery",
                "postage",
            ],
            "link": "/pages/shipping/",
        },
        {
            "question": "What is your return policy?",
            "answer": (
                "You can send anything back within 30 days of delivery, unworn and with its labels, and returns "
                "are free: write to us with your order number and we send you a prepaid label. We refund the card "
                "you paid with within 5 working days of receiving the parcel."
            ),
            "phrasings": [
                "returns policy",
                "can I return something",
                "how do I return an item",
                "send it back",
                "refund",
                "how long do refunds take",
                "exchange for another size",
                "money back",
            ],
            "link": "/pages/returns/",
        },
        {
            "question": "Which payment methods do you accept?",
            "answer": (
                "We take Visa, Mastercard and American Express, handled by Stripe: your card number never reaches "
                "our servers. We don't take PayPal, bank transfers or cash on delivery. Your card is charged when "
                "you place the order."
            ),
            "phrasings": [
                "payment methods",
                "how can I pay",
                "can I pay with paypal",
                "do you take credit cards",
                "do you accept amex",
                "pay by card",
                "cash on delivery",
                "is payment secure",
            ],
            "link": "/pages/payment/",
        },
        {
            "question": "How do discount codes work?",
            "answer": (
                'Enter the code in your cart, or tell me "use code" and the code. One code per order; some codes '
                "replace the automatic offers on the products they cover, and the cart says so when that happens."
            ),
            "phrasings": [
                "discount code",
                "promo code",
                "voucher",
                "coupon",
                "where do I enter my code",
                "can I use two codes",
                "my code doesn't work",
            ],
            "link": "/pages/faq/",
        },
        {
            "question": "How do loyalty points work?",
            "answer": (
                f"With an account you earn {rules.earn_rate.normalize()} points for every {worth} you spend "
                f"(more in the higher tiers), usable {rules.pending_days} days after the order is paid. "
                f"{rules.redeem_rate} points are worth {worth}: from {rules.min_redeem_points} points you can pay "
                f"up to {rules.max_redeem_percent}% of an order with them. {expiry}"
            ),
            "phrasings": [
                "loyalty program",
                "rewards",
                "how do I earn points",
                "what are points worth",
                "when do points expire",
                "points expire",
                "tiers",
            ],
            "link": "/account/points/",
        },
        {
            "question": "How can I track my order?",
            "answer": (
                "You get an email with the tracking number as soon as the parcel leaves. Your orders are under "
                "My orders; without an account, find yours with its number and your email, or ask me: "
                '"where is my order".'
            ),
            "phrasings": ["tracking number", "track a parcel", "how do I follow my delivery", "lost parcel"],
            "link": "/orders/lookup/",
        },
        {
            "question": "Can I change my address or cancel my order?",
            "answer": (
                "Until it ships, yes: ask for a person here or write to us with the order number, and we change "
                "the address or cancel it. Once it has shipped, send it back for a refund instead."
            ),
            "phrasings": [
                "change my address",
                "change delivery address",
                "wrong address",
                "cancel my order",
                "change my order",
                "edit my order",
            ],
            "link": "/pages/faq/",
        },
        {
            "question": "How do I find my size?",
            "answer": (
                "Each piece of clothing and pair of shoes lists its sizes on its page, and I can tell you which "
                "are in stock: ask \"what sizes does it come in?\". We don't have a size chart yet; if it doesn't "
                "fit, returns are free within 30 days."
            ),
            "phrasings": [
                "size guide",
                "size chart",
                "what size should I get",
                "does it run small",
                "sizing",
                "fit",
            ],
            "link": "",
        },
        {
            "question": "Do you offer gift wrapping?",
            "answer": (
                "Not yet: we don't gift-wrap or add gift messages. The packing slip shows no prices, so you can "
                "ship a present straight to someone with their address at checkout."
            ),
            "phrasings": ["gift wrap", "gift message", "wrap it as a present", "send a gift", "gift card"],
            "link": "",
        },
        {
            "question": "Do I need an account to order?",
            "answer": (
                "No: you can check out as a guest and follow your order with its number and your email. An account "
                "keeps your addresses and orders, and earns loyalty points."
            ),
            "phrasings": ["guest checkout", "create an account", "order without an account", "sign up"],
            "link": "/pages/faq/",
        },
        {
            "question": "How can I contact you?",
            "answer": (
                "Email help@example.com or call +1 555 0100 200, Monday to Friday, 9 am to 5 pm; we answer within "
                "one working day. Or ask for a person here and staff answer in this chat and by email."
            ),
            "phrasings": ["contact details", "phone number", "email address", "opening hours", "customer service"],
            "link": "/pages/contact/",
        },
    ]


def faq_seed() -> int:
    """The FAQ entries, once: an entry whose question is there already is left as staff edited it."""
    have = set(FaqEntry.objects.values_list("question", flat=True))
    missing = [
        FaqEntry(
            question=e["question"],
            answer=e["answer"],
            phrasings="\n".join(e["phrasings"]),
            link=e["link"],
            position=(i + 1) * 10,
        )
        for i, e in enumerate(faq_entries())
        if e["question"] not in have
    ]
    FaqEntry.objects.bulk_create(missing)
    if missing:
        vocabulary.words_changed()  # bulk_create sends no post_save
    return FaqEntry.objects.count()


# Words shoppers use that the demo catalog does not (vocabulary.BUILT_IN_SYNONYMS has the common ones).
SYNONYMS = {
    "rucksack": "backpack",
    "torch": "headlamp",
    "cafetiere": "french press",
    "raincoat": "rain shell",
    "anorak": "rain shell",
    "flip flops": "sandal",
    "sunscreen": "spf fluid",
    "sunblock": "spf fluid",
    "portable charger": "power bank",
    "cushion": "throw pillow",
    "bedsheets": "sheet set",
}


def synonyms_seed() -> int:
    have = set(Synonym.objects.values_list("word", flat=True))
    missing = [Synonym(word=w, means=m) for w, m in SYNONYMS.items() if w not in have]
    Synonym.objects.bulk_create(missing)
    if missing:
        vocabulary.words_changed()
    return Synonym.objects.count()


# --- a year of conversations -----------------------------------------------------------------------

SEARCHES = [
    "{colour} dress under {price}", "cheap headphones", "{colour} sneakers", "do you have a yoga mat",
    "linen shirt", "a tea kettle under {price}", "{colour} jacket", "bluetooth speaker", "face serum",
    "tent for camping", "wireless headphones under {price}", "duvet cover", "lipstick", "{colour} tee shirt",
    "ankle boots", "a rucksack", "skillet", "candles", "midi dress in {colour}", "power bank",
    "gifts for a runner", "present for a coffee lover", "headlamp", "something for a yogi",
]  # fmt: skip
REFINES = ["cheaper", "only in stock", "show more", "in {colour}", "anything under {price}?"]
ABOUT = ["how much is the first one?", "is the second one in stock?", "tell me about the first one"]
FAQ_ASKED = [
    "how long does shipping take?", "how much is delivery", "do you have free shipping?", "what's your return policy",
    "can I return something if it doesn't fit", "can I pay with paypal?", "which payment methods do you accept",
    "how do discount codes work", "how do I earn points", "when do points expire", "do you offer gift wrapping?",
    "I want to change my order", "do I need an account to order", "what are your opening hours",
    "size guide", "how long do refunds take", "how fast do you ship", "can I use two discount codes",
]  # fmt: skip
UNKNOWN = [
    "do you have a shop in Boston", "what's the weather like", "asdf", "can you recommend a good film",
    "is there a student discount", "my cat walked on the keyboard", "do you price match", "hmm",
]  # fmt: skip
PROBLEMS = [
    "my parcel arrived damaged", "I was charged twice", "the zip on my jacket broke",
    "my order hasn't arrived and it's been two weeks", "I need an invoice for my company",
]  # fmt: skip
ANSWERS = [
    "Sorry about that! We've sent you a prepaid return label and a replacement is on its way.",
    "Thanks for telling us. We checked with our payment provider: the second charge was only a hold and is "
    "released within 3 working days.",
    "We're sorry it broke. Send it back with the free label we emailed you and we'll refund it in full.",
    "The carrier had it at the wrong depot; it's back on its way and should arrive tomorrow.",
    "Your invoice is attached to the email we just sent. Let us know if you need anything else on it.",
]  # fmt: skip


def _history(ctx: DemoContext) -> int:
    from shop.accounts.models import User
    from shop.cart.models import Cart
    from shop.catalog.models import AttributeValue
    from shop.orders.models import Order

    rng = ctx.rng("assistant")
    now = timezone.now()
    customers = list(User.objects.filter(is_staff=False, is_active=True).order_by("pk"))
    if not customers:
        return 0
    staff = User.objects.filter(is_staff=True).order_by("pk").first()
    colours = list(AttributeValue.objects.filter(attribute__slug="colour").values_list("name", flat=True)) or ["blue"]
    paid = list(Order.objects.filter(user__isnull=False, paid_at__isnull=False).values_list("user_id", "placed_at"))
    guests = list(Order.objects.filter(user=None).order_by("pk").values_list("number", "email")[:200])
    last_cart = Cart.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    by_id = {u.pk: u for u in customers}

    def fill(text: str) -> str:
        return text.format(colour=rng.choice(colours).lower(), price=rng.choice([30, 50, 80, 100, 150]))

    made, tickets = [], []
    for n in range(CONVERSATIONS):
        customer = rng.random() < 0.45
        user, at = None, now - dt.timedelta(days=HISTORY_DAYS * rng.random() ** 0.8, minutes=rng.randrange(1440))
        if customer:
            if paid and rng.random() < 0.5:  # the day before an order they placed
                user_id, placed = rng.choice(paid)
                user, at = by_id.get(user_id), placed - dt.timedelta(minutes=rng.randrange(20, 1200))
            user = user or rng.choice(customers)
        messages, hands_over = _script(rng, fill, user, guests, n)
        conversation = Conversation.objects.create(user=user)
        times = _talk(conversation, messages, user, rng, at)
        made.append((conversation, times))
        if hands_over and Ticket.objects.filter(conversation=conversation).exists():
            tickets.append((conversation, times[-1]))
    _set_times(made)
    _answer(rng, tickets, staff, now)
    # A chat's cart became an order long ago (or was left): it is not an open cart today.
    Cart.objects.filter(pk__gt=last_cart).delete()
    return len(made)


def _script(rng, fill, user, guests, n) -> tuple[list[str], bool]:
    """What one shopper says: a few messages of one or two kinds, as shoppers chat."""
    said = ["hi"] if rng.random() < 0.3 else []
    roll = rng.random()
    if n % 24 == 5:  # a handful hand over to a person
        said += [rng.choice(PROBLEMS), "can I talk to a person please"]
        if user is None:
            said.append(f"guest{n}@example.net")
        return said, True
    if roll < 0.35:
        said.append(fill(rng.choice(SEARCHES)))
        said += [fill(r) for r in rng.sample(REFINES, rng.randint(0, 2))]
        if rng.random() < 0.5:
            said.append(rng.choice(ABOUT))
        if user is not None and rng.random() < 0.5:
            said += ["add the first one to my cart", "?confirm", "what's my total?"]
    elif roll < 0.6:
        said += rng.sample(FAQ_ASKED, rng.randint(1, 2))
    elif roll < 0.72:
        if user is not None:
            said.append(rng.choice(["where is my order?", "track my order", "has my order shipped?"]))
        elif guests:
            number, email = rng.choice(guests)
            said += ["where is my order?", number, email]
    elif roll < 0.82 and user is not None:
        said += ["how many points do I have?", "what are points worth?"][: rng.randint(1, 2)]
    elif roll < 0.92:
        said.append(rng.choice(UNKNOWN))
        if rng.random() < 0.5:
            said.append(fill(rng.choice(SEARCHES)))
    else:
        said.append(fill(rng.choice(SEARCHES)))
        said.append(rng.choice(FAQ_ASKED))
    if len(said) < 2 and said[:1] in ([], ["hi"]):  # a guest asking what only customers ask: a search instead
        said.append(fill(rng.choice(SEARCHES)))
    if rng.random() < 0.35:
        said.append(rng.choice(["thanks", "thank you!", "great, thanks", "bye"]))
    return said, False


def _talk(conversation, messages, user, rng, at) -> list[dt.datetime]:
    """Each message through the dialogue, as the chat sends it; the time each exchange happened."""
    from marketing.assistant import dialogue

    actor = user or AnonymousUser()
    times, reply = [], None
    for text in messages:
        if text == "?confirm":  # what the assistant asked: an option as offered, or a yes
            conversation.refresh_from_db(fields=["context"])
            pending = (conversation.context or {}).get("pending") or {}
            if not pending:
                continue
            offered = pending.get("kind") != "add" and reply is not None and reply.quick_replies
            text = reply.quick_replies[0] if offered else "yes"
        reply = dialogue.respond(conversation, text, user=actor)
        at += dt.timedelta(seconds=rng.randint(8, 70))
        times.append(at)
    return times


def _set_times(made) -> None:
    """The conversations', turns' and tickets' times, spread over the year (they were written just now):
    a shopper's turn at its time, the assistant's answer a second later."""
    times = {c.pk: t for c, t in made}
    conversations = []
    for conversation, at in made:
        conversation.started_at = at[0] - dt.timedelta(seconds=5)
        conversation.updated_at = at[-1] + dt.timedelta(seconds=1)  # the last answer
        conversations.append(conversation)
    turns, seen = [], {}
    for turn in Turn.objects.filter(conversation_id__in=list(times)).order_by("conversation_id", "id"):
        i = seen[turn.conversation_id] = seen.get(turn.conversation_id, -1) + 1
        at = times[turn.conversation_id]
        turn.created_at = at[min(i // 2, len(at) - 1)] + dt.timedelta(seconds=i % 2)
        turns.append(turn)
    Conversation.objects.bulk_update(conversations, ["started_at", "updated_at"], batch_size=500)
    Turn.objects.bulk_update(turns, ["created_at"], batch_size=500)
    opened = list(Ticket.objects.filter(conversation_id__in=list(times)))
    for ticket in opened:
        ticket.opened_at = times[ticket.conversation_id][-1]
    Ticket.objects.bulk_update(opened, ["opened_at"])


def _answer(rng, tickets, staff, now) -> None:
    """Staff answered the older hand-overs (the answer in the chat, its email sent); the latest wait."""
    tickets = sorted(tickets, key=lambda pair: pair[1])
    answered = tickets[:-TICKETS_OPEN] if len(tickets) > TICKETS_OPEN else []
    for n, (conversation, at) in enumerate(answered):
        ticket = conversation.ticket
        when = min(at + dt.timedelta(hours=rng.uniform(1, 20)), now)
        ticket.answer, ticket.status = ANSWERS[n % len(ANSWERS)], Ticket.Status.ANSWERED
        ticket.answered_by, ticket.answered_at = staff, when
        ticket.save(update_fields=["answer", "status", "answered_by", "answered_at"])
        turn = Turn.objects.create(conversation=conversation, role=Turn.Role.STAFF, text=ticket.answer)
        Turn.objects.filter(pk=turn.pk).update(created_at=when)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=when)
        if ticket.email:
            TicketEmail.objects.create(
                ticket=ticket, turn=turn, to=ticket.email, sent_at=when + dt.timedelta(minutes=1), attempts=1
            )
