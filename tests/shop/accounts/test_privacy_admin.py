"""The customers admin's "Erase personal data" action: a confirmation with the blockers, then the
same erasure as the customer's own, recorded as staff's."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from shop.accounts.models import Erasure, User
from tests.factories import UserFactory
from tests.shop.accounts.privacy_helpers import customer_with_everything, order_for

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:accounts_user_changelist")


def act(client, users, *, apply=False):
    data = {"action": "erase_personal_data", ACTION_CHECKBOX_NAME: [u.pk for u in users]}
    if apply:
        data["apply"] = "1"
    return client.post(CHANGELIST, data)


@pytest.fixture
def owner():
    return customer_with_everything("owner@example.org")


def test_it_asks_for_confirmation_first(owner, admin_client):
    page = act(admin_client, [owner.user])

    assert page.status_code == 200
    assert "What erasing does" in page.content.decode()
    assert User.objects.get(pk=owner.user.pk).is_active


def test_it_lists_the_blockers_and_erases_the_others(owner, admin_client):
    busy = UserFactory(email="busy@example.org")
    order_for(busy, status="paid", number="BUSY0001")

    page = act(admin_client, [owner.user, busy]).content.decode()
    assert "BUSY0001" in page and "Erase 1 account" in page

    act(admin_client, [owner.user, busy], apply=True)

    assert not User.objects.get(pk=owner.user.pk).is_active
    assert User.objects.get(pk=busy.pk).is_active


def test_it_records_staff_as_the_requester(owner, client, staff):
    client.force_login(staff)

    act(client, [owner.user], apply=True)

    erasure = Erasure.objects.get(customer_id=owner.user.pk)
    assert (erasure.by, erasure.staff) == ("staff", staff)


def test_it_is_offered_only_with_the_change_permission(owner, client):
    viewer = UserFactory(email="viewer@example.org", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(viewer)

    page = client.get(CHANGELIST).content.decode()
    assert "erase_personal_data" not in page

    act(client, [owner.user], apply=True)
    assert User.objects.get(pk=owner.user.pk).is_active
