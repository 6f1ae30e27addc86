"""The page script tells the store what only the browser knows: products seen and chosen."""

import time

import pytest
from playwright.sync_api import Page

from marketing.analytics import recorder
from marketing.analytics.models import Event
from tests.factories import ProductFactory, ProductImageFactory


@pytest.fixture
def recording(settings):
    settings.ANALYTICS_RECORDING = True
    recorder._paused_until = 0.0


def wait_for(query, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if query.exists():
            return True
        time.sleep(0.1)
    return False


def test_a_shopper_s_list_and_choice_reach_the_event_log(page: Page, live_server, recording):
    products = [ProductFactory(name=f"Lamp {n}") for n in range(3)]
    for product in products:
        ProductImageFactory(product=product)
    page.goto("/products/")
    card = page.locator("[data-list] [data-product]").first
    chosen = int(card.get_attribute("data-product"))
    card.locator("a").first.click()
    page.wait_for_url("**/product/**")
    assert wait_for(Event.objects.filter(name="select_item", product_id=chosen, data__list="all"))
    seen = Event.objects.filter(name="view_item_list", data__has_key="items").first()
    assert seen is not None and chosen in seen.data["items"]
    visits = set(Event.objects.values_list("visit", flat=True))
    assert len(visits) == 1  # the page, the beacon and the product page: one visit
