"""Referrals: attaching a friend, the welcome discount's claim, the advocate's reward and the abuse rules."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.models import Account, Kind, LedgerEntry, Reason, Referral, new_referral_code
from loyalty.program import current
from loyalty.services.earning import reward
from loyalty.services.ledger import CLOSED_UNPAID, _locked, _take_back, undone_fraction
from loyalty.services.tiers import SPEND_STATES
from shop.cart.pricing import customer_changed
from shop.core.errors import Conflict, NotFound, ShopError
from shop.orders.models import Order


def comparable_email(email: str) -> str:
    """An email as a person owns it: case, "+tags" and (for Gmail) dots do not make a different person."""
    local, _at, domain = (email or "").strip().lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def comparable_address(line1: str, postal_code: str, country: str) -> str:
    return "|".join("".join(ch for ch in part.lower() if ch.isalnum()) for part in (line1, postal_code, country))


def referral_attach(*, friend, code: str) -> Referral:
    """A new customer arrived through a referral link (or typed the code)."""
    code = (code or "").strip().upper()
    advocate = Account.objects.select_related("user").filter(referral_code=code).first()
    if advocate is None or not advocate.user.is_active:  # an erased or closed account refers no one
        raise NotFound(_("That referral code does not exist."), field="code")
    if advocate.pk == friend.pk:
        raise ShopError(_("You cannot refer yourself."), field="code")
    if Referral.objects.filter(friend=friend).exists():
        raise Conflict(_("Your account was already referred by a friend."), field="code")
    if Order.objects.filter(user=friend, status__in=SPEND_STATES).exists():
        raise Conflict(_("Referral rewards are for new customers, before their first order."), field="code")
    referral = Referral(advocate=advocate.user, friend=friend)
    if comparable_email(advocate.user.email) == comparable_email(friend.email):
        referral.status, referral.refusal = Referral.Status.REFUSED, Referral.Refusal.SAME_EMAIL
        referral.decided_at = timezone.now()
    try:
        with transaction.atomic():
            referral.save()
    except IntegrityError:
        raise Conflict(_("Your account was already referred by a friend."), field="code") from None
    return referral


def referral_code_retire(*, user) -> None:
    """The customer's erasure (loyalty/privacy.py): their referral code stops working. It is replaced
    by a new one nobody was given, so links already shared lead nowhere; the account, inactive, can
    refer no one with the new code either (referral_attach)."""
    Account.objects.filter(pk=user.pk).update(referral_code=new_referral_code())


def welcome_referral(user) -> Referral | None:
    """The referral whose welcome discount this customer may still use on a first order."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    referral = Referral.objects.filter(friend=user, status=Referral.Status.PENDING, welcome_order=None).first()
    if referral is None or Order.objects.filter(user=user, status__in=SPEND_STATES).exists():
        return None
    return referral


def referral_welcome_claim(*, order: Order, user) -> None:
    """At checkout: the welcome discount is used by one order only (two checkouts at once: one wins)."""
    claimed = Referral.objects.filter(friend=user, status=Referral.Status.PENDING, welcome_order=None).update(
        welcome_order=order
    )
    customer_changed([user.pk])
    if claimed != 1:
        raise Conflict(
            _("Your welcome discount is already used by another order. Your cart shows the new total."),
            field="cart",
        )


def referral_reward(*, order_id: int, now=None) -> Referral | None:
    """The friend's first order was paid: reward the advocate, unless the abuse rules say no."""
    now = now or timezone.now()
    order = Order.objects.filter(pk=order_id).first()
    if order is None or order.user_id is None:
        return None
    if not current().program.is_active:
        return None  # decided once the program runs again (the sweep retries paid orders)
    with transaction.atomic():
        referral = Referral.objects.select_for_update().filter(friend_id=order.user_id).first()
        if referral is None or referral.status != Referral.Status.PENDING:
            return referral
        # The advocate's row too: two friends paid at once must not both fit under the monthly cap.
        _locked(referral.advocate_id)
        refusal = _referral_refusal(referral, order, now)
        referral.decided_at = now
        referral.rewarded_order = order
        if refusal:
            referral.status, referral.refusal = Referral.Status.REFUSED, refusal
        else:
            referral.status = Referral.Status.REWARDED
        referral.save(update_fields=["status", "refusal", "decided_at", "rewarded_order"])
        if not refusal:
            reward(
                user_id=referral.advocate_id,
                reason=Reason.REFERRAL,
                points=current().program.referral_points,
                reference=f"referral:{referral.pk}",
                now=now,
                pending=True,
                data={"friend": masked_email(referral.friend.email), "order": order.pk},
            )
    return referral


def _referral_refusal(referral: Referral, order: Order, now) -> str:
    first = Order.objects.filter(user_id=order.user_id, status__in=SPEND_STATES).order_by("paid_at", "pk").first()
    if first is not None and first.pk != order.pk:
        return Referral.Refusal.NOT_FIRST_ORDER
    if comparable_email(referral.advocate.email) == comparable_email(order.email):
        return Referral.Refusal.SAME_EMAIL
    shipped_to = comparable_address(order.shipping_line1, order.shipping_postal_code, order.shipping_country)
    if shipped_to in advocate_addresses(referral.advocate_id):
        return Referral.Refusal.SAME_ADDRESS
    month_start = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = Referral.objects.filter(
        advocate_id=referral.advocate_id, status=Referral.Status.REWARDED, decided_at__gte=month_start
    ).count()
    if this_month >= current().program.referral_monthly_cap:
        return Referral.Refusal.MONTHLY_CAP
    return ""


def advocate_addresses(user_id: int) -> set[str]:
    from shop.accounts.models import Address

    saved = Address.objects.filter(user_id=user_id).values_list("line1", "postal_code", "country")
    shipped = (
        Order.objects.filter(user_id=user_id)
        .values_list("shipping_line1", "shipping_postal_code", "shipping_country")
        .distinct()
    )
    return {comparable_address(*row) for row in [*saved, *shipped]}


def masked_email(email: str) -> str:
    local, _at, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def _settle_referral(order: Order, now) -> None:
    """A welcome discount on an order that never completed is free again; a referral reward whose
    order was wholly refunded or cancelled is taken back."""
    if order.status in CLOSED_UNPAID and order.paid_at is None:
        Referral.objects.filter(welcome_order=order, status=Referral.Status.PENDING).update(welcome_order=None)
        customer_changed([order.user_id])
    if undone_fraction(order) < 1:
        return
    referral = Referral.objects.filter(rewarded_order=order, status=Referral.Status.REWARDED).first()
    if referral is None:
        return
    with transaction.atomic():
        account = _locked(referral.advocate_id)
        given = LedgerEntry.objects.filter(account=account, kind=Kind.EARN, reference=f"referral:{referral.pk}").first()
        if given is None or LedgerEntry.objects.filter(account=account, kind=Kind.REVERSE, reference=given.reference):
            return
        _take_back(
            account,
            given,
            given.points,
            now,
            reason=Reason.REFERRAL,
            reference=given.reference,
            data={"order": order.pk},
        )
