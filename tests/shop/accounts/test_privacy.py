"""The seam runner (shop/accounts/privacy.py): the download's content and the erasure's effects on
every table, with a customer who has something everywhere and a stranger who must stay untouched."""

import json

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.authtoken.models import Token

from shop.accounts import privacy
from shop.accounts.models import Address, Erasure, Profile, User
from shop.accounts.privacy import ErasureBlocked, customer_data_export, customer_erase
from shop.core.errors import Conflict
from tests.factories import StaffFactory
from tests.shop.accounts.privacy_helpers import customer_with_everything, order_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return customer_with_everything("owner@example.org")


@pytest.fixture
def other():
    return customer_with_everything("stranger@example.org")


def test_it_exports_a_section_per_part_with_a_header(owner):
    document = customer_data_export(user=owner.user)

    assert document["format_version"] == privacy.FORMAT_VERSION
    assert document["store"] and document["exported_at"]
    assert list(document["sections"]) == [
        "account",
        "orders",
        "cart",
        "reviews",
        "loyalty",
        "ad_board",
        "analytics",
        "marketing_messages",
        "assistant",
    ]
    json.dumps(document)  # plain JSON all through


def test_it_exports_what_each_part_holds(owner):
    sections = {key: value["data"] for key, value in customer_data_export(user=owner.user)["sections"].items()}

    assert sections["account"]["email"] == "owner@example.org"
    assert sections["account"]["profile"]["birthday"] == "1990-04-02"
    assert sections["account"]["addresses"][0]["line1"] == "12 Private Lane"
    [order] = sections["orders"]
    assert order["number"] == owner.order.number and order["total"] == "45.00"
    assert order["lines"][0]["name"] == "Walnut desk lamp"
    assert order["adjustments"][0]["label"] == "Standard delivery"
    assert order["timeline"][0]["event"] == "placed"
    assert sections["cart"][0]["product"] == "Linen cushion"
    assert sections["reviews"]["reviews"][0]["title"] == "Lovely lamp"
    assert sections["loyalty"]["account"]["balance"] == 300
    assert sections["ad_board"]["ads"][0]["title"] == "Oak bookshelf"
    assert [c["messages_written"][0]["body"] for c in sections["ad_board"]["conversations"]] == [
        "Yes, come by after six.",
        "Does it have lights?",
    ]
    assert sections["ad_board"]["ratings_given"][0]["comment"] == "Olive says: quick answers."
    assert sections["ad_board"]["saved_searches"][0]["name"] == "Lamps"
    assert {event["name"] for event in sections["analytics"]["events"]} == {"view_item", "page_view"}
    assert sections["analytics"]["score"]["segment"] == "new"


def test_it_leaves_the_consent_to_marketing_out_of_the_profile(owner):
    profile = customer_data_export(user=owner.user)["sections"]["account"]["data"]["profile"]

    assert "marketing_consent" not in profile and "marketing_consent_at" not in profile


def test_it_never_exports_another_customers_data(owner, other):
    text = json.dumps(customer_data_export(user=owner.user))

    assert "stranger@example.org" not in text
    assert other.order.number not in text
    # The other member's message in the customer's conversation is theirs, not the customer's.
    assert "Is it still there?" not in text


def test_it_erases_the_account_row(owner):
    customer_erase(user=owner.user, requested_by="self")

    user = User.objects.get(pk=owner.user.pk)
    assert user.email == f"erased-{user.pk}@invalid"
    assert (user.first_name, user.last_name, user.is_active) == ("", "", False)
    assert not user.has_usable_password()
    assert not Profile.objects.filter(user=user).exists()
    assert not Address.objects.filter(user=user).exists()
    assert not Token.objects.filter(user=user).exists()


def test_it_records_the_erasure_without_personal_data(owner):
    staff = StaffFactory()

    erasure = customer_erase(user=owner.user, requested_by="staff", staff=staff)

    erasure.refresh_from_db()
    assert (erasure.customer_id, erasure.by, erasure.staff) == (owner.user.pk, "staff", staff)
    assert "owner" not in str(erasure)


def test_it_leaves_another_customer_untouched(owner, other):
    customer_erase(user=owner.user, requested_by="self")

    other.user.refresh_from_db()
    assert other.user.email == "stranger@example.org" and other.user.is_active
    assert Profile.objects.filter(user=other.user).exists()
    assert customer_data_export(user=other.user)["sections"]["loyalty"]["data"]["account"]["balance"] == 300


def test_it_refuses_an_account_with_an_order_in_progress(owner):
    order_for(owner.user, status="paid", number="INPROG01")

    with pytest.raises(ErasureBlocked) as refused:
        customer_erase(user=owner.user, requested_by="self")

    assert "INPROG01" in refused.value.message
    owner.user.refresh_from_db()
    assert owner.user.is_active and owner.user.email == "owner@example.org"
    assert not Erasure.objects.exists()


@pytest.mark.parametrize("status", ["pending_payment", "payment_failed", "paid", "shipped"])
def test_it_counts_every_unfinished_order_as_in_progress(status, customer):
    order_for(customer, status=status)

    assert privacy.erasure_blockers(user=customer)


@pytest.mark.parametrize("status", ["delivered", "cancelled", "expired", "refunded"])
def test_it_lets_finished_orders_be(status, customer):
    order_for(customer, status=status)

    assert privacy.erasure_blockers(user=customer) == []


def test_it_refuses_a_staff_account(staff):
    with pytest.raises(ErasureBlocked):
        customer_erase(user=staff, requested_by="self")


def test_it_erases_an_account_once(owner):
    customer_erase(user=owner.user, requested_by="self")

    with pytest.raises(Conflict):
        customer_erase(user=owner.user, requested_by="staff")
    assert Erasure.objects.count() == 1


def test_it_rolls_everything_back_when_a_part_fails(owner, monkeypatch):
    from marketing.analytics.privacy import AnalyticsData

    def broken(self, user):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(AnalyticsData, "erase", broken)

    with pytest.raises(RuntimeError):
        customer_erase(user=owner.user, requested_by="self")

    owner.order.refresh_from_db()
    assert owner.order.shipping_name == "Olive Owner"  # the orders' part ran first, and was undone
    assert User.objects.get(pk=owner.user.pk).is_active
    assert not Erasure.objects.exists()


def test_it_ends_the_customers_sessions_and_no_one_elses(owner, other, password):
    mine, theirs = Client(), Client()
    mine.force_login(owner.user)
    theirs.force_login(other.user)

    customer_erase(user=owner.user, requested_by="self")

    holders = [s.get_decoded().get(SESSION_KEY) for s in Session.objects.all()]
    assert str(owner.user.pk) not in holders and str(other.user.pk) in holders
    assert mine.get("/account/").status_code == 302  # logged out
    assert theirs.get("/account/").status_code == 200
