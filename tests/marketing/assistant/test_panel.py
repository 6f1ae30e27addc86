"""The assistant's panel on the analytics dashboards: conversations per day, fallback and hand-over
rates, and the orders placed within 24 hours after a chat."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from marketing.analytics import rollups
from marketing.assistant import panels
from marketing.assistant.models import Conversation, Turn
from tests.factories import OrderFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
DAY = dt.date(2026, 6, 20)


@pytest.fixture(autouse=True)
def store(settings, monkeypatch):
    settings.ANALYTICS_TIME_ZONE = "Europe/Berlin"
    monkeypatch.setattr(rollups, "today", lambda: dt.date(2026, 6, 30))


def at(hour, day=DAY, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BERLIN)


def chat(when, *, user=None, cart=None, handed_over=False, said=1, fallbacks=0, last=None):
    c = Conversation.objects.create(
        user=user, handed_over=handed_over, context={"cart_token": str(cart)} if cart else {}
    )
    for i in range(said + fallbacks):
        t = Turn.objects.create(conversation=c, role="shopper", text="hi", fallback=i >= said)
        Turn.objects.filter(pk=t.pk).update(created_at=when)
    Conversation.objects.filter(pk=c.pk).update(started_at=when, updated_at=last or when)
    return c


def period(first=DAY, last=DAY):
    return at(0, first), at(0, last + dt.timedelta(days=1))


def test_it_counts_conversations_per_day_and_the_fallback_and_hand_over_rates():
    chat(at(9), said=3, fallbacks=1, handed_over=True)
    chat(at(23, minute=30), said=1)  # 23:30 in Berlin: still the 20th there
    chat(at(10, DAY + dt.timedelta(days=1)), said=4, fallbacks=1)
    chat(at(10, DAY + dt.timedelta(days=5)))  # outside the period

    data = panels.summary(*period(DAY, DAY + dt.timedelta(days=1)))

    assert [(d["day"], d["conversations"], d["handed_over"]) for d in data["days"]] == [
        (DAY, 2, 1),
        (DAY + dt.timedelta(days=1), 1, 0),
    ]
    assert data["conversations"] == 3
    assert data["fallback_rate"] == pytest.approx(2 / 10)
    assert data["handover_rate"] == pytest.approx(1 / 3)


def test_it_counts_orders_placed_within_a_day_after_a_chat_by_the_customer_or_the_guests_cart():
    ada, bob, cy = UserFactory(), UserFactory(), UserFactory()
    cart = uuid.uuid4()
    chat(at(9), user=ada, last=at(9, minute=20))
    chat(at(9), user=bob)
    chat(at(8), cart=cart)
    OrderFactory(user=ada, placed_at=at(20))  # 11 hours after her chat: counts
    OrderFactory(user=ada, placed_at=at(8))  # before her chat: not
    OrderFactory(user=bob, placed_at=at(10, DAY + dt.timedelta(days=1)))  # 25 hours after: not
    OrderFactory(user=cy, placed_at=at(12))  # never chatted: not
    OrderFactory(user=None, cart_token=cart, placed_at=at(13))  # the guest's cart: counts
    OrderFactory(user=None, cart_token=uuid.uuid4(), placed_at=at(13))  # another guest: not

    assert panels.orders_after_chat(*period(DAY, DAY + dt.timedelta(days=1))) == 2


def test_its_figures_take_the_same_few_queries_however_many_chats_and_orders():
    def build(n):
        for i in range(n):
            user = UserFactory()
            chat(at(9), user=user, fallbacks=i % 2, handed_over=bool(i % 3))
            OrderFactory(user=user, placed_at=at(12))
            cart = uuid.uuid4()
            chat(at(9), cart=cart)
            OrderFactory(user=None, cart_token=cart, placed_at=at(12))

    build(1)
    with CaptureQueriesContext(connection) as few:
        panels.summary(*period())
    build(10)
    with CaptureQueriesContext(connection) as many:
        data = panels.summary(*period())

    assert data["orders_after_chat"] == 22
    assert len(many) == len(few) <= 5


def test_the_marketing_dashboard_shows_the_assistant_panel():
    chat(at(9), said=2, fallbacks=2, handed_over=True)
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client = Client()
    client.force_login(staff)

    response = client.get(f"/admin/analytics/dashboard/marketing/?from={DAY}&to={DAY}")

    panel = next(p for p in response.context["data"]["panels"] if p["key"] == "assistant")
    assert panel["table"] == [{"day": DAY.isoformat(), "conversations": 1, "handed_over": 1}]
    html = response.content.decode()
    assert 'id="panel-assistant"' in html and "Shopping assistant" in html and "50.0%" in html
