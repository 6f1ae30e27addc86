import uuid

from django.db.models import Prefetch, Sum, prefetch_related_objects

from shop.cart.models import Cart, CartLine
from shop.catalog.models import ProductImage
from shop.catalog.selectors import variants_load_options

SESSION_KEY = "cart_token"
HEADER = "X-Cart-Token"


def cart_token_from_request(request) -> uuid.UUID | None:
    token = request.headers.get(HEADER) or request.session.get(SESSION_KEY)
    try:
        return uuid.UUID(str(token)) if token else None
    except ValueError:  # a malformed token is no cart, not an error
        return None


def _lines() -> Prefetch:
    return Prefetch(
        "lines",
        queryset=CartLine.objects.select_related("product", "product__category", "variant").prefetch_related(
            Prefetch("product__images", queryset=ProductImage.objects.order_by("position", "id"))
        ),
    )


def load_lines(cart: Cart, memo: dict | None = None) -> Cart:
    """Read a cart's lines with their products (two queries); with a pricing's memo, declare the
    products' tokens (read after the rows: shop.cart.snapshot trusts that once read before)."""
    from shop.cart.pricing import depends_on
    from shop.catalog.cache import product_token_keys

    getattr(cart, "_prefetched_objects_cache", {}).pop("lines", None)  # read now, not as read before
    prefetch_related_objects([cart], _lines())
    _with_options(cart)
    if memo is not None:
        depends_on(memo, product_token_keys(sorted({line.product_id for line in cart.lines.all()})), late=True)
    return cart


def cart_for_request(request, *, with_lines: bool = True) -> Cart | None:
    """The requester's cart with its lines and products, or None (no query for a new visitor).

    A logged-in customer always gets their own cart; a cart token is only used
    for anonymous carts, so knowing a token never opens a customer's cart.
    """
    queryset = Cart.objects.prefetch_related(_lines()) if with_lines else Cart.objects.all()
    if request.user.is_authenticated:
        cart = queryset.filter(user=request.user).first()
    else:
        token = cart_token_from_request(request)
        if not token:
            return None
        cart = queryset.filter(token=token, user__isnull=True).first()
    if cart is not None and with_lines:
        _with_options(cart)
    return cart


def _with_options(cart: Cart) -> None:
    # A line's variant's product is the line's product (already read): its options then cost one
    # query, and none when no product in the cart has variant options.
    lines = cart.lines.all()
    for line in lines:
        line.variant.product = line.product
    variants_load_options([line.variant for line in lines])


def cart_item_count(request) -> int:
    if request.user.is_authenticated:
        filters = {"cart__user": request.user}
    else:
        token = cart_token_from_request(request)
        if not token:
            return 0
        filters = {"cart__token": token, "cart__user__isnull": True}
    return CartLine.objects.filter(**filters).aggregate(n=Sum("quantity"))["n"] or 0
