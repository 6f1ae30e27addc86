import json

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import permissions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from shop.cart import services, snapshot
from shop.cart.pricing import PricedCart, depends_on, price_cart
from shop.cart.selectors import HEADER, cart_for_request, load_lines
from shop.catalog import cache as catalog_cache
from shop.catalog.models import Product, Variant
from shop.core.errors import NotFound, ShopError

CART_TOKEN = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "An anonymous cart's token, as returned in `token`. "
        "Not needed when logged in or when keeping the session cookie."
    ),
)


# Ids are 64-bit (BigAutoField): larger numbers are no variant, and refused as such.
MAX_ID = 2**63 - 1


class LineProductSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    stock = serializers.IntegerField()
    image = serializers.SerializerMethodField()

    def get_image(self, product) -> str | None:
        image = product.main_image
        if image is None:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(image.image.url) if request else image.image.url


class LineVariantSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The variant's id (the product detail's `variants`).")
    sku = serializers.CharField()
    options = serializers.SerializerMethodField(
        help_text='Its options in words, {attribute name: value name}, e.g. {"Size": "M", "Colour": "Blue"}; '
        "{} for a product in a single variant."
    )
    stock = serializers.IntegerField(
        help_text="The variant's own stock: the most the line can hold (the product's `stock` is its variants' sum)."
    )

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_options(self, variant):
        return variant_options(variant)


def variant_options(variant) -> dict[str, str]:
    """{"Size": "M", "Colour": "Blue"}: no query when the options were read with the cart
    (shop.cart.selectors), nor for a product without a type (no options)."""
    if "options" not in getattr(variant, "_prefetched_objects_cache", {}) and not variant.product.product_type_id:
        return {}
    return variant.options_snapshot()


class LineOfferSerializer(serializers.Serializer):
    label = serializers.CharField(source="adjustment.label", help_text="The promotion's name.")
    terms = serializers.CharField(
        source="adjustment.terms", help_text='Its cap and conditions, e.g. "50% off, up to $60".'
    )
    amount = serializers.DecimalField(
        source="amount.amount", max_digits=12, decimal_places=2, help_text="What it takes off this line (positive)."
    )


class CartLineSerializer(serializers.Serializer):
    """A line of `PricedCart.shown_lines`: before and after the offers the product pages show."""

    id = serializers.IntegerField(source="line_id")
    product = LineProductSerializer()
    variant = LineVariantSerializer(help_text="What the line holds: one variant of the product (its size, colour).")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(
        source="line.unit_price.amount", max_digits=12, decimal_places=2, help_text="Each unit before any promotion."
    )
    total = serializers.DecimalField(
        source="line.total.amount", max_digits=12, decimal_places=2, help_text="The line before any promotion."
    )
    unit_price_after_offers = serializers.DecimalField(
        source="unit_price.amount",
        max_digits=12,
        decimal_places=2,
        help_text="Each unit at the price its product page shows (after its automatic promotions), rounded.",
    )
    total_after_offers = serializers.DecimalField(
        source="total.amount",
        max_digits=12,
        decimal_places=2,
        help_text="The line after its automatic promotions: `total` less the `offers` amounts. "
        "The lines' `total_after_offers` add up to the cart's `lines_total`.",
    )
    offers = LineOfferSerializer(
        source="savings", many=True, help_text="The automatic promotions that lower this line (also in `adjustments`)."
    )


class AdjustmentSerializer(serializers.Serializer):
    label = serializers.CharField()
    amount = serializers.DecimalField(source="amount.amount", max_digits=12, decimal_places=2)
    kind = serializers.CharField()
    source = serializers.CharField()
    terms = serializers.CharField(help_text='A discount\'s cap and conditions in words, e.g. "50% off, up to $60".')
    on_lines = serializers.BooleanField(
        help_text="Shown on the lines (`offers`, `total_after_offers`), already counted in `lines_total`."
    )


class UnavailableLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.SlugField(source="product.slug")
    name = serializers.CharField(source="product.name")
    variant = LineVariantSerializer()


class CartSerializer(serializers.Serializer):
    token = serializers.UUIDField(allow_null=True)
    currency = serializers.CharField()
    lines = CartLineSerializer(many=True)
    item_count = serializers.IntegerField()
    subtotal = serializers.DecimalField(
        source="subtotal.amount", max_digits=12, decimal_places=2, help_text="The lines before any promotion."
    )
    lines_total = serializers.DecimalField(
        source="lines_total.amount",
        max_digits=12,
        decimal_places=2,
        help_text="The lines after their automatic promotions: `total` is this plus the adjustments "
        "whose `on_lines` is false.",
    )
    adjustments = AdjustmentSerializer(many=True)
    unavailable = UnavailableLineSerializer(
        many=True, help_text="Lines whose product is no longer sold (not in totals)."
    )
    total = serializers.DecimalField(source="total.amount", max_digits=12, decimal_places=2)


class AddItemInput(serializers.Serializer):
    product = serializers.SlugField(
        required=False,
        help_text="The product's slug, for a product in a single variant (its `variant_count` is 1); "
        "else send `variant`.",
    )
    variant = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="The id of the variant to add (the product detail's `variants`): needed for a product "
        "in several sizes or colours.",
    )
    quantity = serializers.IntegerField(default=1, min_value=1, max_value=services.MAX_LINE_QUANTITY)

    def validate(self, data):
        if "product" not in data and "variant" not in data:
            message = _("Send the variant to add (`variant`), or the product (`product`) when it has a single one.")
            raise serializers.ValidationError({"product": [message], "variant": [message]})
        return data


class QuantityInput(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=services.MAX_LINE_QUANTITY)


class CartAPIView(APIView):
    permission_classes = [permissions.AllowAny]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # DRF checks CSRF only for logged-in session users. An anonymous cart held
        # by the session cookie needs it too, or another site could fill a
        # visitor's cart. Clients sending the cart token header do not use the
        # cookie, so CSRF does not apply to them.
        if (
            not request.user.is_authenticated
            and not request.headers.get(HEADER)
            and settings.SESSION_COOKIE_NAME in request.COOKIES
        ):
            SessionAuthentication().enforce_csrf(request)

    def cart_response(self, request, status_code=status.HTTP_200_OK, cart=None):
        """The requester's cart, priced; `cart`: theirs as already read, its lines not (read here)."""
        cart = load_lines(cart) if cart is not None else cart_for_request(request)
        return Response(self.cart_data(request, cart), status=status_code)

    def cart_data(self, request, cart, memo: dict | None = None) -> dict:
        priced: PricedCart = price_cart(
            cart, customer=request.user if request.user.is_authenticated else None, memo=memo
        )
        data = CartSerializer(
            {
                "token": cart.token if cart and not cart.user_id else None,
                "currency": priced.currency,
                "lines": priced.shown_lines,
                "item_count": priced.item_count,
                "subtotal": priced.subtotal,
                "lines_total": priced.lines_total,
                "adjustments": priced.adjustments,
                "unavailable": priced.unavailable,
                "total": priced.total,
            },
            context={"request": request},
        ).data
        return json.loads(json.dumps(data, cls=JSONEncoder))  # plain values, as sent (and as kept)

    def own_cart(self, request):
        cart = cart_for_request(request)
        if cart is None:
            raise NotFound(_("That line is not in your cart."))
        return cart


class CartView(CartAPIView):
    """The requester's cart, priced by the pricing pipeline."""

    @extend_schema(parameters=[CART_TOKEN], responses=CartSerializer)
    def get(self, request):
        cart = cart_for_request(request, with_lines=False)
        if cart is None or request.query_params:
            return self.cart_response(request)

        def build(memo):
            depends_on(memo, [catalog_cache.token_key(catalog_cache.STOCK)])  # the lines show exact stock
            return self.cart_data(request, load_lines(cart, memo), memo)

        user = request.user.pk if request.user.is_authenticated else None
        parts = (get_language(), request.scheme, request.get_host(), user)  # links are absolute
        return Response(snapshot.kept("api", cart=cart, parts=parts, build=build))


class CartItemsView(CartAPIView):
    error_responses = {404: "No such product, or no such variant on sale.", 409: "Not enough in stock."}

    @extend_schema(parameters=[CART_TOKEN], request=AddItemInput, responses={201: CartSerializer})
    def post(self, request):
        """Add a variant, or a product in a single variant (creates an anonymous cart if needed: keep its
        `token`). A product in several sizes or colours needs its `variant` (a 400 otherwise)."""
        data = AddItemInput(data=request.data)
        data.is_valid(raise_exception=True)
        if "variant" in data.validated_data:
            variant = _variant(data.validated_data["variant"], product=data.validated_data.get("product"))
        else:
            variant = _only_variant(data.validated_data["product"])
        cart = services.cart_get_or_create(request=request)
        services.cart_add(cart=cart, variant=variant, quantity=data.validated_data["quantity"])
        return self.cart_response(request, status.HTTP_201_CREATED, cart=cart)


def _variant(pk: int, *, product: str | None) -> Variant:
    """The variant on sale with this id (and of this product, when named), with its product."""
    variant = Variant.objects.active().select_related("product").filter(pk=pk, product__is_active=True).first()
    if variant is None:
        raise NotFound(_("There is no variant %(id)d on sale.") % {"id": pk}, field="variant")
    if product is not None and variant.product.slug != product:
        raise ShopError(
            _("Variant %(id)d is not a variant of “%(slug)s”.") % {"id": pk, "slug": product},
            field="variant",
        )
    return variant


def _only_variant(slug: str) -> Variant:
    """The single variant of the product with this slug (as the storefront adds a product)."""
    try:
        variant = services.variant_to_add(Product.objects.filter(slug=slug, is_active=True))
    except ShopError as exc:
        if exc.field != "variant":
            raise
        # Several variants: say how to name one (the service's words are the product page's).
        raise ShopError(
            _("“%(slug)s” comes in several variants: choose one and send its id as `variant`.") % {"slug": slug},
            field="variant",
        ) from None
    if variant is None:
        raise NotFound(_("There is no product “%(slug)s”.") % {"slug": slug}, field="product")
    return variant


class CartItemView(CartAPIView):
    error_responses = {"PATCH": {409: "Not enough in stock."}}

    @extend_schema(parameters=[CART_TOKEN], request=QuantityInput, responses=CartSerializer)
    def patch(self, request, line_id):
        data = QuantityInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.cart_set_quantity(
            cart=self.own_cart(request), line_id=line_id, quantity=data.validated_data["quantity"]
        )
        return self.cart_response(request)

    @extend_schema(parameters=[CART_TOKEN], request=None, responses={200: CartSerializer})
    def delete(self, request, line_id):
        services.cart_remove(cart=self.own_cart(request), line_id=line_id)
        return self.cart_response(request)
