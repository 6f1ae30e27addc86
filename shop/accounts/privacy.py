"""What the store holds about a customer: all of it as one download, and the erasure of the account.

The shop does not know every app that keeps something about a customer. Each app lists its *part*
in settings.SHOP_ACCOUNT_DATA (docs/privacy.md, docs/architecture.md "Account data"), a class with:

- `key` (the section's name in the download) and `label` (translatable, shown to people);
- `export(user)`: what the app holds about the customer, as dicts and lists of plain values
  (datetimes, dates and Decimals are written as strings);
- `erase(user)`: delete or anonymise it, through the app's services. It runs inside the erasure's
  one transaction, before the account row itself is anonymised (so `user.email` is still the
  customer's), and must not send anything outside: files and emails wait for the commit;
- optionally `erases` and `keeps`: what erasing does to this part and what it keeps, in a sentence
  each, shown on the erasure page;
- optionally `blocks_erasure(user)`: None, or why the account cannot be erased yet and what to do
  about it (an order on its way), in words for the customer.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Protocol

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.authtoken.models import Token

from shop.accounts import services
from shop.accounts.models import Erasure, Profile, User
from shop.core.errors import Conflict

# The download's layout: raised when a section changes shape in a way a reader would notice.
FORMAT_VERSION = 1


class AccountDataPart(Protocol):
    key: str
    label: str

    def export(self, user) -> dict | list: ...

    def erase(self, user) -> None: ...


def erasure_summary() -> list[dict]:
    """What erasing does, part by part, as the erasure page says it: label, erases, keeps."""
    return [
        {"label": part.label, "erases": getattr(part, "erases", ""), "keeps": getattr(part, "keeps", "")}
        for part in parts()
    ]


class ErasureBlocked(Conflict):
    """The account cannot be erased yet: `reasons` say why and what to do, one sentence each."""

    code = "erasure_blocked"

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__(" ".join(reasons))


@cache
def _load(paths: tuple[str, ...]) -> tuple[AccountDataPart, ...]:
    return tuple(import_string(path)() for path in paths)


def parts() -> tuple[AccountDataPart, ...]:
    return _load(tuple(settings.SHOP_ACCOUNT_DATA))


def customer_data_export(*, user) -> dict:
    """Everything the store holds about the customer, one section per part, as plain JSON values."""
    document = {
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now(),
        "store": settings.SHOP_NAME,
        "site": settings.SHOP_SITE_URL,
        "sections": {part.key: {"label": str(part.label), "data": part.export(user)} for part in parts()},
    }
    # Through the encoder and back: what the page and the API send is exactly this, with money
    # and moments as strings (DRF's own encoder would turn Decimals into floats).
    return json.loads(json.dumps(document, cls=DjangoJSONEncoder))


def erasure_blockers(*, user) -> list[str]:
    """Why the account cannot be erased now, each with what to do next; empty when it can."""
    reasons = []
    if user.is_staff or user.is_superuser:
        reasons.append(_("This is a staff account: take away its staff status in the admin first."))
    for part in parts():
        check = getattr(part, "blocks_erasure", None)
        reason = check(user) if check is not None else None
        if reason:
            reasons.append(str(reason))
    return reasons


def erased_email(user_id: int) -> str:
    """The address an erased account keeps: unique, and not one anybody can register (no dot in
    the domain, which the store's email validation refuses)."""
    return f"erased-{user_id}@invalid"


def customer_erase(*, user, requested_by: str, staff=None) -> Erasure:
    """Erase the customer's personal data; what the books need (orders and their amounts) stays.

    Raises ErasureBlocked (409) while a part says no (an order on its way), Conflict if the account
    was erased already. Every part's erase, the account row and the record of the erasure are one
    transaction: all of it happens, or none. Sessions end after the commit.
    """
    if requested_by not in Erasure.By.values:
        raise ValueError(f"requested_by must be one of {Erasure.By.values}")
    with transaction.atomic():
        # The account's row is locked: two erasures of one account (a double click, the customer
        # and staff at once) run one after the other, and the second finds the first's record.
        locked = User.objects.select_for_update().get(pk=user.pk)
        if Erasure.objects.filter(customer_id=locked.pk).exists():
            raise Conflict(_("This account has already been erased."))
        reasons = erasure_blockers(user=locked)
        if reasons:
            raise ErasureBlocked(reasons)
        for part in parts():
            part.erase(locked)
        _anonymise(locked)
        Token.objects.filter(user=locked).delete()
        erasure = Erasure.objects.create(
            customer_id=locked.pk,
            at=timezone.now(),
            by=requested_by,
            staff=staff if requested_by == Erasure.By.STAFF else None,
        )
    _end_sessions(locked.pk)
    user.refresh_from_db(fields=["email", "first_name", "last_name", "password", "is_active"])
    return erasure


def _anonymise(user: User) -> None:
    user.email = erased_email(user.pk)
    user.first_name = user.last_name = ""
    user.set_unusable_password()
    user.is_active = False
    user.save(update_fields=["email", "first_name", "last_name", "password", "is_active"])


def _end_sessions(user_id: int) -> None:
    """Log the customer out everywhere. Their sessions are already worthless (no usable password,
    inactive account); this removes the rows, and their cached copies (sessions are read through
    the cache). Sessions are not indexed by customer, so the live ones are read and decoded: an
    erasure is rare, and this runs after the commit, holding no lock."""
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore
    mine = str(user_id)
    live = Session.objects.filter(expire_date__gt=timezone.now()).order_by()
    for session in live.iterator(chunk_size=2000):
        if session.get_decoded().get(SESSION_KEY) == mine:
            store(session_key=session.session_key).delete()


# -- the account's own part ----------------------------------------------------------------------

# Named one by one: a field added to the profile is exported when someone decides it should be.
PROFILE_EXPORT_FIELDS = (
    "birthday",
    "gender",
    "city",
    "region",
    "country",
    "phone",
    "analytics_consent",
    "analytics_consent_at",
)
ADDRESS_EXPORT_FIELDS = (
    "full_name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "is_default",
    "created_at",
)


class AccountData:
    """The account, its profile and saved addresses."""

    key = "account"
    label = gettext_lazy("Your account")
    erases = gettext_lazy(
        "Your name, email address and password, your profile (birthday, gender, place, consents) and "
        "your saved addresses. You can no longer log in."
    )
    keeps = gettext_lazy("An empty account with a number, to which the orders kept below still belong.")

    def export(self, user) -> dict:
        profile = Profile.objects.filter(user=user).first()
        return {
            "id": user.pk,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "profile": {name: getattr(profile, name) for name in PROFILE_EXPORT_FIELDS} if profile else None,
            "addresses": list(user.addresses.order_by("created_at", "id").values(*ADDRESS_EXPORT_FIELDS)),
            "marketing_consent": services.consents_of(user=user),
            "marketing_consent_history": list(
                user.consent_changes.order_by("at", "id").values("channel", "given", "at", "source", "wording")
            ),
        }

    def erase(self, user) -> None:
        services.account_details_erase(user=user)
