"""A stand-in for the dialogue in the chat's own tests: it records the shopper's message and a reply
that shows one product (read from the database), as `dialogue.respond` does, so the pages and the
panel are tested apart from what the assistant understands."""

from __future__ import annotations

import sys
import types
from decimal import Decimal

from marketing.assistant.contract import Action, Intent, ProductCard, Reply
from marketing.assistant.models import Turn
from shop.catalog.models import Product


def card(product: Product) -> ProductCard:
    image = product.images.first() if hasattr(product, "images") else None
    return ProductCard(
        id=product.pk,
        name=product.name,
        url=product.get_absolute_url(),
        price=f"${product.price}",
        amount=Decimal(product.price),
        currency="USD",
        in_stock=product.stock > 0,
        stock_note="In stock" if product.stock > 0 else "Sold out",
        image=image.image.url if image else "",
    )


def parts(reply: Reply) -> dict:
    return {
        "products": [{**c.__dict__, "amount": str(c.amount)} for c in reply.products],
        "actions": [a.__dict__ for a in reply.actions],
        "quick_replies": reply.quick_replies,
    }


def respond(conversation, text, *, user, request=None) -> Reply:
    Turn.objects.create(conversation=conversation, role=Turn.Role.SHOPPER, text=text, intent=Intent.SEARCH)
    product = Product.objects.order_by("pk").first()
    reply = Reply(
        text=f"Here is what I found for “{text}”.",
        intent=Intent.SEARCH,
        products=[card(product)] if product else [],
        actions=[Action(kind="link", label="See all results", url="/search/?q=x")],
        quick_replies=["Cheaper", "Only in stock"],
    )
    Turn.objects.create(conversation=conversation, role=Turn.Role.ASSISTANT, text=reply.text, parts=parts(reply))
    return reply


def install(monkeypatch, fake=respond) -> None:
    """Make `marketing.assistant.dialogue.respond` the fake, whether or not the real module exists yet."""
    try:
        from marketing.assistant import dialogue
    except ImportError:
        dialogue = types.ModuleType("marketing.assistant.dialogue")
        monkeypatch.setitem(sys.modules, "marketing.assistant.dialogue", dialogue)
        import marketing.assistant

        monkeypatch.setattr(marketing.assistant, "dialogue", dialogue, raising=False)
    monkeypatch.setattr(dialogue, "respond", fake, raising=False)
