"""A customer with something in every part of the store (for the download and erasure tests)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from rest_framework.authtoken.models import Token

from loyalty.models import Account, LedgerEntry
from marketing.adboard import services as board
from marketing.adboard.models import Ad, Conversation, Message, Rating
from marketing.analytics.models import CustomerScore, Event, OrderVisit
from marketing.analytics.recorder import event as analytics_event
from shop.accounts.models import Profile, User
from shop.catalog import services as catalog
from shop.catalog.models import Review
from shop.orders.models import EventKind, Order, OrderAdjustment, OrderEvent, OrderLine
from tests.factories import AddressFactory, CartLineFactory, OrderFactory, ProductFactory, UserFactory
from tests.loyalty.helpers import give
from tests.marketing.adboard.helpers import make_ad, make_member, photo


@dataclass
class Customer:
    user: User
    order: Order
    review: Review
    ad: Ad
    conversation: Conversation  # another member asked about the customer's ad; the customer answered
    rating: Rating  # the customer rated another seller
    other_seller: User
    buyer: User


def order_for(user, *, status: str = "delivered", number: str | None = None, **fields) -> Order:
    """A placed order with a line, an adjustment and a timeline entry."""
    now = timezone.now()
    extra = {"number": number} if number else {}
    order = OrderFactory(
        user=user,
        status=status,
        subtotal=Decimal("40.00"),
        shipping_total=Decimal("5.00"),
        total=Decimal("45.00"),
        shipping_name=f"{user.first_name} {user.last_name}",
        shipping_line1="12 Private Lane",
        shipping_line2="Flat 3",
        shipping_city="Austin",
        shipping_region="TX",
        shipping_postal_code="78701",
        shipping_country="US",
        shipping_phone="+1 512 555 0100",
        placed_at=now - dt.timedelta(days=20),
        paid_at=now - dt.timedelta(days=20) if status != "pending_payment" else None,
        **extra,
        **fields,
    )
    product = ProductFactory(name="Walnut desk lamp")
    OrderLine.objects.create(
        order=order,
        product=product,
        sku=product.sku,
        name=product.name,
        unit_price=Decimal("40.00"),
        quantity=1,
        subtotal=Decimal("40.00"),
    )
    OrderAdjustment.objects.create(
        order=order, kind="shipping", label="Standard delivery", amount=Decimal("5.00"), source="shipping"
    )
    OrderEvent.objects.create(order=order, kind=EventKind.PLACED, status=order.status, created_at=order.placed_at)
    return order


def customer_with_everything(email: str = "owner@example.org") -> Customer:
    user = UserFactory(email=email, first_name="Olive", last_name="Owner")
    Profile.objects.create(
        user=user, birthday=dt.date(1990, 4, 2), city="Austin", region="TX", country="US", analytics_consent=True
    )
    AddressFactory(user=user, full_name="Olive Owner", line1="12 Private Lane")
    Token.objects.create(user=user)
    order = order_for(user)
    CartLineFactory(cart__user=user, product=ProductFactory(name="Linen cushion"))
    review = catalog.review_create(
        product=order.lines.get().product,
        user=user,
        rating=5,
        title="Lovely lamp",
        body="Warm light.",
        photos=[photo()],
    )
    give(user, 300)
    board.member(user)
    ad = make_ad(owner=user, title="Oak bookshelf", description="Call Olive on 555 0100.")
    buyer = make_member(email=f"buyer-of-{email}")
    board.contact(ad, buyer, "Is it still there?")
    conversation = Conversation.objects.get(ad=ad, buyer=buyer)
    board.reply(conversation, user, "Yes, come by after six.")
    other_seller = make_member(email=f"seller-for-{email}")
    other_ad = make_ad(owner=other_seller, title="Road bike")
    board.contact(other_ad, user, "Does it have lights?")
    rating, _created = board.rating_set(other_seller, user, stars=4, comment="Olive says: quick answers.")
    board.ad_save(other_ad, user)
    board.search_save(user, query="q=lamp", name="Lamps")
    now = timezone.now()
    Event.objects.create(**_event_fields("view_item", now, customer=user, product=order.lines.get().product))
    Event.objects.create(**_event_fields("page_view", now, customer=user, path="/account/"))
    OrderVisit.objects.create(order=order, customer=user, source="google")
    CustomerScore.objects.create(
        email=user.email,
        customer=user,
        first_day=now.date(),
        last_day=now.date(),
        orders=1,
        revenue=Decimal("45.00"),
        recency=0,
        r=5,
        f=1,
        m=3,
        segment="new",
        as_of=now.date(),
    )
    return Customer(
        user=user,
        order=order,
        review=review,
        ad=ad,
        conversation=conversation,
        rating=rating,
        other_seller=other_seller,
        buyer=buyer,
    )


def _event_fields(name, at, **fields) -> dict:
    row = analytics_event(name, at, **fields)
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if f.attname != "id"}


def points(user) -> int:
    account = Account.objects.filter(pk=user.pk).first()
    return account.balance if account else 0


def ledger(user) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account_id=user.pk).order_by("created_at", "id"))


def messages_by(user) -> list[str]:
    return list(Message.objects.filter(sender=user).values_list("body", flat=True))
