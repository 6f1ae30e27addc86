"""A busy database (SQLite's write lock held by an import, PostgreSQL's lock timeout) is a 503, never a 500."""

import sqlite3
from decimal import Decimal
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from shop.cart.models import CartLine
from shop.core.middleware import is_database_busy
from tests.factories import ProductFactory

ADD = reverse("cart:add")
API_ADD = "/api/v1/cart/items/"
LOCKED = OperationalError("database is locked")


@pytest.fixture
def product(db):
    return ProductFactory(name="Linen Shirt", slug="linen-shirt", price=Decimal("25.00"), stock=5)


def assert_busy(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"


def test_a_locked_database_on_a_page_is_a_friendly_503(client, product):
    with mock.patch("shop.cart.services.cart_add", side_effect=LOCKED):
        response = client.post(ADD, {"product": product.pk, "quantity": 1})

    assert_busy(response)
    body = response.content.decode()
    assert "The store is very busy right now. Please try again in a few seconds." in body
    assert "database is locked" not in body


def test_a_locked_database_on_the_api_is_a_503_in_the_error_shape(client, product):
    with mock.patch("shop.cart.services.cart_add", side_effect=LOCKED):
        response = client.post(API_ADD, {"product": "linen-shirt", "quantity": 1}, content_type="application/json")

    assert_busy(response)
    assert response.json() == {
        "detail": "The store is very busy right now. Please try again in a few seconds.",
        "code": "busy",
    }


def test_a_lock_met_while_saving_the_session_on_the_way_out_is_a_503_too(product):
    # Raised by the session middleware after the view: Django has already made a 500 of it.
    client = Client(raise_request_exception=False)
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.save", side_effect=LOCKED):
        response = client.post(ADD, {"product": product.pk, "quantity": 1})

    assert_busy(response)


def test_other_database_errors_are_not_disguised(client, product):
    with (
        mock.patch("shop.cart.services.cart_add", side_effect=OperationalError("no such table: cart_cart")),
        pytest.raises(OperationalError),
    ):
        client.post(ADD, {"product": product.pk, "quantity": 1})


def test_it_recognises_postgresqls_lock_timeout():
    class LockNotAvailable(Exception):
        sqlstate = "55P03"

    error = OperationalError("canceling statement due to lock timeout")
    error.__cause__ = LockNotAvailable()

    assert is_database_busy(error)
    assert not is_database_busy(OperationalError("server closed the connection unexpectedly"))
    assert not is_database_busy(ValueError("database is locked"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's whole-database write lock is what this reproduces")
def test_add_to_cart_while_another_process_holds_the_write_lock_is_a_503_then_works(client, product):
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout = 200")  # instead of 20 s, to keep the test short
    importer = sqlite3.connect(connection.settings_dict["NAME"], timeout=1, isolation_level=None)
    importer.execute("BEGIN IMMEDIATE")  # what a long import transaction did
    try:
        response = client.post(ADD, {"product": product.pk, "quantity": 1})
    finally:
        importer.execute("ROLLBACK")
        importer.close()

    assert_busy(response)
    assert not CartLine.objects.exists()
    again = client.post(ADD, {"product": product.pk, "quantity": 1})
    assert again.status_code == 302
    assert CartLine.objects.get().quantity == 1
