import uuid

from django.db.models import Prefetch, Sum

from shop.cart.models import Cart, CartLine
from shop.catalog.models import ProductImage

SESSION_KEY = "cart_token"
HEADER = "X-Cart-Token"


def cart_token_from_request(request) -> uuid.UUID | None:
    token = request.headers.get(HEADER) or request.session.get(SESSION_KEY)
    try:
        return uuid.UUID(str(token)) if token else None
    except ValueError:  # a malformed token is no cart, not an error
        return None


def cart_for_request(request, *, with_lines: bool = True) -> Cart | None:
    """The requester's cart with its lines and products, or None (no query for a new visitor).

    A logged-in customer always gets their own cart; a cart token is only used
    for anonymous carts, so knowing a token never opens a customer's cart.
    """
    queryset = (
        Cart.objects.all()
        if not with_lines
        else Cart.objects.prefetch_related(
            Prefetch(
                "lines",
                queryset=CartLine.objects.select_related("product", "product__category").prefetch_related(
                    Prefetch("product__images", queryset=ProductImage.objects.order_by("position", "id"))
                ),
            )
        )
    )
    if request.user.is_authenticated:
        return queryset.filter(user=request.user).first()
    token = cart_token_from_request(request)
    if not token:
        return None
    return queryset.filter(token=token, user__isnull=True).first()


def cart_item_count(request) -> int:
    if request.user.is_authenticated:
        filters = {"cart__user": request.user}
    else:
        token = cart_token_from_request(request)
        if not token:
            return 0
        filters = {"cart__token": token, "cart__user__isnull": True}
    return CartLine.objects.filter(**filters).aggregate(n=Sum("quantity"))["n"] or 0
