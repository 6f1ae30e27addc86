import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from marketing.analytics import rollups
from marketing.campaigns.models import Conversion, Flow, Message
from tests.factories import OrderFactory, StaffFactory
from tests.marketing.campaigns.helpers import campaign, customer, segment

pytestmark = pytest.mark.django_db


BERLIN = ZoneInfo("Europe/Berlin")
DAY = dt.date(2026, 6, 20)


@pytest.fixture(autouse=True)
def store(settings, monkeypatch):
    settings.ANALYTICS_TIME_ZONE = "Europe/Berlin"
    monkeypatch.setattr(rollups, "today", lambda: dt.date(2026, 6, 30))


def at(hour, day=DAY):
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BERLIN)


def test_the_marketing_dashboard_shows_each_campaigns_and_flows_results_for_the_period():
    people = [customer(f"d{i}@example.org") for i in range(4)]
    spring = campaign(segment(), name="Spring sale")
    welcome = Flow.objects.get(trigger="welcome")
    step = welcome.steps.first()
    for i, who in enumerate(people):
        Message.objects.create(campaign=spring, user=who, channel="email", status="sent", sent_at=at(10),
                               clicked_at=at(11) if i < 2 else None)  # fmt: skip
    Message.objects.create(step=step, user=people[0], channel="email", status="sent",
                           sent_at=at(1, DAY + dt.timedelta(days=1)))  # a flow's message, the next day  # fmt: skip
    clicked = Message.objects.filter(campaign=spring, clicked_at__isnull=False).first()
    order = OrderFactory(user=clicked.user, total="80.00", subtotal="80.00", placed_at=at(12), paid_at=at(12))
    Conversion.objects.create(order=order, message=clicked, revenue=order.total, currency="USD", at=at(12))
    for day in (DAY, DAY + dt.timedelta(days=1)):
        rollups.build_day(day)
    staff = StaffFactory(is_superuser=False)
    staff.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client = Client()
    client.force_login(staff)

    response = client.get(f"/admin/analytics/dashboard/marketing/?from={DAY}&to={DAY}")

    panel = next(p for p in response.context["data"]["panels"] if p["key"] == "campaigns")
    assert [(r["name"], r["sent"], r["clicked"], r["orders"], str(r["revenue"])) for r in panel["table"]] == [
        ("Spring sale", 4, 2, 1, "80.00")
    ]
    html = response.content.decode()
    assert 'id="panel-campaigns"' in html and "$80.00" in html
    two_days = client.get(f"/admin/analytics/dashboard/marketing/?from={DAY}&to={DAY + dt.timedelta(days=1)}")
    names = {r["name"] for r in next(p for p in two_days.context["data"]["panels"] if p["key"] == "campaigns")["table"]}
    assert names == {"Spring sale", "Welcome"}
