"""The "Your data" pages: the download as a JSON file, the erasure with its password and blockers."""

import json

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from shop.accounts.models import Erasure, User
from tests.factories import UserFactory
from tests.shop.accounts.privacy_helpers import customer_with_everything, order_for

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")
DATA = reverse("accounts:data")
DOWNLOAD = reverse("accounts:data_download")
ERASE = reverse("accounts:data_erase")
ERASED = reverse("accounts:erased")
EXPORTS, _HOUR = settings.SHOP_DATA_EXPORTS_PER_ACCOUNT


@pytest.fixture
def owner(client):
    found = customer_with_everything("owner@example.org")
    client.force_login(found.user)
    return found


def test_it_links_the_data_page_from_the_account_page(owner, client):
    page = client.get(PROFILE).content.decode()

    assert 'aria-labelledby="data-title"' in page and f'href="{DATA}"' in page


def test_it_downloads_everything_as_a_json_file(owner, client):
    response = client.post(DOWNLOAD)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    assert response["Content-Disposition"].endswith('.json"')
    sections = json.loads(response.content)["sections"]
    assert sections["orders"]["data"][0]["number"] == owner.order.number
    assert sections["loyalty"]["data"]["account"]["balance"] == 300
    assert sections["ad_board"]["data"]["ads"][0]["title"] == "Oak bookshelf"
    assert sections["analytics"]["data"]["events"]


def test_it_downloads_only_the_customers_own_data(owner, client):
    stranger = customer_with_everything("stranger@example.org")

    text = client.post(DOWNLOAD).content.decode()

    assert "stranger@example.org" not in text and stranger.order.number not in text


def test_it_sends_visitors_to_log_in(client):
    for url in (DATA, DOWNLOAD, ERASE):
        response = client.post(url) if url != DATA else client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_it_refuses_a_download_with_get(owner, client):
    assert client.get(DOWNLOAD).status_code == 405


def test_it_limits_downloads_per_account(owner, client):
    for _ in range(EXPORTS):
        assert client.post(DOWNLOAD).status_code == 200

    refused = client.post(DOWNLOAD)

    assert refused.status_code == 429
    assert "Wait an hour" in refused.content.decode()


def test_it_counts_downloads_per_account_not_per_client(owner, client):
    for _ in range(EXPORTS):
        client.post(DOWNLOAD)
    other = UserFactory()
    client.force_login(other)

    assert client.post(DOWNLOAD).status_code == 200


def test_it_says_what_erasing_deletes_and_keeps(owner, client):
    page = client.get(DATA).content.decode()

    assert "What erasing does" in page
    assert "The orders themselves, for our accounts" in page
    assert 'autocomplete="current-password"' in page


def test_it_erases_the_account_with_the_password(owner, client, password):
    response = client.post(ERASE, {"password": password})

    assert response.status_code == 302 and response["Location"] == ERASED
    assert SESSION_KEY not in client.session
    user = User.objects.get(pk=owner.user.pk)
    assert not user.is_active and user.email == f"erased-{user.pk}@invalid"
    assert Erasure.objects.get(customer_id=user.pk).by == "self"
    owner.order.refresh_from_db()
    assert owner.order.total == 45 and owner.order.shipping_name == ""


def test_it_shows_the_confirmation_after_erasing(owner, client, password):
    page = client.post(ERASE, {"password": password}, follow=True)

    assert page.status_code == 200
    assert "Your account is erased" in page.content.decode()


def test_it_refuses_a_wrong_password(owner, client):
    response = client.post(ERASE, {"password": "not it"})

    assert response.status_code == 400
    assert "That is not your password." in response.content.decode()
    assert User.objects.get(pk=owner.user.pk).is_active
    assert not Erasure.objects.exists()


def test_it_limits_erasure_attempts(owner, client, password):
    limit, _period = settings.SHOP_ERASURES_PER_ACCOUNT
    for _ in range(limit):
        client.post(ERASE, {"password": "not it"})

    refused = client.post(ERASE, {"password": password})

    assert refused.status_code == 429
    assert User.objects.get(pk=owner.user.pk).is_active


def test_it_shows_the_blockers_instead_of_the_form(owner, client):
    order_for(owner.user, status="shipped", number="ONITSWAY")

    page = client.get(DATA).content.decode()

    assert "cannot be erased yet" in page and "ONITSWAY" in page
    assert 'name="password"' not in page


def test_it_refuses_to_erase_while_an_order_is_in_progress(owner, client, password):
    order_for(owner.user, status="paid", number="ONITSWAY")

    response = client.post(ERASE, {"password": password})

    assert response.status_code == 409
    assert "ONITSWAY" in response.content.decode()
    assert User.objects.get(pk=owner.user.pk).is_active
