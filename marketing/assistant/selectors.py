"""Reads for the assistant: conversations by their owner, products as cards, the storefront's search."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext as _

from marketing.assistant.contract import ProductCard
from marketing.assistant.models import Conversation, Turn
from shop.catalog.filters import ProductFilter
from shop.catalog.models import Product
from shop.catalog.offers import Offer, attach_offers, variant_offers
from shop.orders.models import Order

PAGE = 4  # cards per reply (the issue asks for 3 to 5)


def conversation_owned(*, public_id, user, session_key: str | None) -> Conversation | None:
    """The conversation if it is the requester's: their own when logged in, else their session's.

    A customer's conversation never opens from a session, and a guest's never from another
    session, so knowing an id reads nothing (the API answers 404 either way)."""
    conversations = Conversation.objects.filter(public_id=public_id)
    if user is not None and user.is_authenticated:
        return conversations.filter(user=user).first()
    if not session_key:
        return None
    return conversations.filter(user__isnull=True, session_key=session_key).first()


def conversation_turns(*, conversation: Conversation):
    return Turn.objects.filter(conversation=conversation).order_by("created_at", "id")


def stock_note(stock: int) -> str:
    if stock <= 0:
        return _("Sold out")
    if stock <= settings.SHOP_LOW_STOCK:
        return _("Only %(count)d left") % {"count": stock}
    return _("In stock")


def card(product: Product) -> ProductCard:
    """A product as the chat shows it, at the price its card on the storefront shows: `product`
    read by the functions below (its images prefetched, its automatic promotion's offer attached)."""
    image = product.main_image
    offer = getattr(product, "offer", None)
    price = offer.price if offer is not None else product.price_money
    was = product.price_money if offer is not None else product.compare_at_money
    shown = price.format()
    if product.price_from is not None:  # sizes at different prices: the lowest, as its storefront card says
        if offer is None or product.price != product.price_low:
            price = product.price_from
        shown, was = _("From %(price)s") % {"price": price.format()}, None
    return ProductCard(
        id=product.pk,
        name=product.name,
        url=product.get_absolute_url(),
        price=shown,
        amount=price.amount,
        currency=price.currency,
        in_stock=product.stock > 0,
        stock_note=stock_note(product.stock),
        image=image.image.url if image else "",
        was=was.format() if was is not None else "",
        offer=str(offer.label) if offer is not None else "",
    )


def variant_offer(product: Product, variant) -> Offer | None:
    """One unit of the variant after automatic promotions, at its own price (as its page shows it)."""
    return variant_offers(product, [variant]).get(variant.pk)


def _with_offers(products) -> list[Product]:
    # The storefront's own prices: a promotion's offer is shown wherever the product is (shop.catalog.offers).
    return attach_offers(products)


def products_by_ids(ids) -> list[Product]:
    """Active products in the given order, read now (prices and stock as they are this moment)."""
    found = {p.pk: p for p in _with_offers(Product.objects.active().for_listing().filter(pk__in=list(ids)))}
    return [found[i] for i in ids if i in found]


def product_now(product_id) -> Product | None:
    found = _with_offers(Product.objects.active().for_listing().filter(pk=product_id)[:1])
    return found[0] if found else None


def search_data(params: dict) -> QueryDict:
    """The storefront's query string for a search kept in a conversation's context."""
    data = QueryDict(mutable=True)
    for key, value in params.items():
        if key == "attr":
            data.setlist("attr", list(value))
        elif isinstance(value, bool):
            if value:
                data[key] = "true"
        elif value not in (None, ""):
            data[key] = str(value)
    return data


def search(params: dict, *, offset: int = 0, size: int = PAGE) -> list[Product]:
    """The products the storefront's list shows for these filters (shop.catalog.filters), a page of them."""
    found = ProductFilter(search_data(params), queryset=Product.objects.active().for_listing())
    return _with_offers(found.qs[offset : offset + size])


def lowest_price(ids) -> Decimal | None:
    prices = list(Product.objects.filter(pk__in=list(ids)).values_list("price", flat=True))
    return min(prices) if prices else None


def order_for_guest(*, number: str, email: str) -> Order | None:
    """The order with this number placed with this email, as the order lookup page finds it."""
    return Order.objects.filter(number=number.strip().upper(), email=email.strip().lower()).first()


def order_of_customer(*, user, number: str) -> Order | None:
    return Order.objects.filter(user=user, number=number.strip().upper()).first()


def recent_orders(*, user, size: int = 3) -> list[Order]:
    return list(Order.objects.filter(user=user).order_by("-placed_at", "-id")[:size])
