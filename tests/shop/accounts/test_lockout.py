"""One login lockout for the storefront login, /admin/login/ and the API token (shop/accounts/lockout.py).

Failures count per account and per client; either reaching the limit locks, even for the
right password, whichever door the failures came through.
"""

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

LIMIT = settings.AXES_FAILURE_LIMIT
LOGIN = reverse("accounts:login")
ADMIN_LOGIN = reverse("admin:login")
TOKEN = "/api/v1/auth/token/"
STOREFRONT_MESSAGE = "Too many failed attempts. Wait 15 minutes, or reset your password."
STAFF_MESSAGE = "Too many failed attempts. Wait 15 minutes, or ask another member of staff to unlock it."
DOORS = ["storefront", "admin", "api"]


def attempt(door: str, email: str, password: str, *, ip: str = "127.0.0.1", **meta):
    """One login at a door, from a fresh client (no cookies) at address `ip`."""
    meta["REMOTE_ADDR"] = ip
    if door == "storefront":
        return Client().post(LOGIN, {"username": email, "password": password}, **meta)
    if door == "admin":
        return Client().post(ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"}, **meta)
    return APIClient().post(TOKEN, {"email": email, "password": password}, format="json", **meta)


def logged_in(door: str, response) -> bool:
    if door == "api":
        return response.status_code == 200 and Token.objects.filter(key=response.json()["token"]).exists()
    return response.status_code == 302 and SESSION_KEY in response.wsgi_request.session


def refused_as_locked(door: str, response) -> bool:
    if response.status_code != 429:
        return False
    if door == "api":
        body = response.json()
        return body == {"detail": STOREFRONT_MESSAGE, "code": "login_locked"}
    page = response.content.decode()
    return (STAFF_MESSAGE if door == "admin" else STOREFRONT_MESSAGE) in page and 'name="password"' in page


def fail(door: str, email: str, times: int = LIMIT, **kwargs):
    return [attempt(door, email, "wrong password", **kwargs) for _ in range(times)]


@pytest.fixture
def owner(db):
    """Staff, so that every door, the admin's included, would let them in."""
    return StaffFactory(email="owner@example.org")


@pytest.mark.parametrize("door", DOORS)
def test_the_limit_of_wrong_passwords_locks_even_the_right_one(door, owner, password):
    answers = fail(door, owner.email)
    assert [r.status_code for r in answers[:-1]] == [400 if door == "api" else 200] * (LIMIT - 1)
    assert refused_as_locked(door, answers[-1])  # the last failure says so at once
    cache.clear()  # the API's per-minute throttle, kept in the cache, is not what is tested here

    response = attempt(door, owner.email, password)

    assert refused_as_locked(door, response)
    assert not logged_in(door, response)


@pytest.mark.parametrize("door", DOORS)
def test_one_wrong_password_too_few_still_lets_the_owner_in(door, owner, password):
    fail(door, owner.email, times=LIMIT - 1)

    assert logged_in(door, attempt(door, owner.email, password))


@pytest.mark.parametrize(("earned_at", "tried_at"), [(a, b) for a in DOORS for b in DOORS if a != b])
def test_a_lockout_earned_at_one_door_holds_at_the_others(earned_at, tried_at, owner, password):
    fail(earned_at, owner.email)

    response = attempt(tried_at, owner.email, password)

    assert refused_as_locked(tried_at, response)


@pytest.mark.parametrize("door", DOORS)
def test_rotating_x_forwarded_for_does_not_help(door, settings, owner, password):
    settings.SHOP_TRUSTED_PROXIES = []
    for n in range(LIMIT):
        # Another account each time: only the per-client count can stop this.
        attempt(door, f"victim{n}@example.org", "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    cache.clear()

    response = attempt(door, owner.email, password, HTTP_X_FORWARDED_FOR="203.0.113.200")

    assert refused_as_locked(door, response)


@pytest.mark.parametrize("door", DOORS)
def test_another_client_trying_the_locked_account_is_refused(door, owner, password):
    for n in range(LIMIT):
        # From many addresses, in any case: one account's count.
        attempt(door, "OWNER@example.org" if n % 2 else "owner@EXAMPLE.org", "wrong", ip=f"198.51.100.{n}")
    cache.clear()

    response = attempt(door, owner.email, password, ip="192.0.2.1")

    assert refused_as_locked(door, response)


@pytest.mark.parametrize("door", DOORS)
def test_another_account_from_another_client_is_unaffected(door, owner, password):
    StaffFactory(email="colleague@example.org")
    fail(door, owner.email, ip="198.51.100.1")

    assert logged_in(door, attempt(door, "colleague@example.org", password, ip="198.51.100.2"))


def test_behind_a_proxy_one_client_locked_out_leaves_the_others_alone(settings, password):
    settings.SHOP_TRUSTED_PROXIES = ["127.0.0.1"]
    UserFactory(email="neighbour@example.org")
    for n in range(LIMIT):
        attempt("storefront", f"victim{n}@example.org", "guess", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert refused_as_locked(
        "storefront", attempt("storefront", "neighbour@example.org", password, HTTP_X_FORWARDED_FOR="198.51.100.1")
    )
    assert logged_in(
        "storefront", attempt("storefront", "neighbour@example.org", password, HTTP_X_FORWARDED_FOR="198.51.100.2")
    )


def test_a_successful_login_forgets_the_accounts_failures_only(password):
    UserFactory(email="attacker@example.org")
    UserFactory(email="owner@example.org")
    fail("storefront", "owner@example.org", times=LIMIT - 1, ip="198.51.100.1")

    assert logged_in("storefront", attempt("storefront", "owner@example.org", password, ip="198.51.100.1"))
    fail("storefront", "owner@example.org", times=LIMIT - 1, ip="198.51.100.1")
    # ...but logging in to one's own account does not wipe a client's guesses at others.
    fail("storefront", "target@example.org", times=LIMIT // 2, ip="203.0.113.1")
    assert logged_in("storefront", attempt("storefront", "attacker@example.org", password, ip="203.0.113.1"))
    fail("storefront", "other@example.org", times=LIMIT - LIMIT // 2, ip="203.0.113.1")

    assert refused_as_locked("storefront", attempt("storefront", "attacker@example.org", password, ip="203.0.113.1"))


def test_a_token_login_forgets_the_accounts_failures_too(owner, password):
    fail("api", owner.email, times=LIMIT - 1, ip="198.51.100.1")
    assert logged_in("api", attempt("api", owner.email, password, ip="198.51.100.2"))
    cache.clear()

    fail("storefront", owner.email, times=LIMIT - 1, ip="198.51.100.3")

    assert logged_in("storefront", attempt("storefront", owner.email, password, ip="198.51.100.4"))


def test_an_overlong_email_is_counted_not_a_server_error(owner):
    # Longer than the attempt record's username column: bites on PostgreSQL, which enforces it.
    email = "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "org"

    assert attempt("api", email, "x").status_code in (400, 429)
    assert attempt("storefront", email, "x").status_code == 200


# Unlocking


def test_staff_unlock_the_failed_attempts_in_the_admin(client, owner, password):
    fail("storefront", owner.email, ip="198.51.100.1")
    client.force_login(StaffFactory(email="manager@example.org"))
    changelist = reverse("admin:axes_accessattempt_changelist")

    page = client.get(changelist, {"q": "owner@"})
    assert page.status_code == 200
    assert "owner@example.org" in page.content.decode()
    ids = list(AccessAttempt.objects.filter(username=owner.email).values_list("pk", flat=True))
    response = client.post(changelist, {"action": "unlock", "_selected_action": ids}, follow=True)

    assert "1 failed-login record removed: the login is unlocked." in response.content.decode()
    assert logged_in("storefront", attempt("storefront", owner.email, password, ip="198.51.100.1"))


def test_staff_unlock_a_customer_from_their_page_in_the_admin(client, customer, password):
    fail("api", customer.email, ip="198.51.100.1")
    client.force_login(StaffFactory(email="manager@example.org"))

    client.post(
        reverse("admin:accounts_user_changelist"), {"action": "unlock_login", "_selected_action": [customer.pk]}
    )

    assert logged_in("api", attempt("api", customer.email, password, ip="198.51.100.2"))


def test_staff_who_may_only_look_cannot_unlock(client, owner):
    fail("storefront", owner.email)
    viewer = UserFactory(email="viewer@example.org", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_accessattempt"))
    client.force_login(viewer)
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert "owner@example.org" in client.get(changelist).content.decode()

    client.post(
        changelist, {"action": "unlock", "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True))}
    )

    assert AccessAttempt.objects.filter(username=owner.email).exists()


def test_resetting_the_password_by_email_ends_the_accounts_lockout(client, customer):
    fail("storefront", customer.email, ip="198.51.100.1")

    client.post(reverse("accounts:password_reset"), {"email": customer.email}, REMOTE_ADDR="198.51.100.2")
    link = re.search(r"https?://[^/\s]+(/account/password-reset/\S+/\S+/)", mail.outbox[0].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": "Plum-orchard-42-quietly", "new_password2": "Plum-orchard-42-quietly"})

    assert logged_in("storefront", attempt("storefront", customer.email, "Plum-orchard-42-quietly", ip="198.51.100.3"))
