"""GET/PATCH /api/v1/account/ and /api/v1/account/addresses/ (CRUD, owner only)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shop.accounts.models import Address, Consent, ConsentChange, Profile
from tests.factories import AddressFactory, ProfileFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "/api/v1/account/"
ADDRESSES = "/api/v1/account/addresses/"


def address_url(address) -> str:
    return f"{ADDRESSES}{address.pk}/"


NEW_ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "gb",
}


# --- profile ------------------------------------------------------------------------------------


def test_it_asks_an_anonymous_client_to_log_in_for_the_profile(api):
    assert api.get(ACCOUNT).status_code in (401, 403)
    assert api.patch(ACCOUNT, {"city": "Nowhere"}, format="json").status_code in (401, 403)
    assert not Profile.objects.exists()


def test_it_shows_the_customers_own_profile(api_as, customer, stranger):
    ProfileFactory(user=customer, city="Lyon", region="", country="FR", birthday=datetime.date(1990, 5, 17))
    ProfileFactory(user=stranger, city="Oslo", country="NO")

    response = api_as(customer).get(ACCOUNT)

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "owner@example.org"
    assert (body["city"], body["country"], body["birthday"]) == ("Lyon", "FR", "1990-05-17")
    assert body["marketing_consent"] is False


def test_it_creates_a_missing_profile_with_consent_off(api_as, customer):
    response = api_as(customer).get(ACCOUNT)

    assert response.status_code == 200
    assert response.json()["marketing_consent"] is False
    assert Profile.objects.filter(user=customer).exists()
    assert not Consent.objects.filter(user=customer, given=True).exists()


def test_it_updates_the_profile(api_as, customer):
    response = api_as(customer).patch(
        ACCOUNT,
        {
            "first_name": "Ann",
            "last_name": "Lee",
            "birthday": "1985-02-28",
            "gender": "female",
            "city": "Porto",
            "region": "Norte",
            "country": "pt",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["country"] == "PT"
    customer.refresh_from_db()
    profile = Profile.objects.get(user=customer)
    assert (customer.first_name, customer.last_name) == ("Ann", "Lee")
    assert (profile.birthday, profile.gender, profile.city, profile.region, profile.country) == (
        datetime.date(1985, 2, 28),
        "female",
        "Porto",
        "Norte",
        "PT",
    )


def test_it_leaves_fields_not_sent_alone(api_as, customer):
    ProfileFactory(user=customer, city="Lyon", country="FR")
    customer.first_name = "Kept"
    customer.save()

    api_as(customer).patch(ACCOUNT, {"region": "Rhône"}, format="json")

    customer.refresh_from_db()
    profile = Profile.objects.get(user=customer)
    assert (customer.first_name, profile.city, profile.country, profile.region) == ("Kept", "Lyon", "FR", "Rhône")


def test_it_records_when_marketing_consent_is_given_and_withdrawn(api_as, customer):
    client = api_as(customer)

    given = client.patch(ACCOUNT, {"marketing_consent": True}, format="json")
    assert given.json()["marketing_consent"] is True
    consent = Consent.objects.get(user=customer, channel="email")
    assert consent.given is True

    withdrawn = client.patch(ACCOUNT, {"marketing_consent": False}, format="json")
    assert withdrawn.json()["marketing_consent"] is False
    consent.refresh_from_db()
    assert consent.given is False
    history = list(ConsentChange.objects.filter(user=customer).order_by("at", "id").values_list("given", "source"))
    assert history == [(True, "api"), (False, "api")]


def test_it_does_not_let_the_email_be_changed_through_the_profile(api_as, customer):
    response = api_as(customer).patch(ACCOUNT, {"email": "evil@example.org"}, format="json")

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.email == "owner@example.org"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"country": "USA"}, "country"),
        ({"gender": "robot"}, "gender"),
        ({"birthday": "31/12/1990"}, "birthday"),
        ({"birthday": "1990-02-30"}, "birthday"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"marketing_consent": "perhaps"}, "marketing_consent"),
        ({"phone": "555-0100"}, "phone"),
    ],
)
def test_it_rejects_bad_profile_input_with_a_message_per_field(api_as, customer, data, field):
    ProfileFactory(user=customer, city="Lyon", country="FR")

    response = api_as(customer).patch(ACCOUNT, data, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][field][0]
    profile = Profile.objects.get(user=customer)
    assert (profile.country, profile.gender, profile.birthday) == ("FR", "", None)
    assert not Consent.objects.filter(user=customer).exists()


@pytest.mark.parametrize("persona", ["stranger", "staff"])
def test_it_changes_only_the_callers_own_profile(request, api_as, customer, persona):
    ProfileFactory(user=customer, city="Lyon", country="FR")
    other = request.getfixturevalue(persona)

    response = api_as(other).patch(ACCOUNT, {"city": "Oslo", "first_name": "Mallory"}, format="json")

    assert response.status_code == 200
    assert response.json()["email"] == other.email
    customer.refresh_from_db()
    assert customer.first_name != "Mallory"
    assert Profile.objects.get(user=customer).city == "Lyon"
    assert Profile.objects.get(user=other).city == "Oslo"


# --- addresses: the three personas --------------------------------------------------------------


@pytest.fixture
def owner_address(customer):
    return AddressFactory(user=customer, city="Portland", is_default=True)


def test_it_asks_an_anonymous_client_to_log_in_for_addresses(api, owner_address):
    assert api.get(ADDRESSES).status_code in (401, 403)
    assert api.post(ADDRESSES, NEW_ADDRESS, format="json").status_code in (401, 403)
    assert api.get(address_url(owner_address)).status_code in (401, 403)
    assert api.patch(address_url(owner_address), {"city": "X"}, format="json").status_code in (401, 403)
    assert api.delete(address_url(owner_address)).status_code in (401, 403)
    owner_address.refresh_from_db()
    assert owner_address.city == "Portland"
    assert Address.objects.count() == 1


def test_it_lists_only_the_owners_addresses(api_as, customer, stranger, owner_address):
    AddressFactory(user=stranger)

    response = api_as(customer).get(ADDRESSES)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [a["id"] for a in body["results"]] == [owner_address.pk]


@pytest.mark.parametrize("persona", ["stranger", "staff"])
def test_it_never_lists_the_owners_addresses_to_others(request, api_as, owner_address, persona):
    body = api_as(request.getfixturevalue(persona)).get(ADDRESSES).json()

    assert body["count"] == 0
    assert body["results"] == []


@pytest.mark.parametrize("persona", ["stranger", "staff"])
def test_it_answers_404_for_someone_elses_address(request, api_as, owner_address, persona):
    client = api_as(request.getfixturevalue(persona))
    url = address_url(owner_address)

    assert client.get(url).status_code == 404
    assert client.patch(url, {"city": "Hacked"}, format="json").status_code == 404
    assert client.put(url, {**NEW_ADDRESS, "city": "Hacked"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    owner_address.refresh_from_db()
    assert (owner_address.city, owner_address.user_id, owner_address.is_default) == (
        "Portland",
        request.getfixturevalue("customer").pk,
        True,
    )


@pytest.mark.parametrize("persona", ["stranger", "staff"])
def test_it_does_not_let_others_take_the_owners_default(request, api_as, owner_address, persona):
    other = request.getfixturevalue(persona)
    theirs = AddressFactory(user=other)

    response = api_as(other).patch(address_url(theirs), {"is_default": True}, format="json")

    assert response.status_code == 200
    owner_address.refresh_from_db()
    assert owner_address.is_default is True


# --- addresses: the owner's CRUD ----------------------------------------------------------------


def test_it_creates_an_address_for_the_caller_and_makes_the_first_one_default(api_as, customer, stranger):
    response = api_as(customer).post(ADDRESSES, {**NEW_ADDRESS, "user": stranger.pk}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["country"] == "GB"
    assert body["is_default"] is True
    address = Address.objects.get(pk=body["id"])
    assert (address.user, address.city, address.country, address.is_default) == (customer, "London", "GB", True)


def test_it_moves_the_default_to_a_new_default_address(api_as, customer, owner_address):
    response = api_as(customer).post(ADDRESSES, {**NEW_ADDRESS, "is_default": True}, format="json")

    assert response.status_code == 201
    owner_address.refresh_from_db()
    assert owner_address.is_default is False
    assert Address.objects.get(pk=response.json()["id"]).is_default is True


def test_it_keeps_the_default_when_a_second_address_is_added(api_as, customer, owner_address):
    response = api_as(customer).post(ADDRESSES, NEW_ADDRESS, format="json")

    assert response.json()["is_default"] is False
    owner_address.refresh_from_db()
    assert owner_address.is_default is True


def test_it_shows_one_address(api_as, customer, owner_address):
    response = api_as(customer).get(address_url(owner_address))

    assert response.status_code == 200
    assert response.json()["city"] == "Portland"


def test_it_updates_an_address(api_as, customer, owner_address):
    response = api_as(customer).patch(address_url(owner_address), {"city": "Salem", "phone": "555"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["city"] == "Salem"
    owner_address.refresh_from_db()
    assert (owner_address.city, owner_address.phone, owner_address.is_default) == ("Salem", "555", True)


def test_it_makes_an_existing_address_the_default(api_as, customer, owner_address):
    second = AddressFactory(user=customer)

    response = api_as(customer).patch(address_url(second), {"is_default": True}, format="json")

    assert response.status_code == 200
    assert response.json()["is_default"] is True
    second.refresh_from_db()
    owner_address.refresh_from_db()
    assert (second.is_default, owner_address.is_default) == (True, False)


def test_it_deletes_an_address(api_as, customer, owner_address):
    response = api_as(customer).delete(address_url(owner_address))

    assert response.status_code == 204
    assert not Address.objects.filter(pk=owner_address.pk).exists()


def test_it_answers_404_for_an_address_id_that_does_not_exist(api_as, customer, owner_address):
    assert api_as(customer).get(f"{ADDRESSES}{owner_address.pk + 1000}/").status_code == 404
    assert api_as(customer).get(f"{ADDRESSES}abc/").status_code == 404


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**NEW_ADDRESS, "country": "ZZ"}, "country"),
        ({**NEW_ADDRESS, "country": ""}, "country"),
        ({k: v for k, v in NEW_ADDRESS.items() if k != "line1"}, "line1"),
        ({**NEW_ADDRESS, "full_name": ""}, "full_name"),
        ({**NEW_ADDRESS, "postal_code": "x" * 21}, "postal_code"),
    ],
)
def test_it_rejects_a_bad_address_with_a_message_per_field(api_as, customer, data, field):
    response = api_as(customer).post(ADDRESSES, data, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["errors"][field][0]
    assert not Address.objects.exists()


def test_it_rejects_a_bad_country_on_update(api_as, customer, owner_address):
    response = api_as(customer).patch(address_url(owner_address), {"country": "Neverland"}, format="json")

    assert response.status_code == 400
    owner_address.refresh_from_db()
    assert owner_address.country == "US"


# --- query counts -------------------------------------------------------------------------------


def address_queries(client, page_size: int) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(ADDRESSES, {"page_size": page_size})
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["results"])


def test_it_lists_addresses_in_a_constant_number_of_queries(api_as, customer):
    client = api_as(customer)
    AddressFactory.create_batch(3, user=customer)
    small, small_n = address_queries(client, 3)
    AddressFactory.create_batch(27, user=customer)
    large, large_n = address_queries(client, 30)

    assert (small_n, large_n) == (3, 30)
    # token, count, addresses.
    assert small == large == 3
