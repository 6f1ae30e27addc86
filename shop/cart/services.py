import logging
import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop.cart.models import Cart, CartLine
from shop.cart.selectors import SESSION_KEY
from shop.cart.signals import cart_changed, cart_merged
from shop.cart.snapshot import carts_changed
from shop.catalog.models import Product, Variant
from shop.core.errors import InsufficientStock, NotFound, ProductUnavailable, ShopError
from shop.core.tracking import track

MAX_LINE_QUANTITY = 999

log = logging.getLogger(__name__)


def cart_get_or_create(*, request) -> Cart:
    """The requester's cart, created on first use; an anonymous one is remembered in the session."""
    from shop.cart.selectors import cart_for_request

    cart = cart_for_request(request, with_lines=False)  # the callers read the lines they change
    if cart is not None:
        return cart
    if request.user.is_authenticated:
        cart, _created = Cart.objects.get_or_create(user=request.user)
        return cart
    cart = Cart.objects.create()
    request.session[SESSION_KEY] = str(cart.token)
    return cart


def _check_quantity(quantity) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ShopError(
            _("Quantity must be a whole number of at least 1. To remove a product, delete its line."), field="quantity"
        )
    if quantity > MAX_LINE_QUANTITY:
        raise ShopError(_("At most %(max)d of one product per order.") % {"max": MAX_LINE_QUANTITY}, field="quantity")
    return quantity


def _check_stock(variant: Variant, quantity: int) -> None:
    product = variant.product
    if not product.is_active or not variant.is_active:
        raise ProductUnavailable(_("“%(name)s” is no longer sold.") % {"name": product.name}, field="product")
    if quantity > variant.stock:
        if variant.stock == 0:
            message = _("“%(name)s” is out of stock.") % {"name": product.name}
        else:
            message = ngettext(
                "Only %(count)d of “%(name)s” is in stock.",
                "Only %(count)d of “%(name)s” are in stock.",
                variant.stock,
            ) % {"count": variant.stock, "name": product.name}
        raise InsufficientStock(message, field="quantity")


def variant_for_product(product: Product) -> Variant:
    """The variant to add when a shopper or client names only the product: its single variant."""
    variant = _only(list(product.variants.active()[:2]))
    variant.product = product
    return variant


def variant_to_add(products) -> Variant | None:
    """The single variant of the one product in `products` (a queryset), read with its product in one
    query; None when there is no such product."""
    variants = list(Variant.objects.active().select_related("product").filter(product__in=products).order_by("pk")[:2])
    return _only(variants) if variants else None


def _only(variants: list[Variant]) -> Variant:
    # A product with several variants cannot guess which one: the shopper must choose (400).
    if len(variants) != 1:
        raise ShopError(_("Choose a size and colour."), field="variant")
    return variants[0]


def _lock(cart: Cart) -> None:
    """Serialise changes to one cart (two tabs at once). The cart's row first, then its lines and
    products, in the order checkout locks them, so a change and a checkout never wait on each other
    in a circle."""
    Cart.objects.select_for_update().filter(pk=cart.pk).first()


def _touch(cart: Cart) -> None:
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
    carts_changed([cart.pk])  # bulk writes to its lines send no signals
    transaction.on_commit(lambda: cart_changed.send(sender=Cart, cart_id=cart.pk, user_id=cart.user_id))


def _track_quantity(product: Product, change: int, variant: Variant | None = None) -> None:
    """add_to_cart or remove_from_cart for this change of a line's quantity, once it is committed."""
    if change:
        name = "add_to_cart" if change > 0 else "remove_from_cart"
        price = (variant or product).price_money
        transaction.on_commit(
            lambda: track(name, product_id=product.pk, quantity=abs(change), value=price * abs(change))
        )


def cart_add(
    *, cart: Cart, product: Product | None = None, variant: Variant | None = None, quantity: int = 1
) -> CartLine:
    """Add to the variant's line (or start one). The total may not exceed the variant's stock.

    Given only the product, its single variant (variant_for_product refuses a product with several).
    Stock is only checked here; it is taken at checkout, where the check is authoritative.
    """
    _check_quantity(quantity)
    if variant is None:
        variant = variant_for_product(product)
    product = variant.product
    with transaction.atomic():
        _lock(cart)
        line = CartLine.objects.filter(cart=cart, variant=variant).first()
        new_quantity = (line.quantity if line else 0) + quantity
        _check_quantity(new_quantity)
        _check_stock(variant, new_quantity)
        if line:
            line.quantity = new_quantity
            line.save(update_fields=["quantity"])
        else:
            line = CartLine.objects.create(cart=cart, product=product, variant=variant, quantity=quantity)
        _touch(cart)
        _track_quantity(product, quantity, variant)
    return line


def cart_set_quantity(*, cart: Cart, line_id: int, quantity: int) -> CartLine:
    _check_quantity(quantity)
    with transaction.atomic():
        _lock(cart)
        line = _own_line(cart, line_id, lock=True)
        _check_stock(line.variant, quantity)
        change = quantity - line.quantity
        line.quantity = quantity
        line.save(update_fields=["quantity"])
        _touch(cart)
        _track_quantity(line.product, change, line.variant)
    return line


def cart_remove(*, cart: Cart, line_id: int) -> None:
    with transaction.atomic():
        _lock(cart)
        line = _own_line(cart, line_id, lock=True)
        line.delete()
        _touch(cart)
        _track_quantity(line.product, -line.quantity, line.variant)


def _own_line(cart: Cart, line_id, *, lock=False) -> CartLine:
    lines = CartLine.objects.select_related("product", "variant").filter(cart=cart)
    if lock:
        lines = lines.select_for_update()
    try:
        return lines.get(pk=line_id)
    except (CartLine.DoesNotExist, ValueError, TypeError):
        raise NotFound(_("That line is not in your cart."), field="line") from None


def cart_merge(*, source: Cart, user) -> list[str]:
    """Move an anonymous cart into the customer's cart; return what changed, for the customer to read.

    Quantities add up, capped at the stock; products no longer sold are dropped. What other apps
    keep on the guest cart (a discount code) moves over too, or they say why not (signals.cart_merged).
    """
    notes: list[str] = []
    with transaction.atomic():
        target, _created = Cart.objects.select_for_update().get_or_create(user=user)
        existing = {line.variant_id: line for line in target.lines.select_for_update()}
        for line in source.lines.select_related("product", "variant"):
            product, variant = line.product, line.variant
            wanted = line.quantity + (existing[variant.pk].quantity if variant.pk in existing else 0)
            sold = product.is_active and variant.is_active
            allowed = min(wanted, variant.stock, MAX_LINE_QUANTITY) if sold else 0
            if allowed < wanted:
                notes.append(_merge_note(product, allowed, sold=sold))
            if allowed == 0:
                continue
            if variant.pk in existing:
                existing[variant.pk].quantity = allowed
                existing[variant.pk].save(update_fields=["quantity"])
            else:
                CartLine.objects.create(cart=target, product=product, variant=variant, quantity=allowed)
        if source.lines.exists():
            notes.insert(0, _("The products you picked before logging in are now in your cart."))
        notes += _merge_extras(source=source, target=target, user=user)
        source.delete()
        _touch(target)
    return notes


def _merge_extras(*, source: Cart, target: Cart, user) -> list[str]:
    """The apps' part of the merge. A failure there must not stop the customer logging in: it is
    undone (a savepoint) and logged, and the products are merged all the same."""
    notes: list[str] = []
    try:
        with transaction.atomic():
            for _receiver, response in cart_merged.send(sender=Cart, source=source, target=target, user=user):
                notes += response or []
    except Exception:
        log.exception("Moving what the apps keep on cart %s to cart %s failed", source.pk, target.pk)
        return []
    return notes


def _merge_note(product: Product, allowed: int, *, sold: bool) -> str:
    if not sold:
        return _("“%(name)s” is no longer sold and was removed.") % {"name": product.name}
    if allowed == 0:
        return _("“%(name)s” is out of stock and was removed.") % {"name": product.name}
    return ngettext(
        "“%(name)s”: quantity lowered to %(count)d, the only one in stock.",
        "“%(name)s”: quantity lowered to %(count)d, all we have in stock.",
        allowed,
    ) % {"name": product.name, "count": allowed}


def cart_merge_from_token(*, user, token: str | None) -> list[str]:
    """Merge the anonymous cart an API client held (X-Cart-Token) into the customer's cart."""
    if not token:
        return []
    try:
        source = Cart.objects.filter(token=uuid.UUID(str(token)), user__isnull=True).first()
    except ValueError:
        return []
    return cart_merge(source=source, user=user) if source else []


def carts_purge_stale(*, older_than) -> int:
    """Delete anonymous carts untouched since `older_than`; customers' carts are kept."""
    deleted, _by_model = Cart.objects.filter(user__isnull=True, updated_at__lt=older_than).delete()
    return deleted


def cart_discard(*, user) -> None:
    """The customer's erasure (shop/accounts/privacy.py): their cart goes, with its lines and
    whatever other apps put on it (a code, points)."""
    ids = list(Cart.objects.filter(user=user).values_list("pk", flat=True))
    if ids:
        Cart.objects.filter(pk__in=ids).delete()
        carts_changed(ids)
