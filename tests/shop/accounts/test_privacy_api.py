"""GET /api/v1/account/data/ and POST /api/v1/account/erase/, and their place in the schema."""

import pytest
from django.conf import settings
from django.test import Client

from shop.accounts.models import Erasure, User
from tests.shop.accounts.privacy_helpers import customer_with_everything, order_for

pytestmark = pytest.mark.django_db

DATA = "/api/v1/account/data/"
ERASE = "/api/v1/account/erase/"


@pytest.fixture
def owner():
    return customer_with_everything("owner@example.org")


def test_it_answers_the_export_as_json(owner, api_as):
    response = api_as(owner.user).get(DATA)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["format_version"] == 1
    assert body["sections"]["orders"]["data"][0]["total"] == "45.00"  # money as a decimal string
    assert body["sections"]["account"]["data"]["email"] == "owner@example.org"


def test_it_exports_nobody_elses_data(owner, api_as):
    stranger = customer_with_everything("stranger@example.org")

    text = api_as(owner.user).get(DATA).content.decode()

    assert "stranger@example.org" not in text and stranger.order.number not in text


def test_it_answers_401_to_anonymous_clients(api):
    assert api.get(DATA).status_code == 401
    assert api.post(ERASE, {"password": "x"}, format="json").status_code == 401


def test_it_limits_exports_per_account(owner, api_as):
    client = api_as(owner.user)
    limit, _period = settings.SHOP_DATA_EXPORTS_PER_ACCOUNT
    for _ in range(limit):
        assert client.get(DATA).status_code == 200

    refused = client.get(DATA)

    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"


def test_it_erases_with_the_password(owner, api_as, password):
    client = api_as(owner.user)

    response = client.post(ERASE, {"password": password}, format="json")

    assert response.status_code == 204
    user = User.objects.get(pk=owner.user.pk)
    assert not user.is_active and user.email == f"erased-{user.pk}@invalid"
    assert client.get(DATA).status_code == 401  # the token went with the account


def test_it_refuses_a_wrong_password(owner, api_as):
    response = api_as(owner.user).post(ERASE, {"password": "wrong"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["password"] == ["That is not your password."]
    assert not Erasure.objects.exists()


def test_it_answers_409_with_the_blocker(owner, api_as, password):
    order_for(owner.user, status="pending_payment", number="UNPAID22")

    response = api_as(owner.user).post(ERASE, {"password": password}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "erasure_blocked"
    assert "UNPAID22" in response.json()["detail"]
    assert User.objects.get(pk=owner.user.pk).is_active


def test_it_documents_both_operations_with_their_errors():
    schema = Client().get("/api/v1/schema/?format=json").json()

    export = schema["paths"][DATA]["get"]["responses"]
    erase = schema["paths"][ERASE]["post"]["responses"]
    assert {"200", "401", "429"} <= set(export)
    assert {"204", "400", "401", "409", "429"} <= set(erase)
    assert "erasure_blocked" in erase["409"]["description"]
