import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.core import mail
from django.urls import reverse

from shop.accounts.models import Address, Consent, ConsentChange, Profile, User
from shop.accounts.services import CONSENT_WORDING
from tests.factories import AddressFactory, ProfileFactory

pytestmark = pytest.mark.django_db

REGISTER = reverse("accounts:register")
LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
PROFILE = reverse("accounts:profile")
ADDRESS_NEW = reverse("accounts:address_create")
STRONG = "Plum-orchard-42-quietly"


def body(response) -> str:
    return response.content.decode()


def logged_in_as(client):
    user_id = client.session.get(AUTH_SESSION_KEY)
    return User.objects.get(pk=user_id) if user_id else None


def register_data(**overrides):
    return {"email": "new@example.org", "password": STRONG, "first_name": "Nia", "last_name": "New", **overrides}


def address_data(**overrides):
    return {
        "full_name": "Owner Person",
        "line1": "1 Main Street",
        "city": "Portland",
        "region": "OR",
        "postal_code": "97201",
        "country": "US",
        **overrides,
    }


# Registration


def test_it_leaves_the_consent_box_unticked_by_default(client):
    response = client.get(REGISTER)

    assert response.status_code == 200
    checkbox = re.search(r'<input type="checkbox" name="marketing_consent"[^>]*>', body(response)).group(0)
    assert "checked" not in checkbox


def test_it_registers_a_customer_and_logs_them_in(client):
    response = client.post(REGISTER, register_data(email="New@Example.org"))

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    user = User.objects.get()
    assert user.email == "new@example.org"
    assert user.check_password(STRONG)
    assert (user.first_name, user.last_name) == ("Nia", "New")
    assert logged_in_as(client) == user
    assert Profile.objects.filter(user=user).exists()
    assert not Consent.objects.filter(user=user).exists()
    assert "Welcome to Bazaar! Your account is ready." in body(client.get(PROFILE))


def test_it_records_consent_when_the_box_is_ticked_at_registration(client):
    client.post(REGISTER, register_data(marketing_consent="on"))

    consent = Consent.objects.get(user__email="new@example.org")
    assert (consent.channel, consent.given) == ("email", True)
    change = ConsentChange.objects.get(user__email="new@example.org")
    assert (change.source, change.wording) == ("registration", str(CONSENT_WORDING["email"]))


def test_it_refuses_an_email_that_is_taken_in_any_case(client, customer):
    response = client.post(REGISTER, register_data(email="OWNER@example.org"))

    assert response.status_code == 400
    assert "An account with this email already exists." in body(response)
    assert User.objects.count() == 1
    assert logged_in_as(client) is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "This password is too short."),
        ("password123", "This password is too common."),
        ("12345678901", "This password is entirely numeric."),
    ],
)
def test_it_refuses_a_weak_password(client, password, message):
    response = client.post(REGISTER, register_data(password=password))

    assert response.status_code == 400
    assert message in body(response)
    assert not User.objects.exists()


def test_it_refuses_an_invalid_email(client):
    response = client.post(REGISTER, register_data(email="not-an-email"))

    assert response.status_code == 400
    assert "Enter a valid email address." in body(response)
    assert not User.objects.exists()


# Login and logout


@pytest.mark.parametrize("typed", ["owner@example.org", "OWNER@EXAMPLE.ORG", "  Owner@Example.org "])
def test_it_logs_in_with_the_email_in_any_case(client, customer, password, typed):
    response = client.post(LOGIN, {"username": typed, "password": password})

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    assert logged_in_as(client) == customer


def test_it_refuses_a_wrong_password(client, customer):
    response = client.post(LOGIN, {"username": customer.email, "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct" in body(response)
    assert logged_in_as(client) is None


def test_it_logs_out_with_a_post(client, customer):
    client.force_login(customer)

    assert client.get(LOGOUT).status_code == 405
    assert logged_in_as(client) == customer

    response = client.post(LOGOUT)

    assert response.status_code == 302
    assert logged_in_as(client) is None
    assert client.get(PROFILE).status_code == 302


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(PROFILE)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_it_does_not_count_successful_logins(client, customer, password):
    for _attempt in range(settings.AXES_FAILURE_LIMIT + 1):
        assert client.post(LOGIN, {"username": customer.email, "password": password}).status_code == 302
        client.post(LOGOUT)


# (The lockout after failed logins, shared with the admin and the API: test_lockout.py.)


# Password reset


def test_it_resets_a_password_through_the_emailed_link(client, customer):
    response = client.post(reverse("accounts:password_reset"), {"email": "Owner@example.org"})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@example.org"]
    link = re.search(r"https?://[^/\s]+(/account/password-reset/\S+/\S+/)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert 'name="new_password1"' in body(form_page)
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": STRONG, "new_password2": STRONG})

    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:password_reset_complete")
    assert client.get(done["Location"]).status_code == 200
    customer.refresh_from_db()
    assert customer.check_password(STRONG)
    assert client.post(LOGIN, {"username": customer.email, "password": STRONG}).status_code == 302


def test_it_refuses_a_used_reset_link(client, customer):
    client.post(reverse("accounts:password_reset"), {"email": customer.email})
    link = re.search(r"https?://[^/\s]+(/account/password-reset/\S+/\S+/)", mail.outbox[0].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": STRONG, "new_password2": STRONG})

    again = client.get(link, follow=True)

    assert 'name="new_password1"' not in body(again)


def test_it_sends_no_email_for_an_unknown_address_but_says_the_same(client):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.org"})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


# Profile


def profile_data(**overrides):
    return {"first_name": "Olive", "last_name": "Owner", "city": "Lyon", "country": "FR", "gender": "", **overrides}


def test_it_saves_the_profile(client, customer):
    client.force_login(customer)

    response = client.post(PROFILE, profile_data(birthday="1990-04-02", gender="female"))

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Olive", "Owner")
    profile = Profile.objects.get(user=customer)
    assert (profile.city, profile.country, profile.gender) == ("Lyon", "FR", "female")
    assert str(profile.birthday) == "1990-04-02"
    assert "Your profile is saved." in body(client.get(PROFILE))


def test_it_records_each_channels_consent_with_its_history(client, customer):
    client.force_login(customer)

    client.post(PROFILE, profile_data(consent_email="on", consent_onsite="on"))
    given = dict(Consent.objects.filter(user=customer).values_list("channel", "given"))
    assert given == {"email": True, "onsite": True}
    email = Consent.objects.get(user=customer, channel="email")

    client.post(PROFILE, profile_data(consent_email="on", consent_onsite="on", city="Paris"))
    email.refresh_from_db()
    assert ConsentChange.objects.filter(user=customer).count() == 2  # nothing changed: nothing recorded

    client.post(PROFILE, profile_data(consent_onsite="on"))
    email.refresh_from_db()
    assert email.given is False
    history = list(ConsentChange.objects.filter(user=customer).order_by("id").values_list("channel", "given"))
    assert history == [("email", True), ("onsite", True), ("email", False)]
    assert set(ConsentChange.objects.filter(user=customer).values_list("source", flat=True)) == {"profile"}


def test_it_shows_every_channels_box_unticked_until_given(client, customer):
    client.force_login(customer)

    page = body(client.get(PROFILE))

    for channel in ("email", "sms", "push", "onsite"):
        box = re.search(rf'<input type="checkbox" name="consent_{channel}"[^>]*>', page).group(0)
        assert "checked" not in box


def test_it_asks_for_a_mobile_number_before_consent_to_text_messages(client, customer):
    client.force_login(customer)

    response = client.post(PROFILE, profile_data(consent_sms="on"))

    assert response.status_code == 400
    assert "Add your mobile number" in body(response)
    assert not Consent.objects.filter(user=customer).exists()

    client.post(PROFILE, profile_data(consent_sms="on", phone="+14155550100"))
    assert Consent.objects.get(user=customer, channel="sms").given is True


def test_it_refuses_an_unknown_country(client, customer):
    ProfileFactory(user=customer, country="US")
    client.force_login(customer)

    response = client.post(PROFILE, profile_data(country="XX"))

    assert response.status_code == 400
    assert "Select a valid choice" in body(response)
    assert Profile.objects.get(user=customer).country == "US"


# Addresses


def test_it_creates_an_address_that_becomes_the_default(client, customer):
    client.force_login(customer)

    response = client.post(ADDRESS_NEW, address_data())

    assert response.status_code == 302
    address = Address.objects.get(user=customer)
    assert (address.line1, address.country, address.is_default) == ("1 Main Street", "US", True)
    assert "Address saved." in body(client.get(PROFILE))


def test_it_refuses_an_incomplete_address(client, customer):
    client.force_login(customer)

    response = client.post(ADDRESS_NEW, address_data(line1="", country=""))

    assert response.status_code == 400
    assert "This field is required." in body(response)
    assert not Address.objects.exists()


def test_it_edits_an_address(client, customer):
    address = AddressFactory(user=customer, line1="Old Road")
    client.force_login(customer)

    assert client.get(reverse("accounts:address_edit", args=[address.pk])).status_code == 200
    response = client.post(reverse("accounts:address_edit", args=[address.pk]), address_data(line1="New Road"))

    assert response.status_code == 302
    address.refresh_from_db()
    assert address.line1 == "New Road"


def test_it_moves_the_default_to_another_address(client, customer):
    client.force_login(customer)
    client.post(ADDRESS_NEW, address_data(line1="First"))
    client.post(ADDRESS_NEW, address_data(line1="Second"))
    first, second = Address.objects.get(line1="First"), Address.objects.get(line1="Second")
    assert (first.is_default, second.is_default) == (True, False)

    client.post(reverse("accounts:address_edit", args=[second.pk]), address_data(line1="Second", is_default="on"))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)


def test_it_deletes_an_address(client, customer):
    address = AddressFactory(user=customer)
    client.force_login(customer)

    response = client.post(reverse("accounts:address_delete", args=[address.pk]))

    assert response.status_code == 302
    assert not Address.objects.filter(pk=address.pk).exists()
    assert "Address deleted." in body(client.get(PROFILE))


def test_it_hides_the_owners_address_from_a_stranger(client, customer, stranger):
    address = AddressFactory(user=customer, line1="Secret Lane")
    client.force_login(stranger)

    shown = client.get(reverse("accounts:address_edit", args=[address.pk]))
    edited = client.post(reverse("accounts:address_edit", args=[address.pk]), address_data(line1="Hacked"))
    deleted = client.post(reverse("accounts:address_delete", args=[address.pk]))

    assert (shown.status_code, edited.status_code, deleted.status_code) == (404, 404, 404)
    assert "Secret Lane" not in body(shown)
    assert "Address not found." in body(deleted)
    address.refresh_from_db()
    assert (address.user, address.line1) == (customer, "Secret Lane")
    assert not Address.objects.filter(user=stranger).exists()


def test_it_lists_only_the_customers_own_addresses(client, customer, stranger):
    AddressFactory(user=customer, line1="Mine Street")
    AddressFactory(user=stranger, line1="Theirs Street")
    client.force_login(customer)

    page = body(client.get(PROFILE))

    assert "Mine Street" in page
    assert "Theirs Street" not in page


def test_it_needs_a_login_to_manage_addresses(client, customer):
    address = AddressFactory(user=customer)

    response = client.post(reverse("accounts:address_delete", args=[address.pk]))

    assert response.status_code == 302
    assert Address.objects.filter(pk=address.pk).exists()


def test_it_follows_a_local_next_url_after_registering(client):
    response = client.post(REGISTER + "?next=/cart/", register_data())

    assert response.status_code == 302
    assert response["Location"] == "/cart/"


@pytest.mark.parametrize("next_url", ["https://evil.example.com/", "//evil.example.com/"])
def test_it_never_redirects_off_site_after_registering(client, next_url):
    response = client.post(REGISTER, register_data(), QUERY_STRING=f"next={next_url}")

    assert response.status_code == 302
    assert response["Location"] == PROFILE
    assert User.objects.filter(email="new@example.org").exists()
