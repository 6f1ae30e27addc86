"""The discounts API (DESIGN.md section 7): a code on the cart, and promotions for staff.

Routed from config/api_urls.py. The code endpoints answer with the priced cart,
exactly as shop.cart.api does: the code's saving is one of its adjustment lines.
"""

from functools import partial

from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from marketing.discounts import carts, services
from marketing.discounts.models import Promotion
from shop.cart.api import CART_TOKEN, CartAPIView, CartSerializer
from shop.cart.selectors import cart_for_request
from shop.catalog.models import Category, Product
from shop.core.errors import Conflict
from shop.core.schema import error_response

# --- a code on the cart -------------------------------------------------------------------------


class CodeInput(serializers.Serializer):
    code = serializers.CharField(max_length=40, help_text="Case-insensitive; spaces around it are ignored.")


class CartDiscountCodeView(CartAPIView):
    @extend_schema(
        parameters=[CART_TOKEN],
        request=CodeInput,
        responses={
            200: CartSerializer,
            400: error_response("The code exists but does not apply (`code`: code_not_applicable): `detail` says why."),
            404: error_response("No such code."),
            429: error_response("Too many unknown codes from this client: wait."),
        },
    )
    def post(self, request):
        """Put a discount code on the cart (it replaces any code already there); answers with the priced cart."""
        data = CodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.cart_code_apply(
            cart=cart_for_request(request),
            code=data.validated_data["code"],
            customer=carts.customer_of(request),
            client_key=carts.client_key(request),
        )
        return self.cart_response(request)

    @extend_schema(parameters=[CART_TOKEN], request=None, responses={200: CartSerializer})
    def delete(self, request):
        """Take the code off the cart (nothing happens if there is none)."""
        services.cart_code_remove(cart=cart_for_request(request))
        return self.cart_response(request)


# --- promotions (staff) -------------------------------------------------------------------------


class PromotionSerializer(serializers.ModelSerializer):
    categories = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Category.objects.all(), help_text="Category ids (with sub-categories)."
    )
    products = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Product.objects.all(), help_text="Product ids."
    )
    excluded_products = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Product.objects.all(), help_text="Product ids never discounted."
    )

    class Meta:
        model = Promotion
        fields = [
            "id",
            "name",
            "kind",
            "value",
            "buy_quantity",
            "get_quantity",
            "scope",
            "categories",
            "products",
            "excluded_products",
            "exclude_on_sale",
            "is_active",
            "starts_at",
            "ends_at",
            "min_subtotal",
            "min_quantity",
            "first_order_only",
            "customers",
            "segment",
            "requires_code",
            "stackable",
            "priority",
            "usage_limit",
            "usage_limit_per_customer",
            "max_discount",
            "times_used",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["times_used", "created_at", "updated_at"]
        extra_kwargs = {
            "value": {"min_value": 0},
            "min_subtotal": {"min_value": 0},
            "max_discount": {"min_value": 0},
            "customers": {"required": False, "help_text": "Customer ids: only they may use it (empty: anyone)."},
        }

    def _current(self, attrs, name):
        """The value after this write: the new one, else (on PATCH) the stored one."""
        if name in attrs:
            return attrs[name]
        if self.instance is None:
            field = Promotion._meta.get_field(name)
            return [] if field.many_to_many else field.get_default()
        value = getattr(self.instance, name)
        return list(value.all()) if Promotion._meta.get_field(name).many_to_many else value

    def validate(self, attrs):
        get = partial(self._current, attrs)
        errors = {}
        kind, value = get("kind"), get("value")
        if kind in (Promotion.Kind.PERCENTAGE, Promotion.Kind.BUY_X_GET_Y) and value > 100:
            errors["value"] = _("A percentage is at most 100.")
        elif kind != Promotion.Kind.FREE_SHIPPING and value <= 0:
            errors["value"] = _("Give the discount: a value above 0.")
        if kind == Promotion.Kind.BUY_X_GET_Y:
            if get("buy_quantity") < 1:
                errors["buy_quantity"] = _("Buy X, get Y needs how many to buy (at least 1).")
            if get("get_quantity") < 1:
                errors["get_quantity"] = _("Buy X, get Y needs how many come discounted (at least 1).")
        if get("scope") == Promotion.Scope.CATEGORIES and not get("categories"):
            errors["categories"] = _("Choose at least one category, or apply the promotion to the whole order.")
        if get("scope") == Promotion.Scope.PRODUCTS and not get("products"):
            errors["products"] = _("Choose at least one product, or apply the promotion to the whole order.")
        starts_at, ends_at = get("starts_at"), get("ends_at")
        if ends_at is not None and starts_at is not None and ends_at <= starts_at:
            errors["ends_at"] = _("The end must come after the start.")
        # Below the uses already made, the database's check (promotion_within_usage_limit) refuses it: a 500.
        used = self.instance.times_used if self.instance else 0
        if get("usage_limit") is not None and get("usage_limit") < used:
            errors["usage_limit"] = _("It has been used %(count)d times already: the limit cannot be lower.") % {
                "count": used
            }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CodeBatchInput(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=100_000, help_text="How many single-use codes.")
    prefix = serializers.CharField(
        max_length=20, required=False, default="", allow_blank=True, help_text="Letters, digits or dashes."
    )
    length = serializers.IntegerField(
        min_value=6, max_value=20, required=False, default=8, help_text="Random characters after the prefix."
    )


class CodeBatchOutput(serializers.Serializer):
    batch = serializers.IntegerField(source="pk")
    promotion = serializers.IntegerField(source="promotion_id")
    prefix = serializers.CharField()
    length = serializers.IntegerField()
    count = serializers.IntegerField()
    codes = serializers.SerializerMethodField()

    def get_codes(self, batch) -> list[str]:
        return sorted(batch.codes.values_list("code", flat=True))


@extend_schema_view(
    list=extend_schema(summary="Promotions, highest priority first"),
    destroy=extend_schema(responses={204: None, 409: error_response("Already used.")}),
)
class PromotionViewSet(viewsets.ModelViewSet):
    """Promotions and their codes (staff only)."""

    serializer_class = PromotionSerializer
    permission_classes = [permissions.IsAdminUser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]  # PATCH edits; no PUT
    filterset_fields = ["kind", "is_active", "requires_code"]

    def get_queryset(self):
        return Promotion.objects.prefetch_related("categories", "products", "excluded_products", "customers")

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict(
                _("Orders have used this promotion, so it stays on record: turn it off (is_active) instead.")
            ) from None

    @extend_schema(request=CodeBatchInput, responses={201: CodeBatchOutput})
    @action(detail=True, methods=["post"], url_path="codes")
    def codes(self, request, pk=None):
        """Make a batch of unique single-use codes (e.g. one per customer of a campaign)."""
        promotion = self.get_object()
        data = CodeBatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        batch = services.batch_create(promotion=promotion, actor=request.user, **data.validated_data)
        return Response(CodeBatchOutput(batch).data, status=status.HTTP_201_CREATED)
