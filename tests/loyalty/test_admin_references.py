"""The ledger's references ("signup", "birthday:2026", "review:<product>", "referral:<id>") read as words."""

import pytest
from django.urls import reverse

from loyalty import services
from loyalty.models import LedgerEntry, Reason
from tests.factories import ProductFactory, UserFactory
from tests.loyalty.helpers import rules

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def page_of(client, entry) -> str:
    return client.get(reverse("admin:loyalty_ledgerentry_change", args=[entry.pk])).content.decode()


def test_a_rewards_reference_reads_as_what_it_was_for(admin_client):
    rules(is_active=True)
    user = UserFactory()
    lamp = ProductFactory(name="Brass Lamp")
    signup = services.reward(user_id=user.pk, reason=Reason.SIGNUP, points=50, reference="signup")
    birthday = services.reward(user_id=user.pk, reason=Reason.BIRTHDAY, points=20, reference="birthday:2026")
    review = services.reward(
        user_id=user.pk, reason=Reason.REVIEW, points=10, reference=f"review:{lamp.pk}", data={"product": lamp.name}
    )

    assert "Sign-up bonus" in page_of(admin_client, signup)
    assert "Birthday bonus for 2026" in page_of(admin_client, birthday)
    html = page_of(admin_client, review)
    assert f'Review of <a href="{reverse("admin:catalog_product_change", args=[lamp.pk])}">Brass Lamp</a>' in html
    assert f"review:{lamp.pk}" not in html and "birthday:2026" not in page_of(admin_client, birthday)


def test_an_unknown_reference_is_shown_as_it_is(admin_client):
    rules(is_active=True)
    entry = services.reward(user_id=UserFactory().pk, reason=Reason.SIGNUP, points=5, reference="campaign-x")

    assert "campaign-x" in page_of(admin_client, entry)
    assert LedgerEntry.objects.count() == 1
