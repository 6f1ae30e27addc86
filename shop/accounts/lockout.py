"""One login lockout for every door: the storefront login, /admin/login/ and the API token.

django-axes counts failed logins per account and per client address
(settings.AXES_LOCKOUT_PARAMETERS); when either reaches settings.AXES_FAILURE_LIMIT
within settings.AXES_COOLOFF_TIME, that account (from anywhere) or that client (for
any account) is refused, even with the right password, until the cool-off ends, the
customer resets their password, or staff unlock it in the admin. The client address
is the store's own (shop/core/ratelimit.py client_ip). This module is the glue: which
account a request names, the message, and the 429 each door answers.
"""

from collections.abc import Mapping

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import ngettext

from shop.accounts.models import User
from shop.core.errors import RateLimited

# AccessAttempt.username's length: a longer address is still one account's guesses.
_USERNAME_MAX = 255


class LoginLocked(RateLimited):
    code = "login_locked"


def username_from(request, credentials: Mapping | None) -> str | None:
    """The account a login names, normalized as the User model stores emails.

    The forms post `username`, the API token endpoint `email`; either way the same
    account is counted, in whatever case it was typed.
    """
    values = credentials
    if not values:
        values = getattr(request, "data", None) or getattr(request, "POST", None)
    if not isinstance(values, Mapping):
        return None
    raw = values.get("username") or values.get("email")
    if not isinstance(raw, str):
        return None
    return User.objects.normalize_email(raw)[:_USERNAME_MAX] or None


def is_locked_out(request) -> bool:
    """Whether axes refused (or just locked) the login attempted in this request."""
    return bool(getattr(request, "axes_locked_out", False))


def lockout_message(*, staff: bool = False) -> str:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    if staff:
        text = ngettext(
            "Too many failed attempts. Wait %(minutes)d minute, or ask another member of staff to unlock it.",
            "Too many failed attempts. Wait %(minutes)d minutes, or ask another member of staff to unlock it.",
            minutes,
        )
    else:
        text = ngettext(
            "Too many failed attempts. Wait %(minutes)d minute, or reset your password.",
            "Too many failed attempts. Wait %(minutes)d minutes, or reset your password.",
            minutes,
        )
    return text % {"minutes": minutes}


def mark_explained(request) -> None:
    """The door showed the lockout message itself; lockout_response only sets the status."""
    request.login_lockout_explained = True


def lockout_response(request, original_response=None, credentials=None):
    """What axes's middleware answers for a locked login (settings.AXES_LOCKOUT_CALLABLE).

    The storefront and admin forms already say why (LockoutFormMixin): their page is kept,
    with status 429. Any other door gets the message alone, as JSON under /api/.
    """
    if original_response is not None and getattr(request, "login_lockout_explained", False):
        original_response.status_code = 429
        return original_response
    message = lockout_message()
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": message, "code": LoginLocked.code}, status=429)
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")


class LockoutHandler(AxesDatabaseHandler):
    """Axes's database handler, except that a successful login clears the account only.

    Axes clears every lockout parameter on success, the client's failures included: anyone
    with an account of their own could then wipe their per-client count between guesses at
    other accounts by logging in to it.
    """

    def reset_user_attempts(self, request, credentials=None) -> int:
        from shop.accounts import services

        username = get_client_username(request, credentials)
        return services.login_lockout_reset(email=username) if username else 0
