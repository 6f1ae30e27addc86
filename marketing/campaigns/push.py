"""Browsers where a customer turned notifications on: the Push API's subscriptions (docs/channels.md).

A subscription is the browser's, not the account's: the endpoint is unique, and when another
account turns notifications on in the same browser, the row moves to it (only the last account
logged in there gets that browser's notifications). Turning them on is also the customer's
consent to push marketing, recorded with the button's words; turning them off in one browser
leaves the consent alone (the profile's checkbox is the customer's separate answer).
"""

import base64
import binascii
import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketing.campaigns.models import PushSubscription
from shop.accounts.models import Channel, ConsentSource, User
from shop.accounts.services import consent_set
from shop.core.errors import ShopError

# The button's words: what the customer agrees to, recorded with the consent.
PUSH_BUTTON_WORDING = gettext_lazy("Get offers as notifications in this browser")

ENDPOINT_MAX_LENGTH = PushSubscription._meta.get_field("endpoint").max_length
BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def push_subscribe(*, user: User, endpoint: str, p256dh: str, auth: str, user_agent: str = "") -> PushSubscription:
    """Turn notifications on in one browser for this customer, and record their push consent.

    Raises ShopError (with the field) when the browser's subscription is not one a push service made."""
    endpoint = _valid_endpoint(endpoint)
    p256dh = _valid_key(p256dh, field="p256dh", size=65)
    auth = _valid_key(auth, field="auth", size=16)
    now = timezone.now()
    fields = {
        "user_id": user.pk,
        "p256dh": p256dh,
        "auth": auth,
        "user_agent": (user_agent or "")[:200],
        "gone_at": None,
    }
    with transaction.atomic():
        # Locked: the same browser sent twice at once (two tabs) updates one row, in turn.
        subscription, created = PushSubscription.objects.select_for_update().get_or_create(
            endpoint=endpoint, defaults={**fields, "created_at": now}
        )
        if not created:
            changed = [name for name, value in fields.items() if getattr(subscription, name) != value]
            for name in changed:
                setattr(subscription, name, fields[name])
            if "user_id" in changed:  # another account's browser: it is this customer's from now on
                subscription.created_at = now
                changed.append("created_at")
            if changed:
                subscription.save(update_fields=changed)
        consent_set(
            user=user,
            channel=Channel.PUSH,
            given=True,
            source=ConsentSource.PROFILE,
            wording=str(PUSH_BUTTON_WORDING),
            at=now,
        )
    return subscription


def push_unsubscribe(*, user: User, endpoint: str) -> bool:
    """Forget this customer's browser; True if it was theirs. Their consent stays as it is."""
    if not isinstance(endpoint, str) or not endpoint:
        raise ShopError(_("This browser's subscription is missing."), field="endpoint")
    deleted, _rows = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return deleted > 0


def push_subscription_gone(*, subscription_id: int) -> bool:
    """The push service said the browser dropped this subscription (404 or 410): never send to it
    again. True the first time; a second report of the same changes nothing."""
    return PushSubscription.objects.filter(pk=subscription_id, gone_at=None).update(gone_at=timezone.now()) == 1


def _valid_endpoint(endpoint) -> str:
    invalid = ShopError(_("This browser's push address is not one the store can use."), field="endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > ENDPOINT_MAX_LENGTH:
        raise invalid
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise invalid from None
    host = (parts.hostname or "").lower()
    # The store's workers will POST to this address: only the browsers' push services (a list
    # in settings), over HTTPS on the standard port, never a host inside our own network.
    if parts.scheme != "https" or parts.username or parts.password or port not in (None, 443):
        raise invalid
    if not any(host == service or host.endswith("." + service) for service in settings.CAMPAIGNS_PUSH_SERVICES):
        raise invalid
    return endpoint


def _valid_key(value, *, field: str, size: int) -> str:
    invalid = ShopError(_("This browser's notification keys are not valid."), field=field)
    if not isinstance(value, str) or not BASE64URL.fullmatch(value) or len(value) > 200:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    if len(raw) != size:
        raise invalid
    if field == "p256dh":
        try:  # a point on the curve the browser encrypts with, or no message could ever be encrypted
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise invalid from None
    return value.rstrip("=")
