"""Turning notifications on and off in a browser, from the account page's panel (campaigns/push.js).

JSON in and out, for the customer logged in, with the CSRF token the panel carries. Errors have
the API's shape: {"detail", "code", "errors": {field: [...]}}. docs/channels.md.
"""

import json

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketing.campaigns.push import push_subscribe, push_unsubscribe
from shop.core import ratelimit
from shop.core.errors import RateLimited, ShopError

# A subscription is an endpoint (at most 500 characters) and two short keys.
MAX_BODY_BYTES = 4096


def _error(status: int, detail: str, code: str, field: str | None = None) -> JsonResponse:
    body = {"detail": detail, "code": code}
    if field:
        body["errors"] = {field: [detail]}
    return JsonResponse(body, status=status)


def _body(request) -> dict:
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise ShopError(_("The request is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise ShopError(_("The request is not valid JSON."))
    return data


def _handle(request, action):
    """Login, the per-account limit, the body's size and JSON, then `action(data)` -> message."""
    if not request.user.is_authenticated:
        return _error(403, _("Log in to change your notifications."), "not_authenticated")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Checked before the body is read, and again on what arrived.
    if declared > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        return _error(413, _("The request is too large."), "too_large")
    limit, period = settings.CAMPAIGNS_PUSH_CHANGES_PER_ACCOUNT
    try:
        if ratelimit.record_attempt(f"push:user:{request.user.pk}", period=period) > limit:
            raise RateLimited(_("Too many changes to your notifications. Wait an hour and try again."))
        return JsonResponse({"detail": action(_body(request))})
    except ShopError as exc:
        return _error(exc.status_code, str(exc.message), exc.code, exc.field)


@require_POST
def subscribe(request):
    """{endpoint, keys: {p256dh, auth}}: the browser's PushSubscription.toJSON()."""

    def on(data):
        keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
        push_subscribe(
            user=request.user,
            endpoint=data.get("endpoint"),
            p256dh=keys.get("p256dh"),
            auth=keys.get("auth"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return _("Notifications are on in this browser.")

    return _handle(request, on)


@require_POST
def unsubscribe(request):
    """{endpoint}: this browser's subscription, which the browser drops too."""

    def off(data):
        push_unsubscribe(user=request.user, endpoint=data.get("endpoint"))
        return _("Notifications are off in this browser.")

    return _handle(request, off)
