"""Every write of the discounts app: codes on carts, claims at checkout, releases, batches."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, ProtectedError, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from marketing.discounts import index
from marketing.discounts.models import CartCode, CodeBatch, DiscountCode, Promotion, Redemption, normalize_code
from marketing.discounts.models import random_code as new_code
from shop.cart.snapshot import carts_changed
from shop.catalog import cache as catalog_cache
from shop.core import ratelimit
from shop.core.errors import Conflict, NotFound, RateLimited, ShopError
from shop.core.money import Money
from shop.core.tracking import track
from shop.orders.models import OrderStatus


class CodeNotApplicable(ShopError):
    code = "code_not_applicable"


log = logging.getLogger(__name__)


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
    priced = price_cart(cart, customer=customer)
    applied, verdict = _judge(code=found, priced=priced, customer=customer)
    if not verdict.ok:
        raise CodeNotApplicable(verdict.message, field="code")
    CartCode.objects.update_or_create(cart=cart, defaults={"code": found})
    _track_code(found, applied, priced.currency)
    return found


def _track_code(code: DiscountCode, applied, currency: str) -> None:
    """apply_code, once the code is on the cart: the code, its promotion and what it takes off the
    cart as priced now (none for free shipping, judged before shipping is chosen)."""
    saving = None
    if code.promotion.kind != Promotion.Kind.FREE_SHIPPING:
        amounts = [a.amount for a in applied if a.code is not None and a.code.pk == code.pk]
        saving = sum(amounts, Money.zero(currency)) if amounts else None
    transaction.on_commit(lambda: track("apply_code", code=code.code, promotion=code.promotion_id, value=saving))


def code_verdict(*, code: DiscountCode, priced, customer, found=None):
    """Whether a code applies to a priced cart, judged with the promotions it meets there.

    An exclusive automatic offer of another kind may block it. A free-shipping code is
    judged before shipping is chosen, so shipping is assumed to cost something.
    `found`: the cart's candidate promotions of every kind when already read (the cart panel).
    """
    return _judge(code=code, priced=priced, customer=customer, found=found)[1]


def _judge(*, code: DiscountCode, priced, customer, found=None):
    """code_verdict's judgement, with what applies (engine.Applied: the code's amount among them)."""
    from marketing.discounts import engine

    shipping_kinds = {Promotion.Kind.FREE_SHIPPING}
    kinds = shipping_kinds if code.promotion.kind in shipping_kinds else set(Promotion.Kind) - shipping_kinds
    return engine.evaluate(
        priced=priced,
        customer=customer,
        code=code,
        kinds=kinds,
        shipping=Decimal("0.01"),
        found=None if found is None else [p for p in found if p.kind in kinds],
    )


def cart_code_remove(*, cart) -> None:
    if cart is not None:
        CartCode.objects.filter(cart=cart).delete()
        carts_changed([cart.pk])


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


def redemptions_claim(*, order, adjustments, customer, cart, code: DiscountCode | None = None) -> list[Redemption]:
    """At checkout, inside its transaction: claim each promotion and code used, or veto the order
    (a veto rolls the whole checkout back).

    The promotions are locked in id order, so concurrent checkouts never deadlock, and their
    limits are checked on what the lock makes current; then one conditional update counts
    their uses (its WHERE repeats the limits, and check constraints are the last guard), so
    two checkouts racing for the last use cannot both win. Codes likewise.
    `code`: the cart's code, if the caller has read it already.
    """
    claims = sorted((parse_reference(a.reference) + (a,) for a in adjustments), key=lambda c: c[0])
    if not claims:
        return []
    ids = [promotion_id for promotion_id, _code, _adjustment in claims]
    if len(set(ids)) != len(ids):
        raise Conflict(_("This promotion is already on the order."))
    promotions = {p.pk: p for p in Promotion.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    for promotion_id, _code, adjustment in claims:
        promotion = promotions.get(promotion_id)
        if promotion is None:  # deleted meanwhile (only a promotion never used can be)
            raise Conflict(_("“%(name)s” has just ended.") % {"name": adjustment.label}, field="code")
        if promotion.usage_limit is not None and promotion.times_used >= promotion.usage_limit:
            raise Conflict(_("“%(name)s” has just been fully claimed.") % {"name": promotion.name}, field="code")
    _check_uses_per_customer([promotions[pk] for pk in ids], customer)
    taken = Promotion.objects.filter(
        Q(usage_limit__isnull=True) | Q(times_used__lt=F("usage_limit")), pk__in=ids
    ).update(times_used=F("times_used") + 1)
    if taken != len(ids):  # cannot happen under the locks: the limits were checked on the locked rows
        raise Conflict(_("A promotion on your order has just been fully claimed."), field="code")
    if any(p.usage_limit is not None and p.times_used + 1 >= p.usage_limit for p in promotions.values()):
        catalog_cache.offers_changed()  # a last use: product pages stop showing its price
    codes = {}
    for _promotion_id, code_text, _adjustment in claims:
        if code_text:
            codes[code_text] = _code_claim(code_text, code)
    try:
        redemptions = Redemption.objects.bulk_create(
            [
                Redemption(
                    promotion=promotions[promotion_id],
                    code=codes.get(code_text),
                    order=order,
                    customer=customer,
                    amount=-adjustment.amount.amount,
                    currency=adjustment.amount.currency,
                )
                for promotion_id, code_text, adjustment in claims
            ]
        )
    except IntegrityError:
        raise Conflict(_("This promotion is already on the order.")) from None
    index.uses_changed(
        promotion_ids=ids,
        code_ids=[code.pk for code in codes.values()],
        customer_ids=[customer.pk] if customer is not None else [],
    )
    if codes and cart is not None:
        CartCode.objects.filter(cart=cart).delete()  # used up by this order
        carts_changed([cart.pk])
    return redemptions


def _check_uses_per_customer(promotions: list[Promotion], customer) -> None:
    """Counted under the promotions' locks, so one customer's two checkouts at once cannot both pass."""
    limited = {p.pk: p for p in promotions if p.usage_limit_per_customer is not None}
    if customer is None or not limited:
        return
    used = dict(
        Redemption.objects.filter(promotion_id__in=limited, customer=customer, status=Redemption.Status.ACTIVE)
        .values("promotion_id")
        .annotate(n=Count("pk"))
        .values_list("promotion_id", "n")
    )
    for pk, promotion in limited.items():
        if used.get(pk, 0) >= promotion.usage_limit_per_customer:
            raise Conflict(_("You have already used “%(name)s”.") % {"name": promotion.name}, field="code")


def _code_claim(code_text: str, known: DiscountCode | None) -> DiscountCode:
    code = known if known is not None and known.code == code_text else DiscountCode.objects.get(code=code_text)
    taken = DiscountCode.objects.filter(Q(max_uses__isnull=True) | Q(times_used__lt=F("max_uses")), pk=code.pk).update(
        times_used=F("times_used") + 1
    )
    if taken != 1:
        raise Conflict(_("The code %(code)s has already been used.") % {"code": code_text}, field="code")
    return code


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
    for redemption in active.only("pk", "promotion_id", "code_id", "customer_id"):
        with transaction.atomic():
            claimed = Redemption.objects.filter(pk=redemption.pk, status=Redemption.Status.ACTIVE).update(
                status=Redemption.Status.RELEASED, released_at=now
            )
            if claimed != 1:
                continue  # released meanwhile by the other path
            Promotion.objects.filter(pk=redemption.promotion_id, times_used__gt=0).update(
                times_used=F("times_used") - 1
            )
            if Promotion.objects.filter(pk=redemption.promotion_id, times_used=F("usage_limit") - 1).exists():
                catalog_cache.offers_changed()  # used up no more: product pages show its price again
            if redemption.code_id:
                DiscountCode.objects.filter(pk=redemption.code_id, times_used__gt=0).update(
                    times_used=F("times_used") - 1
                )
            index.uses_changed(
                promotion_ids=[redemption.promotion_id],
                code_ids=[redemption.code_id],
                customer_ids=[redemption.customer_id],
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
    """N unique single-use codes for a promotion (e.g. one per customer of a campaign).

    Up to settings.DISCOUNT_CODE_BATCH_SYNC_MAX they are made now and the batch
    comes back done; a larger batch comes back pending, and a task makes it
    (code_batch_fill) after this transaction commits. Above
    settings.DISCOUNT_CODE_BATCH_MAX, nothing is made: a ShopError (400).
    """
    hard_max = settings.DISCOUNT_CODE_BATCH_MAX
    if not 1 <= count <= hard_max:
        raise ShopError(
            _("A batch has from 1 to %(max)s codes: split a larger campaign into several batches.")
            % {"max": f"{hard_max:,}"},
            field="count",
        )
    if not 6 <= length <= 20:
        raise ShopError(_("Codes have from 6 to 20 random characters."), field="length")
    prefix = normalize_code(prefix)
    if len(prefix) > 20 or not all(c.isalnum() or c == "-" for c in prefix):
        raise ShopError(_("A prefix has at most 20 letters, digits or dashes."), field="prefix")
    if not promotion.requires_code:
        raise ShopError(_("This promotion applies without a code: codes would do nothing."), field="promotion")
    batch = CodeBatch.objects.create(promotion=promotion, prefix=prefix, length=length, count=count, created_by=actor)
    if count <= settings.DISCOUNT_CODE_BATCH_SYNC_MAX:
        return code_batch_fill(batch_id=batch.pk)
    transaction.on_commit(lambda: _enqueue_fill(batch.pk))
    return batch


# Code batches: codes per transaction in the background (progress shows, no lock is held for long), and how
# long a waiting or running batch may go without progress before the sweep starts it again.
BATCH_CHUNK = 2_000
STALLED_AFTER = dt.timedelta(minutes=10)


def _enqueue_fill(batch_id: int) -> None:
    from marketing.discounts.tasks import fill_code_batch

    try:
        fill_code_batch.delay(batch_id=batch_id)
    except Exception:  # the broker is down: the batch waits, and the scheduled sweep starts it
        log.warning("Could not enqueue code batch %s; the scheduled sweep will start it.", batch_id, exc_info=True)


def code_batch_fill(*, batch_id: int) -> CodeBatch:
    """Make the codes a batch still lacks, a chunk per transaction. Safe to run again, even twice at once.

    Each chunk locks the batch row and counts the codes already stored, so a run
    resumed after a crash, or a second worker on the same batch, never makes
    more than `count`. A code that already exists anywhere is skipped and drawn again.
    """
    while True:
        with transaction.atomic():
            batch = CodeBatch.objects.select_for_update().get(pk=batch_id)
            if batch.status in (CodeBatch.Status.DONE, CodeBatch.Status.FAILED):
                return batch
            made = batch.codes.count()
            wanted = min(BATCH_CHUNK, batch.count - made)
            if wanted > 0:
                _make_codes(batch, wanted)
                made = batch.codes.count()
            batch.made = made
            batch.status = CodeBatch.Status.RUNNING
            if made >= batch.count:
                batch.status, batch.finished_at = CodeBatch.Status.DONE, timezone.now()
            batch.save(update_fields=["made", "status", "finished_at", "updated_at"])
        if batch.status == CodeBatch.Status.DONE:
            return batch


def _make_codes(batch: CodeBatch, wanted: int) -> None:
    codes = {new_code(prefix=batch.prefix, length=batch.length) for _ in range(wanted)}
    codes -= set(DiscountCode.objects.filter(code__in=codes).values_list("code", flat=True))
    # ignore_conflicts: a code another batch stored a moment ago is skipped, not an error (the next chunk draws more).
    DiscountCode.objects.bulk_create(
        [DiscountCode(promotion_id=batch.promotion_id, code=c, max_uses=1, batch=batch) for c in codes],
        ignore_conflicts=True,
    )


def code_batch_fail(*, batch_id: int, error: str) -> None:
    """The task gave up after its retries: staff see why (the codes made so far stay; the batch is not offered)."""
    CodeBatch.objects.filter(pk=batch_id).exclude(status=CodeBatch.Status.DONE).update(
        status=CodeBatch.Status.FAILED, error=error[:300], updated_at=timezone.now()
    )


def code_batches_stalled(*, now=None) -> list[int]:
    """Batches waiting or running with no progress for a while: their task was lost (broker down, worker killed)."""
    now = now or timezone.now()
    return list(
        CodeBatch.objects.filter(
            status__in=(CodeBatch.Status.PENDING, CodeBatch.Status.RUNNING), updated_at__lt=now - STALLED_AFTER
        ).values_list("pk", flat=True)
    )


# --- promotions ----------------------------------------------------------------------------------------------------

PROMOTION_RELATIONS = ("categories", "products", "excluded_products", "customers")


def _split(fields: dict) -> tuple[dict, dict]:
    plain = {k: v for k, v in fields.items() if k not in PROMOTION_RELATIONS}
    return plain, {k: v for k, v in fields.items() if k in PROMOTION_RELATIONS}


def promotion_create(*, fields: dict) -> Promotion:
    """A promotion from validated fields, its many-to-many lists included (pages showing prices refresh on save)."""
    plain, relations = _split(fields)
    with transaction.atomic():
        promotion = Promotion.objects.create(**plain)
        for name, values in relations.items():
            getattr(promotion, name).set(values)
    return promotion


def promotion_update(*, promotion: Promotion, fields: dict) -> Promotion:
    """Change the given fields only: saving every field would overwrite `times_used`, which checkouts count up."""
    plain, relations = _split(fields)
    with transaction.atomic():
        for name, value in plain.items():
            setattr(promotion, name, value)
        if plain:
            promotion.save(update_fields=[*plain, "updated_at"])
        for name, values in relations.items():
            getattr(promotion, name).set(values)
    return promotion


def promotion_delete(*, promotion: Promotion) -> None:
    """Delete a promotion no order used (with its codes); a used one stays on record (Conflict)."""
    try:
        with transaction.atomic():
            promotion.delete()
    except ProtectedError:
        raise Conflict(
            _("Orders have used this promotion, so it stays on record: turn it off (is_active) instead.")
        ) from None


def promotion_code_create(*, promotion: Promotion, code: str, max_uses: int | None = None) -> DiscountCode:
    code = normalize_code(code)
    if not code or DiscountCode.objects.filter(code=code).exists():
        raise Conflict(_("The code %(code)s already exists.") % {"code": code}, field="code")
    return DiscountCode.objects.create(promotion=promotion, code=code, max_uses=max_uses)


def promotions_set_active(*, promotion_ids, active: bool) -> int:
    """Switch promotions on or off in bulk; product pages showing their prices are refreshed."""
    count = Promotion.objects.filter(pk__in=promotion_ids).exclude(is_active=active).update(is_active=active)
    if count:
        catalog_cache.offers_changed()  # a bulk update sends no post_save
    return count


def personal_code_issue(*, promotion_id: int, prefix: str = "", length: int = 8) -> str:
    """A new single-use code of the promotion for one customer (a campaign's exclusive offer).

    Raises NotFound when the promotion is gone or switched off: a message then goes without
    an offer it could not honour."""
    promotion = Promotion.objects.filter(pk=promotion_id, is_active=True).first()
    if promotion is None:
        raise NotFound(_("The promotion for personal codes is gone or switched off."))
    for _attempt in range(5):
        try:
            with transaction.atomic():  # a savepoint: a code drawn twice fails alone
                return DiscountCode.objects.create(
                    promotion=promotion, code=new_code(prefix=prefix, length=length), max_uses=1
                ).code
        except IntegrityError:
            continue
    raise Conflict(_("No free code could be drawn: lengthen the codes."))
