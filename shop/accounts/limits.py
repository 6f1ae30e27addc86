"""Limits on the doors that create things or send email: registration and password reset.

Counted with shop/core/ratelimit.py per client address, and for password reset also per
email address, so that one inbox cannot be flooded from many addresses. Every request
counts, whether the email belongs to an account or not, and the answer past a limit is
the same either way: the reset page never says whether an account exists.
"""

import hashlib

from django.conf import settings
from django.utils.translation import gettext as _

from shop.accounts.models import User
from shop.core import ratelimit
from shop.core.errors import RateLimited


def registration_attempt(request) -> None:
    """Count one sign-up from this client (the page and the API share it); RateLimited past the limit."""
    limit, period = settings.SHOP_REGISTRATIONS_PER_CLIENT
    if ratelimit.record_attempt(f"register:{ratelimit.client_ip(request)}", period=period) > limit:
        raise RateLimited(_("Too many sign-ups from your connection. Wait an hour and try again."))


def password_reset_attempt(request, *, email: str) -> None:
    """Count one reset request from this client and for this address; RateLimited past either limit."""
    message = _(
        "Too many password reset requests for this address or from your connection. "
        "Wait an hour and try again; the emails already sent stay valid."
    )
    client_limit, client_period = settings.SHOP_PASSWORD_RESETS_PER_CLIENT
    if ratelimit.record_attempt(f"reset:ip:{ratelimit.client_ip(request)}", period=client_period) > client_limit:
        # Refused before the address is counted, so a flood from one client does not
        # also use up the real owner's requests.
        raise RateLimited(message)
    email_limit, email_period = settings.SHOP_PASSWORD_RESETS_PER_EMAIL
    # Hashed: an address may be longer than a cache key should be.
    address = hashlib.sha256(User.objects.normalize_email(email).encode()).hexdigest()
    if ratelimit.record_attempt(f"reset:email:{address}", period=email_period) > email_limit:
        raise RateLimited(message)


def data_export_attempt(user) -> None:
    """Count one download of the customer's data (the page and the API share it): building it reads
    every table that holds something of theirs. RateLimited past the limit."""
    limit, period = settings.SHOP_DATA_EXPORTS_PER_ACCOUNT
    if ratelimit.record_attempt(f"data-export:{user.pk}", period=period) > limit:
        raise RateLimited(
            _("You have downloaded your data several times in the last hour. Wait an hour and try again.")
        )


def erasure_attempt(user) -> None:
    """Count one erasure request (each checks the password), so that a session left open cannot be
    used to guess it. RateLimited past the limit."""
    limit, period = settings.SHOP_ERASURES_PER_ACCOUNT
    if ratelimit.record_attempt(f"erasure:{user.pk}", period=period) > limit:
        raise RateLimited(_("Too many attempts to erase this account. Wait an hour and try again."))
