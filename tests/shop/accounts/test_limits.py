"""Limits on registration (page and API together) and password reset (per client and per address)."""

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from shop.accounts.models import User

pytestmark = pytest.mark.django_db

REGISTER = reverse("accounts:register")
API_REGISTER = "/api/v1/auth/register/"
RESET = reverse("accounts:password_reset")
STRONG = "Plum-orchard-42-quietly"
SIGNUPS, _HOUR = settings.SHOP_REGISTRATIONS_PER_CLIENT
PER_EMAIL, _HOUR = settings.SHOP_PASSWORD_RESETS_PER_EMAIL
PER_CLIENT, _HOUR = settings.SHOP_PASSWORD_RESETS_PER_CLIENT
SIGNUP_MESSAGE = "Too many sign-ups from your connection. Wait an hour and try again."
RESET_MESSAGE = (
    "Too many password reset requests for this address or from your connection. "
    "Wait an hour and try again; the emails already sent stay valid."
)


def sign_up_page(n, ip="127.0.0.1", **meta):
    return Client().post(REGISTER, {"email": f"new{n}@example.org", "password": STRONG}, REMOTE_ADDR=ip, **meta)


def sign_up_api(n, ip="127.0.0.1", **meta):
    data = {"email": f"api{n}@example.org", "password": STRONG}
    return APIClient().post(API_REGISTER, data, format="json", REMOTE_ADDR=ip, **meta)


def reset(email, ip="127.0.0.1", **meta):
    return Client().post(RESET, {"email": email}, REMOTE_ADDR=ip, **meta)


# Registration


def test_the_sign_up_page_is_limited_per_client(settings):
    settings.SHOP_TRUSTED_PROXIES = []
    for n in range(SIGNUPS):
        assert sign_up_page(n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 302

    refused = sign_up_page("late", HTTP_X_FORWARDED_FOR="203.0.113.250")
    elsewhere = sign_up_page("elsewhere", ip="198.51.100.2")

    assert refused.status_code == 429
    assert SIGNUP_MESSAGE in refused.content.decode()
    assert not User.objects.filter(email="newlate@example.org").exists()
    assert elsewhere.status_code == 302


def test_the_page_and_the_api_share_one_sign_up_limit():
    for n in range(SIGNUPS // 2):
        sign_up_page(n)
    for n in range(SIGNUPS - SIGNUPS // 2):
        assert sign_up_api(n).status_code == 201

    refused = sign_up_api("late")

    assert refused.status_code == 429
    assert refused.json() == {"detail": SIGNUP_MESSAGE, "code": "rate_limited"}
    assert not User.objects.filter(email="apilate@example.org").exists()


def test_failed_sign_ups_count_too():
    # Each answer says whether an address has an account: trying many must not be free.
    for _n in range(SIGNUPS):
        assert sign_up_api(0).status_code in (201, 409)

    assert sign_up_page("late").status_code == 429


# Password reset


def test_an_address_gets_at_most_a_few_reset_emails_an_hour(customer):
    for n in range(PER_EMAIL):
        assert reset(customer.email, ip=f"198.51.100.{n}").status_code == 302
    assert len(mail.outbox) == PER_EMAIL

    refused = reset(customer.email.upper(), ip="192.0.2.1")

    assert refused.status_code == 429
    assert RESET_MESSAGE in refused.content.decode()
    assert len(mail.outbox) == PER_EMAIL


def test_the_reset_page_answers_the_same_whether_the_account_exists_or_not(customer):
    answers = {}
    for email in (customer.email, "nobody@example.org"):
        statuses = [reset(email, ip=f"198.51.100.{n}").status_code for n in range(PER_EMAIL + 1)]
        refused = reset(email, ip="192.0.2.1")
        answers[email] = (statuses, refused.status_code, RESET_MESSAGE in refused.content.decode())

    assert answers[customer.email] == answers["nobody@example.org"] == ([302] * PER_EMAIL + [429], 429, True)


def test_password_reset_is_limited_per_client(settings, customer):
    settings.SHOP_TRUSTED_PROXIES = []
    for n in range(PER_CLIENT):
        assert reset(f"someone{n}@example.org", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 302

    refused = reset(customer.email, HTTP_X_FORWARDED_FOR="203.0.113.250")
    elsewhere = reset(customer.email, ip="198.51.100.2")

    assert refused.status_code == 429
    assert RESET_MESSAGE in refused.content.decode()
    # The flood from one client did not use up the owner's own requests.
    assert elsewhere.status_code == 302
    assert len(mail.outbox) == 1
