"""Every write of the discounts app: codes on carts, claims at checkout, releases, batches."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from marketing.discounts.models import CartCode, CodeBatch, DiscountCode, Promotion, Redemption, normalize_code
from marketing.discounts.models import random_code as new_code
from shop.core import ratelimit
from shop.core.errors import Conflict, NotFound, RateLimited, ShopError
from shop.orders.models import OrderStatus


class CodeNotApplicable(ShopError):
    code = "code_not_applicable"


def reference(promotion: Promotion, code: DiscountCode | None) -> str:
    return f"{promotion.pk}|{code.code if code else ''}"


def parse_reference(value: str) -> tuple[int, str]:
    promotion_id, _sep, code = value.partition("|")
    return int(promotion_id), code


def cart_code(cart) -> DiscountCode | None:
    if cart is None or cart.pk is None:
        return None
    row = CartCode.objects.filter(cart=cart).select_related("code__promotion").first()
    return row.code if row else None


def cart_code_apply(*, cart, code: str, customer, client_key: str):
    """Put a code on the cart if it applies now; otherwise say exactly why not.

    Unknown codes count as guesses: past settings.DISCOUNT_CODE_ATTEMPTS per
    window a client gets 429, so guessing codes does not pay.
    """
    from shop.cart.pricing import price_cart

    limit, period = settings.DISCOUNT_CODE_ATTEMPTS
    key = f"code:{client_key}"
    if ratelimit.is_limited(key, limit=limit):
        raise RateLimited(_("Too many wrong codes. Wait 15 minutes and try again."), field="code")
    found = DiscountCode.objects.select_related("promotion").filter(code=normalize_code(code)).first()
    if found is None:
        ratelimit.record_attempt(key, period=period)
        raise NotFound(
            _("We don't know the code “%(code)s”. Check its spelling.") % {"code": code.strip()}, field="code"
        )
    verdict = code_verdict(code=found, priced=price_cart(cart, customer=customer), customer=customer)
    if not verdict.ok:
        raise CodeNotApplicable(verdict.message, field="code")
    CartCode.objects.update_or_create(cart=cart, defaults={"code": found})
    return found


def code_verdict(*, code: DiscountCode, priced, customer):
    """Whether a code applies to a priced cart, judged with the promotions it meets there.

    An exclusive automatic offer of another kind may block it. A free-shipping code is
    judged before shipping is chosen, so shipping is assumed to cost something.
    """
    from marketing.discounts import engine

    shipping_kinds = {Promotion.Kind.FREE_SHIPPING}
    kinds = shipping_kinds if code.promotion.kind in shipping_kinds else set(Promotion.Kind) - shipping_kinds
    _applied, verdict = engine.evaluate(
        priced=priced, customer=customer, code=code, kinds=kinds, shipping=Decimal("0.01")
    )
    return verdict


def cart_code_remove(*, cart) -> None:
    if cart is not None:
        CartCode.objects.filter(cart=cart).delete()


def cart_code_merge(*, source, target, customer) -> list[str]:
    """At login, the code on the guest's cart moves to the customer's cart if it applies to them there
    (it replaces any code the customer had put on before: it is their latest choice). If it does not,
    it is dropped and the returned note says why. Called inside the merge, before the guest cart goes."""
    from shop.cart.pricing import price_cart

    code, before = cart_code(source), cart_code(target)
    if code is None or code == before:
        return []
    verdict = code_verdict(code=code, priced=price_cart(target, customer=customer), customer=customer)
    if not verdict.ok:
        return [
            _("The code %(code)s you entered before logging in was taken off: %(reason)s")
            % {"code": code.code, "reason": verdict.message}
        ]
    CartCode.objects.update_or_create(cart=target, defaults={"code": code})
    if before is None:
        return []
    return [
        _("Your cart now has the code %(code)s you entered before logging in, instead of %(old)s.")
        % {"code": code.code, "old": before.code}
    ]


def redemptions_claim(*, order, adjustments, customer, cart) -> list[Redemption]:
    """At checkout, inside its transaction: claim each promotion and code used, or veto the order.

    Conditional updates with the limits in their WHERE clause, backed by check
    constraints, so two checkouts racing for the last use cannot both win.
    Promotions are locked in id order, so concurrent checkouts never deadlock.
    """
    claims = sorted((parse_reference(a.reference) + (a,) for a in adjustments), key=lambda c: c[0])
    redemptions = []
    for promotion_id, code_text, adjustment in claims:
        promotion = Promotion.objects.select_for_update().get(pk=promotion_id)
        if customer is not None and promotion.usage_limit_per_customer is not None:
            used = Redemption.objects.filter(
                promotion=promotion, customer=customer, status=Redemption.Status.ACTIVE
            ).count()
            if used >= promotion.usage_limit_per_customer:
                raise Conflict(_("You have already used “%(name)s”.") % {"name": promotion.name}, field="code")
        taken = Promotion.objects.filter(
            Q(usage_limit__isnull=True) | Q(times_used__lt=F("usage_limit")), pk=promotion_id
        ).update(times_used=F("times_used") + 1)
        if taken != 1:
            raise Conflict(_("“%(name)s” has just been fully claimed.") % {"name": promotion.name}, field="code")
        code = None
        if code_text:
            code = DiscountCode.objects.get(code=code_text)
            taken = DiscountCode.objects.filter(
                Q(max_uses__isnull=True) | Q(times_used__lt=F("max_uses")), pk=code.pk
            ).update(times_used=F("times_used") + 1)
            if taken != 1:
                raise Conflict(_("The code %(code)s has already been used.") % {"code": code_text}, field="code")
        try:
            with transaction.atomic():
                redemptions.append(
                    Redemption.objects.create(
                        promotion=promotion,
                        code=code,
                        order=order,
                        customer=customer,
                        amount=-adjustment.amount.amount,
                        currency=adjustment.amount.currency,
                    )
                )
        except IntegrityError:
            raise Conflict(_("This promotion is already on the order.")) from None
    if redemptions and cart is not None:
        CartCode.objects.filter(cart=cart).delete()
    return redemptions


def redemptions_release(*, order_id: int, now=None) -> int:
    """The order never completed (expired, cancelled): its codes and uses come back, once. Safe to repeat.

    The receiver of order_cancelled and the sweep (redemptions_release_missed) may run at
    the same time: each redemption is claimed with a conditional update (active -> released),
    and only the caller that moved it gives the uses back. A refund does not call this: a
    refunded order did use its code.
    """
    now = now or timezone.now()
    released = 0
    active = Redemption.objects.filter(order_id=order_id, status=Redemption.Status.ACTIVE)
    for redemption in active.only("pk", "promotion_id", "code_id"):
        with transaction.atomic():
            claimed = Redemption.objects.filter(pk=redemption.pk, status=Redemption.Status.ACTIVE).update(
                status=Redemption.Status.RELEASED, released_at=now
            )
            if claimed != 1:
                continue  # released meanwhile by the other path
            Promotion.objects.filter(pk=redemption.promotion_id, times_used__gt=0).update(
                times_used=F("times_used") - 1
            )
            if redemption.code_id:
                DiscountCode.objects.filter(pk=redemption.code_id, times_used__gt=0).update(
                    times_used=F("times_used") - 1
                )
            released += 1
    return released


def redemptions_release_missed(*, limit: int = 500, now=None) -> int:
    """Sweep: orders that expired or were cancelled but still hold their codes (the release task
    never ran: the broker or the worker was down) give them back now. Returns the uses released."""
    order_ids = (
        Redemption.objects.filter(
            status=Redemption.Status.ACTIVE, order__status__in=(OrderStatus.EXPIRED, OrderStatus.CANCELLED)
        )
        .order_by("order_id")
        .values_list("order_id", flat=True)
        .distinct()[:limit]
    )
    return sum(redemptions_release(order_id=order_id, now=now) for order_id in list(order_ids))


def batch_create(*, promotion: Promotion, count: int, prefix: str = "", length: int = 8, actor=None) -> CodeBatch:
    """N unique single-use codes for a promotion (e.g. one per customer of a campaign)."""
    if not 1 <= count <= 100_000:
        raise ShopError(_("A batch has from 1 to 100,000 codes."), field="count")
    if not 6 <= length <= 20:
        raise ShopError(_("Codes have from 6 to 20 random characters."), field="length")
    prefix = normalize_code(prefix)
    if len(prefix) > 20 or not all(c.isalnum() or c == "-" for c in prefix):
        raise ShopError(_("A prefix has at most 20 letters, digits or dashes."), field="prefix")
    with transaction.atomic():
        batch = CodeBatch.objects.create(
            promotion=promotion, prefix=prefix, length=length, count=count, created_by=actor
        )
        made = 0
        while made < count:
            wanted = {new_code(prefix=prefix, length=length) for _ in range(count - made)}
            wanted -= set(DiscountCode.objects.filter(code__in=wanted).values_list("code", flat=True))
            DiscountCode.objects.bulk_create(
                [DiscountCode(promotion=promotion, code=c, max_uses=1, batch=batch) for c in wanted]
            )
            made += len(wanted)
    return batch


def promotion_code_create(*, promotion: Promotion, code: str, max_uses: int | None = None) -> DiscountCode:
    code = normalize_code(code)
    if not code or DiscountCode.objects.filter(code=code).exists():
        raise Conflict(_("The code %(code)s already exists.") % {"code": code}, field="code")
    return DiscountCode.objects.create(promotion=promotion, code=code, max_uses=max_uses)


def promotions_set_active(*, promotion_ids, active: bool) -> int:
    """Switch promotions on or off in bulk; product pages showing their prices are refreshed."""
    from shop.catalog import cache as catalog_cache

    count = Promotion.objects.filter(pk__in=promotion_ids).exclude(is_active=active).update(is_active=active)
    if count:
        catalog_cache.changed()  # a bulk update sends no post_save
    return count
