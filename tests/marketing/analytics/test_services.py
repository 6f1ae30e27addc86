"""What other apps write to the event log: past events, with their visit's device and source."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from marketing.analytics import services
from marketing.analytics.models import DailyFigure, Event
from shop.core.errors import ShopError
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_a_past_event_of_a_known_visit_takes_its_device_and_source():
    visit, product = uuid.uuid4(), ProductFactory()
    at = timezone.now() - dt.timedelta(days=3)
    Event.objects.create(name="page_view", at=at, day=at.date(), visit=visit, device="mobile", source="Google",
                         medium="organic")  # fmt: skip
    written = services.events_record([
        {"name": "select_item", "at": at, "visit": visit, "product_id": product.pk, "data": {"list": "rec:for_you"}},
        {"name": "view_item", "at": at, "visit": uuid.uuid4(), "product_id": product.pk},
    ])  # fmt: skip
    assert written == 2
    chosen = Event.objects.get(name="select_item")
    assert (chosen.device, chosen.source, chosen.medium) == ("mobile", "Google", "organic")
    assert chosen.data == {"list": "rec:for_you"} and chosen.day == at.date()
    assert Event.objects.get(name="view_item").device == "other"  # an unknown visit keeps the defaults


def test_an_unknown_event_refuses_the_whole_batch():
    at = timezone.now()
    with pytest.raises(ShopError, match="Unknown events: bought_a_yacht"):
        services.events_record([{"name": "view_item", "at": at}, {"name": "bought_a_yacht", "at": at}])
    assert not Event.objects.exists()


def test_the_days_figures_are_built_again():
    day = timezone.localdate() - dt.timedelta(days=5)
    assert services.figures_rebuild(day, day + dt.timedelta(days=1)) > 0
    assert DailyFigure.objects.filter(day=day).exists()
