"""The demo's visits on a store whose log already knows some orders (an imported log's swept purchases).

A module of its own: test_demo.py's module-wide demo store would already have its visits."""

import datetime as dt
import io

import pytest

from marketing.analytics import demo
from marketing.analytics.models import Event, OrderVisit
from shop.core.demo import DemoContext
from tests.factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_orders_the_log_already_knows_get_no_made_up_visit():
    """A store with imported orders (their purchases swept into the log) can still be given the demo's visits."""
    ProductFactory()
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    imported, plain = (OrderFactory(placed_at=now, paid_at=now) for _n in range(2))
    Event.objects.create(name="purchase", order=imported, at=now, day=now.date())  # as the sweep records it
    demo.seed(DemoContext(out=io.StringIO()))
    assert Event.objects.filter(order=imported).count() == 1  # its swept purchase only
    assert OrderVisit.objects.filter(order=plain).exists() and not OrderVisit.objects.filter(order=imported).exists()
