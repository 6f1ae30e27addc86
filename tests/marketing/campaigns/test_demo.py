"""The demo's marketing year (marketing/campaigns/demo.py): consistent with the event log and the orders."""

import datetime as dt

import pytest
from django.conf import settings

from marketing.analytics import selectors as analytics_selectors
from marketing.analytics.models import DailyFigure
from marketing.campaigns import services
from marketing.campaigns.demo import CLICK_DAYS, NEWSLETTER_TAG
from marketing.campaigns.models import Campaign, Conversion, Flow, FlowRun, Message
from shop.accounts.models import Consent

pytestmark = pytest.mark.django_db
SEEDER = "marketing.campaigns.demo.seed"


def counts() -> dict[str, int]:
    return {
        "campaigns": Campaign.objects.count(),
        "messages": Message.objects.count(),
        "conversions": Conversion.objects.count(),
        "runs": FlowRun.objects.count(),
    }


@pytest.fixture(scope="module")
def seeded(demo_store):
    assert SEEDER in settings.DEMO_SEEDERS
    return {"first": demo_store["first"][__name__], "second": demo_store["second"][__name__]}


def test_a_second_run_adds_nothing(seeded):
    assert seeded["first"] == seeded["second"]
    assert seeded["first"]["campaigns"] >= 15 and seeded["first"]["messages"] > 1000


def test_each_newsletter_click_is_a_newsletter_visit_of_the_event_log(seeded):
    sends = Campaign.objects.filter(utm_campaign=NEWSLETTER_TAG).order_by("started_at")
    assert sends.count() == 12
    visits = analytics_selectors.visits_from(
        source="newsletter", campaign=NEWSLETTER_TAG, since=sends[0].started_at - dt.timedelta(days=1)
    )
    for send in sends:
        window = [v for v in visits if send.started_at < v[0] <= send.started_at + dt.timedelta(days=CLICK_DAYS)]
        clicks = list(
            Message.objects.filter(campaign=send, clicked_at__isnull=False).values_list("clicked_at", flat=True)
        )
        assert len(clicks) == len(window)
        assert sorted(clicks) == sorted(v[0] for v in window)


def test_credited_orders_are_the_clickers_paid_orders_inside_the_window(seeded):
    conversions = Conversion.objects.select_related("order", "message__campaign")
    assert conversions.exists()
    for c in conversions:
        assert c.order.user_id == c.message.user_id
        assert c.order.paid_at is not None and c.revenue == c.order.total
        assert c.message.clicked_at <= c.order.placed_at + dt.timedelta(minutes=1)
        assert c.order.placed_at - c.message.clicked_at <= dt.timedelta(days=c.message.campaign.attribution_days)


def test_only_customers_with_consent_at_the_time_were_sent_to(seeded):
    for message in Message.objects.filter(campaign__utm_campaign=NEWSLETTER_TAG).select_related("user")[:300]:
        assert message.user.consent_changes.filter(channel="email", given=True, at__lte=message.sent_at).exists()


def test_the_ab_test_says_what_its_figures_say(seeded):
    test = Campaign.objects.exclude(ab_test="").get()
    figures = services.variant_figures(test)
    assert set(figures) == {"a", "b", "rest"}
    assert test.ab_decision["verdict"] == services.ab_comparison(test).verdict()
    assert set(Message.objects.filter(campaign=test, in_test=False).values_list("variant", flat=True)) == {
        test.ab_winner or "a"
    }


def test_flows_are_on_with_their_codes_and_a_history_that_follows_the_orders(seeded):
    on = set(Flow.objects.filter(enabled=True).values_list("trigger", flat=True))
    assert {"welcome", "abandoned_cart", "post_purchase", "birthday", "winback"} <= on
    assert not Flow.objects.filter(enabled=True, steps__body_html__contains="code", steps__promotion_id=None).exists()
    for run in FlowRun.objects.filter(flow__trigger="post_purchase").select_related("user")[:100]:
        assert run.context["order_id"] and Consent.objects.filter(user=run.user, channel="email", given=True).exists()


def test_the_demo_shopper_has_a_message_in_the_store_and_the_panel_has_its_figures(seeded, client):
    from shop.accounts.models import User

    client.force_login(User.objects.get(email="shopper@example.com"))
    assert "double points on everything" in client.get("/account/").content.decode()
    assert DailyFigure.objects.filter(measure="messages_sent", dimension="campaign").exists()
