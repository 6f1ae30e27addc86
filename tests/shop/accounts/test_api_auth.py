"""POST/DELETE /api/v1/auth/token/ and POST /api/v1/auth/register/."""

from decimal import Decimal

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from shop.accounts.models import Consent, ConsentChange, Profile, User
from shop.cart.models import Cart, CartLine
from tests.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
REGISTER = "/api/v1/auth/register/"
ACCOUNT = "/api/v1/account/"


def rate_limit(scope: str) -> int:
    """How many requests the configured rate allows, e.g. 10 for "10/minute"."""
    return int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope].split("/")[0])


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- token --------------------------------------------------------------------------------------


def test_it_exchanges_email_and_password_for_a_working_token(api, customer, password):
    response = api.post(TOKEN, {"email": "owner@example.org", "password": password}, format="json")

    assert response.status_code == 200, response.content
    key = response.json()["token"]
    assert Token.objects.get(user=customer).key == key
    assert with_token(key).get(ACCOUNT).json()["email"] == "owner@example.org"


def test_it_accepts_the_email_in_any_case(api, customer, password):
    response = api.post(TOKEN, {"email": "  Owner@EXAMPLE.org", "password": password}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["token"] == Token.objects.get(user=customer).key


def test_it_returns_the_same_token_on_a_second_login(api, customer, password):
    first = api.post(TOKEN, {"email": "owner@example.org", "password": password}, format="json").json()
    second = api.post(TOKEN, {"email": "owner@example.org", "password": password}, format="json").json()

    assert first["token"] == second["token"]
    assert Token.objects.filter(user=customer).count() == 1


@pytest.mark.parametrize(
    ("email", "secret"),
    [("owner@example.org", "wrong password"), ("nobody@example.org", "correct horse battery")],
)
def test_it_refuses_bad_credentials_without_saying_which_part_was_wrong(api, customer, email, secret):
    response = api.post(TOKEN, {"email": email, "password": secret}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "Email or password is incorrect."
    assert not Token.objects.exists()


def test_it_refuses_a_deactivated_customer(api, customer, password):
    customer.is_active = False
    customer.save()

    response = api.post(TOKEN, {"email": "owner@example.org", "password": password}, format="json")

    assert response.status_code == 400
    assert not Token.objects.exists()


def test_it_says_which_login_fields_are_missing(api):
    response = api.post(TOKEN, {"email": "not-an-email"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["email"][0]
    assert body["errors"]["password"][0]


def test_it_revokes_the_token(api_as, customer):
    client = api_as(customer)
    key = Token.objects.get(user=customer).key

    response = client.delete(TOKEN)

    assert response.status_code == 204
    assert not Token.objects.filter(user=customer).exists()
    revoked = with_token(key).get(ACCOUNT)
    # 403 rather than 401: SessionAuthentication, listed first, sends no WWW-Authenticate challenge.
    assert revoked.status_code in (401, 403)
    assert revoked.json()["detail"] == "Invalid token."


def test_it_revokes_only_the_callers_token(api_as, customer, stranger):
    api_as(stranger)  # the stranger has a token too

    api_as(customer).delete(TOKEN)

    assert Token.objects.filter(user=stranger).exists()


def test_it_asks_an_anonymous_client_to_log_in_before_revoking(api):
    response = api.delete(TOKEN)

    assert response.status_code == 401
    assert response.json()["detail"]


def test_it_throttles_token_requests_per_client(api, customer, stranger, password):
    # Successful ones too (the lockout counts only failures): 10 a minute per client.
    for _ in range(rate_limit("auth")):
        assert api.post(TOKEN, {"email": "owner@example.org", "password": password}, format="json").status_code == 200

    response = api.post(TOKEN, {"email": "owner@example.org", "password": password}, format="json")
    rotated = api.post(
        TOKEN, {"email": "owner@example.org", "password": password}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    elsewhere = api.post(
        TOKEN, {"email": "stranger@example.org", "password": password}, format="json", REMOTE_ADDR="198.51.100.9"
    )

    assert response.status_code == 429
    assert response.json()["detail"]
    assert rotated.status_code == 429  # a header the client sets is not who the client is
    assert elsewhere.status_code == 200


# (Wrong passwords and the lockout shared with the storefront and admin: test_lockout.py;
# the registration limit shared with the storefront: test_limits.py.)


# --- merging the anonymous cart -----------------------------------------------------------------


@pytest.fixture
def kettle():
    return ProductFactory(slug="kettle", price=Decimal("30.00"), stock=5)


@pytest.fixture
def anonymous_cart(kettle):
    cart = CartFactory(user=None)
    CartLineFactory(cart=cart, product=kettle, quantity=3)
    CartLineFactory(cart=cart, product=ProductFactory(slug="mug", stock=10), quantity=2)
    CartLineFactory(cart=cart, product=ProductFactory(slug="retired", is_active=False), quantity=1)
    return cart


def login(api, password, token=None):
    headers = {"HTTP_X_CART_TOKEN": str(token)} if token else {}
    return api.post(TOKEN, {"email": "owner@example.org", "password": password}, format="json", **headers)


def lines_of(user) -> dict[str, int]:
    return {line.product.slug: line.quantity for line in Cart.objects.get(user=user).lines.all()}


def test_it_merges_the_anonymous_cart_into_the_customers_cart_capped_at_stock(
    api, customer, password, kettle, anonymous_cart
):
    CartLineFactory(cart=CartFactory(user=customer), product=kettle, quantity=4)

    response = login(api, password, anonymous_cart.token)

    assert response.status_code == 200
    assert lines_of(customer) == {"kettle": 5, "mug": 2}  # 4 + 3 capped at 5 in stock; the retired one dropped
    assert not Cart.objects.filter(pk=anonymous_cart.pk).exists()
    body = with_token(response.json()["token"]).get("/api/v1/cart/").json()
    assert (body["item_count"], body["total"]) == (7, "189.98")  # 5 × 30.00 + 2 × 19.99


def test_it_gives_a_customer_without_a_cart_the_anonymous_one(api, customer, password, anonymous_cart):
    login(api, password, anonymous_cart.token)

    assert lines_of(customer) == {"kettle": 3, "mug": 2}


def test_it_merges_nothing_without_a_cart_token(api, customer, password, kettle, anonymous_cart):
    CartLineFactory(cart=CartFactory(user=customer), product=kettle, quantity=1)

    login(api, password)

    assert lines_of(customer) == {"kettle": 1}
    assert Cart.objects.filter(pk=anonymous_cart.pk).exists()


def test_it_merges_nothing_when_the_password_is_wrong(api, customer, anonymous_cart):
    login(api, "wrong password", anonymous_cart.token)

    assert not Cart.objects.filter(user=customer).exists()
    assert anonymous_cart.lines.count() == 3


def test_it_never_merges_another_customers_cart(api, customer, stranger, password, kettle):
    strangers_cart = CartFactory(user=stranger)
    CartLineFactory(cart=strangers_cart, product=kettle, quantity=2)

    response = login(api, password, strangers_cart.token)

    assert response.status_code == 200
    assert not CartLine.objects.filter(cart__user=customer).exists()
    assert lines_of(stranger) == {"kettle": 2}


def test_it_ignores_a_malformed_cart_token_at_login(api, customer, password):
    response = login(api, password, "not-a-uuid")

    assert response.status_code == 200


# --- registration -------------------------------------------------------------------------------


def test_it_registers_a_customer_and_returns_a_token(api):
    response = api.post(
        REGISTER,
        {"email": "New@Example.org", "password": "a long good password", "first_name": "Nia"},
        format="json",
    )

    assert response.status_code == 201, response.content
    user = User.objects.get(email="new@example.org")
    assert user.first_name == "Nia"
    assert user.check_password("a long good password")
    assert response.json()["token"] == Token.objects.get(user=user).key
    assert Profile.objects.filter(user=user).exists()
    assert not Consent.objects.filter(user=user).exists()  # never ticked for them


def test_it_records_marketing_consent_given_at_registration(api):
    api.post(
        REGISTER,
        {"email": "yes@example.org", "password": "a long good password", "marketing_consent": True},
        format="json",
    )

    consent = Consent.objects.get(user__email="yes@example.org")
    assert (consent.channel, consent.given) == ("email", True)
    change = ConsentChange.objects.get(user__email="yes@example.org")
    assert (change.source, change.given) == ("api", True)
    assert "by email" in change.wording


def test_it_refuses_an_email_already_registered_in_any_case(api, customer):
    response = api.post(REGISTER, {"email": "OWNER@example.org", "password": "a long good password"}, format="json")

    assert response.status_code == 409
    assert response.json()["errors"]["email"][0]
    assert User.objects.filter(email="owner@example.org").count() == 1


@pytest.mark.parametrize("secret", ["short", "12345678901", "password123"])
def test_it_refuses_a_weak_password_with_the_reasons(api, secret):
    response = api.post(REGISTER, {"email": "weak@example.org", "password": secret}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["password"][0]
    assert not User.objects.filter(email="weak@example.org").exists()


def test_it_says_which_registration_fields_are_wrong(api):
    response = api.post(REGISTER, {"email": "nope"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"email", "password"}


def test_it_does_not_let_registration_make_staff(api):
    api.post(
        REGISTER,
        {"email": "sly@example.org", "password": "a long good password", "is_staff": True, "is_superuser": True},
        format="json",
    )

    user = User.objects.get(email="sly@example.org")
    assert (user.is_staff, user.is_superuser) == (False, False)
