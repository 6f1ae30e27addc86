"""The discounts API (docs/architecture.md, "The API"): a code on the cart, and promotions for staff.

Routed from config/api_urls.py. The code endpoints answer with the priced cart,
exactly as shop.cart.api does: the code's saving is one of its adjustment lines.
"""

from functools import partial

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse

from marketing.discounts import carts, services
from marketing.discounts.exports import codes_csv
from marketing.discounts.models import CodeBatch, DiscountCode, Promotion
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
    count = serializers.IntegerField(
        min_value=1,
        help_text="How many single-use codes: up to 1,000 are made at once (201); more, up to 100,000, in the "
        "background (202, a job to poll). The limits are settings (DISCOUNT_CODE_BATCH_SYNC_MAX, "
        "DISCOUNT_CODE_BATCH_MAX).",
    )
    prefix = serializers.CharField(
        max_length=20, required=False, default="", allow_blank=True, help_text="Letters, digits or dashes."
    )
    length = serializers.IntegerField(
        min_value=6, max_value=20, required=False, default=8, help_text="Random characters after the prefix."
    )


class CodeBatchStatusOutput(serializers.Serializer):
    batch = serializers.IntegerField(source="pk")
    promotion = serializers.IntegerField(source="promotion_id")
    prefix = serializers.CharField()
    length = serializers.IntegerField()
    count = serializers.IntegerField()
    # A plain string, not an enum: a second enum named "status" would rename the orders' one in the schema.
    status = serializers.CharField(help_text="pending, running, done or failed.")
    made = serializers.IntegerField(help_text="Codes made so far.")
    progress = serializers.IntegerField(help_text="Percent made, 0 to 100.")
    error = serializers.CharField(help_text="Why a failed batch failed; empty otherwise.")
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True, help_text="Who asked (a user id).")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField(help_text="This batch's status.")
    download = serializers.SerializerMethodField(help_text="The codes as CSV, once the batch is done; null before.")

    def _reverse(self, name, batch) -> str:
        return reverse(
            name, kwargs={"pk": batch.promotion_id, "batch_id": batch.pk}, request=self.context.get("request")
        )

    def get_url(self, batch) -> str:
        return self._reverse("api:promotion-code-batch", batch)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download(self, batch):
        return self._reverse("api:promotion-code-batch-download", batch) if batch.is_done else None


class CodeBatchOutput(CodeBatchStatusOutput):
    codes = serializers.SerializerMethodField()

    def get_codes(self, batch) -> list[str]:
        return sorted(batch.codes.values_list("code", flat=True))


class CSVRenderer(BaseRenderer):
    """Lets a client ask for text/csv; the download answers CSV itself, and an error shows as one line of text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict):
            data = data.get("detail", "")
        return str(data or "").encode(self.charset)


class ModelPermissions(permissions.DjangoModelPermissions):
    """Django's model permissions, as in the admin: view_* to read (DRF's own lets anyone with a login read)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class HasPerms(permissions.BasePermission):
    """The permissions an action names in `required_perms` (codes are DiscountCode rows, not Promotion fields)."""

    def has_permission(self, request, view):
        return request.user.has_perms(view.required_perms[view.action])


BATCH_ID = OpenApiParameter("batch_id", int, OpenApiParameter.PATH, description="The batch's id.")


@extend_schema_view(
    list=extend_schema(summary="Promotions, highest priority first"),
    destroy=extend_schema(responses={204: None, 409: error_response("Already used by orders: turn it off instead.")}),
)
class PromotionViewSet(viewsets.ModelViewSet):
    """Promotions and their codes, for staff with the matching model permissions (as in the admin).

    Reading needs `discounts.view_promotion`; creating, editing and deleting need
    add, change and delete. Making codes needs `discounts.add_discountcode`;
    reading a batch and downloading its codes, `discounts.view_discountcode`.
    """

    serializer_class = PromotionSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]  # PATCH edits; no PUT
    filterset_fields = ["kind", "is_active", "requires_code"]
    required_perms = {
        "codes": ("discounts.view_promotion", "discounts.add_discountcode"),
        "code_batch": ("discounts.view_promotion", "discounts.view_discountcode"),
        "code_batch_download": ("discounts.view_promotion", "discounts.view_discountcode"),
    }

    def get_permissions(self):
        if self.action in self.required_perms:
            return [permissions.IsAdminUser(), HasPerms()]
        return [permissions.IsAdminUser(), ModelPermissions()]

    def get_queryset(self):
        return Promotion.objects.prefetch_related("categories", "products", "excluded_products", "customers")

    def perform_create(self, serializer):
        serializer.instance = services.promotion_create(fields=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.promotion_update(promotion=serializer.instance, fields=serializer.validated_data)

    def perform_destroy(self, instance):
        services.promotion_delete(promotion=instance)

    @extend_schema(
        request=CodeBatchInput,
        responses={
            201: OpenApiResponse(CodeBatchOutput, description="A small batch, made now: the codes are in `codes`."),
            202: OpenApiResponse(
                CodeBatchStatusOutput,
                description="A large batch, made in the background: poll `url` until `download` is given.",
            ),
            400: error_response("Invalid count, prefix or length (above the hard maximum, split the campaign)."),
        },
    )
    @action(detail=True, methods=["post"], url_path="codes")
    def codes(self, request, pk=None):
        """Make a batch of unique single-use codes (e.g. one per customer of a campaign)."""
        promotion = self.get_object()
        data = CodeBatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        batch = services.batch_create(promotion=promotion, actor=request.user, **data.validated_data)
        context = {"request": request}
        if batch.is_done:
            return Response(CodeBatchOutput(batch, context=context).data, status=status.HTTP_201_CREATED)
        return Response(CodeBatchStatusOutput(batch, context=context).data, status=status.HTTP_202_ACCEPTED)

    def _batch(self, batch_id) -> CodeBatch:
        promotion = self.get_object()
        return get_object_or_404(CodeBatch.objects.filter(promotion=promotion), pk=batch_id)

    @extend_schema(parameters=[BATCH_ID], responses={200: CodeBatchStatusOutput})
    @action(detail=True, methods=["get"], url_path=r"code-batches/(?P<batch_id>[0-9]+)", url_name="code-batch")
    def code_batch(self, request, pk=None, batch_id=None):
        """A batch of codes: its status and progress, and its download link once it is done."""
        return Response(CodeBatchStatusOutput(self._batch(batch_id), context={"request": request}).data)

    @extend_schema(
        parameters=[BATCH_ID],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="One row per code: code, promotion, max_uses, times_used, batch, created. "
                "Cells a spreadsheet would run as a formula start with a quote.",
            ),
            (409, "application/json"): error_response("The batch is not ready yet."),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"code-batches/(?P<batch_id>[0-9]+)/download",
        url_name="code-batch-download",
        renderer_classes=[JSONRenderer, CSVRenderer],
    )
    def code_batch_download(self, request, pk=None, batch_id=None):
        """The batch's codes as CSV, once the batch is done."""
        batch = self._batch(batch_id)
        if not batch.is_done:
            raise Conflict(
                _("This batch is not ready yet (%(made)s of %(count)s codes made): try again in a moment.")
                % {"made": f"{batch.made:,}", "count": f"{batch.count:,}"}
            )
        return codes_csv(DiscountCode.objects.filter(batch=batch), f"codes-batch-{batch.pk}.csv")
