from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.accounts.models import Address, Channel, Consent, ConsentChange, ConsentSource, Profile, User
from shop.accounts.signals import user_registered
from shop.core.errors import Conflict, NotFound
from shop.core.tracking import track

PROFILE_FIELDS = ("birthday", "gender", "city", "region", "country", "phone", "analytics_consent")

# The words a customer sees beside each channel's box; the one shown is kept with each change.
CONSENT_WORDING = {
    Channel.EMAIL: gettext_lazy("Send me offers and news by email. I can unsubscribe at any time."),
    Channel.SMS: gettext_lazy("Send me offers by text message to my mobile phone. I can stop them at any time."),
    Channel.PUSH: gettext_lazy("Send me offers as notifications in browsers where I allow them."),
    Channel.ONSITE: gettext_lazy("Show me personal offers in the store when I am logged in."),
}


def customer_register(
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    marketing_consent: bool = False,
    consent_source: str = ConsentSource.REGISTRATION,
    **profile,
) -> User:
    """Create a customer and their profile; `marketing_consent` is the email box (never ticked
    for them). Raises Conflict if the email is taken."""
    email = User.objects.normalize_email(email)
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    validate_password(password, user=candidate)
    with transaction.atomic():
        if User.objects.filter(email=email).exists():
            raise Conflict(
                _("An account with this email already exists. Log in or reset your password."), field="email"
            )
        candidate.set_password(password)
        candidate.save()
        profile_update(user=candidate, **profile)
        consent_set(user=candidate, channel=Channel.EMAIL, given=marketing_consent, source=consent_source)
    transaction.on_commit(lambda: user_registered.send(sender=User, user_id=candidate.pk))
    track("sign_up", customer_id=candidate.pk)  # committed: outside the transaction
    return candidate


def profile_get(*, user: User) -> Profile:
    profile, _created = Profile.objects.get_or_create(user=user)
    return profile


def profile_update(*, user: User, first_name=None, last_name=None, **fields) -> Profile:
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown profile fields: {sorted(unknown)}")
    profile = profile_get(user=user)
    if first_name is not None or last_name is not None:
        user.first_name = user.first_name if first_name is None else first_name
        user.last_name = user.last_name if last_name is None else last_name
        user.save(update_fields=["first_name", "last_name"])
    given = fields.get("analytics_consent")  # when it was given is kept as evidence
    if given is not None and given != profile.analytics_consent:
        profile.analytics_consent_at = timezone.now() if given else None
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.full_clean()
    profile.save()
    return profile


def consent_set(*, user: User, channel: str, given: bool, source: str, wording: str | None = None, at=None) -> bool:
    """Record the customer's answer for one channel, with the evidence. True if it changed.

    Saying no when never asked records nothing (no row already means no). `wording` is what
    the customer saw; by default the channel's box label in the active language."""
    if channel not in Channel.values:
        raise ValueError(f"Unknown channel {channel!r}")
    at = at or timezone.now()
    with transaction.atomic():
        if not given and not Consent.objects.filter(user=user, channel=channel).exists():
            return False
        Consent.objects.get_or_create(user=user, channel=channel, defaults={"changed_at": at})
        # Locked: two answers at once (a click in an email while the account page is saved)
        # both land in the history, in the order they took the lock.
        consent = Consent.objects.select_for_update().get(user=user, channel=channel)
        if consent.given == given:
            return False
        consent.given, consent.changed_at = given, at
        consent.save(update_fields=["given", "changed_at"])
        ConsentChange.objects.create(
            user=user,
            channel=channel,
            given=given,
            at=at,
            source=source,
            wording=str(CONSENT_WORDING[channel] if wording is None else wording),
        )
    return True


def consents_update(*, user: User, answers: dict[str, bool], source: str) -> list[str]:
    """Record several channels' answers (a preferences form); the channels that changed."""
    return [
        channel
        for channel, given in answers.items()
        if consent_set(user=user, channel=channel, given=given, source=source)
    ]


def consents_of(*, user: User) -> dict[str, bool]:
    """Every channel's current answer for the customer (False where never asked)."""
    given = dict(Consent.objects.filter(user=user).values_list("channel", "given"))
    return {channel: given.get(channel, False) for channel in Channel.values}


def address_create(*, user: User, is_default: bool = False, **fields) -> Address:
    with transaction.atomic():
        # The first address a customer saves becomes their default.
        first = not Address.objects.filter(user=user).exists()
        address = Address(user=user, **fields)
        address.full_clean(exclude=["user", "is_default"])
        address.save()
        if is_default or first:
            address_set_default(user=user, address_id=address.pk)
            address.is_default = True
    return address


def address_update(*, user: User, address_id: int, **fields) -> Address:
    address = _own_address(user, address_id)
    is_default = fields.pop("is_default", None)
    for name, value in fields.items():
        setattr(address, name, value)
    address.full_clean(exclude=["user", "is_default"])
    address.save()
    if is_default:
        address_set_default(user=user, address_id=address.pk)
        address.is_default = True
    return address


def address_delete(*, user: User, address_id: int) -> None:
    with transaction.atomic():
        address = _own_address(user, address_id)
        address.delete()
        if address.is_default:
            # Keep a default while any address is left: the newest one takes over.
            successor = Address.objects.filter(user=user).order_by("-created_at", "-id").first()
            if successor:
                address_set_default(user=user, address_id=successor.pk)


def address_set_default(*, user: User, address_id: int) -> None:
    with transaction.atomic():
        # Clear first: the partial unique constraint allows one default per customer.
        Address.objects.filter(user=user, is_default=True).exclude(pk=address_id).update(is_default=False)
        if Address.objects.filter(user=user, pk=address_id).update(is_default=True) != 1:
            raise NotFound(_("Address not found."))


def _own_address(user: User, address_id: int) -> Address:
    # Scoped to the owner: another customer's address is "not found", not "forbidden",
    # so ids cannot be probed.
    try:
        return Address.objects.get(user=user, pk=address_id)
    except (Address.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound(_("Address not found.")) from None


def login_lockout_reset(*, email: str) -> int:
    """Forget an account's failed logins, so it is no longer locked (shop/accounts/lockout.py).

    Called on a successful login, a completed password reset (the emailed link proves the
    inbox is theirs) and by staff. Failures from the same clients at other accounts stay
    counted. Returns how many attempt records were removed.
    """
    return login_attempts_delete(attempts=AccessAttempt.objects.filter(username=User.objects.normalize_email(email)))


def login_attempts_delete(*, attempts) -> int:
    """Remove failed-login records (staff unlocking an account or a client address in the admin)."""
    _total, per_model = attempts.delete()
    return per_model.get(AccessAttempt._meta.label, 0)


def account_details_erase(*, user: User) -> None:
    """The customer's erasure (shop/accounts/privacy.py): the profile and the saved addresses are
    deleted, every marketing consent withdrawn (the history, which names no one once the account
    is anonymised, stays as evidence of what was asked), and the failed logins recorded under
    their email forgotten. The account row itself is anonymised by the erasure afterwards."""
    for channel in Channel.values:
        consent_set(user=user, channel=channel, given=False, source=ConsentSource.ERASURE, wording="")
    Profile.objects.filter(user=user).delete()
    Address.objects.filter(user=user).delete()
    login_lockout_reset(email=user.email)
