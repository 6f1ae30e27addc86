"""The orders' part of an erasure: orders kept for the books, without who they were for."""

import pytest
from django.utils import timezone

from shop.accounts.privacy import customer_erase
from shop.orders.models import OrderEmail, OrderLine
from shop.orders.privacy import OrderData
from tests.factories import OrderFactory, UserFactory
from tests.shop.accounts.privacy_helpers import order_for

pytestmark = pytest.mark.django_db


def test_it_keeps_the_order_and_its_amounts(customer):
    order = order_for(customer)

    customer_erase(user=customer, requested_by="self")

    order.refresh_from_db()
    assert (order.status, order.total, order.subtotal, order.shipping_total) == ("delivered", 45, 40, 5)
    assert order.user_id == customer.pk
    assert OrderLine.objects.filter(order=order, name="Walnut desk lamp").exists()
    assert order.events.count() == 1 and order.adjustments.count() == 1


def test_it_takes_who_and_exactly_where_off_the_order(customer):
    order = order_for(customer)

    customer_erase(user=customer, requested_by="self")

    order.refresh_from_db()
    assert order.email == f"erased-{customer.pk}@invalid"
    assert (order.shipping_name, order.shipping_line1, order.shipping_line2) == ("", "", "")
    assert (order.shipping_postal_code, order.shipping_phone) == ("", "")
    assert (order.shipping_city, order.shipping_region, order.shipping_country) == ("Austin", "TX", "US")


def test_it_drops_the_emails_not_sent_yet(customer):
    order = order_for(customer)
    waiting = OrderEmail.objects.create(order=order, kind="refunded", reference="r1")
    sent = OrderEmail.objects.create(order=order, kind="confirmation", sent_at=timezone.now())

    customer_erase(user=customer, requested_by="self")

    assert not OrderEmail.objects.filter(pk=waiting.pk).exists()
    assert OrderEmail.objects.filter(pk=sent.pk).exists()


def test_it_leaves_a_guest_order_with_the_same_email_alone(customer):
    # A guest order is not proven to be the account's: the email was never confirmed for it.
    guest = OrderFactory(user=None, email=customer.email, placed_at=timezone.now())

    customer_erase(user=customer, requested_by="self")

    guest.refresh_from_db()
    assert guest.email == "owner@example.org" and guest.shipping_name == "Ada"


def test_it_exports_only_the_customers_orders(customer):
    mine = order_for(customer)
    order_for(UserFactory())

    exported = OrderData().export(customer)

    assert [order["number"] for order in exported] == [mine.number]
    assert exported[0]["shipping_address"]["line1"] == "12 Private Lane"


def test_it_names_the_orders_in_progress(customer):
    order_for(customer, status="shipped", number="SHIPPED1")
    order_for(customer, status="delivered", number="DONE0001")

    reason = OrderData().blocks_erasure(customer)

    assert "SHIPPED1" in reason and "DONE0001" not in reason
