import copy

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.accounts.api import _validate_country
from shop.cart.selectors import HEADER, cart_for_request, cart_token_from_request
from shop.core import ratelimit
from shop.core.errors import ShopError
from shop.core.tracking import track
from shop.orders import selectors
from shop.orders.checkout import ShippingAddress, checkout_place, order_cancel_unpaid
from shop.orders.models import ADDRESS_FIELDS, Order, ShippingMethod
from shop.orders.payment import InvalidPaymentMethod, PaymentDeclined, PaymentUnavailable, gateway

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Any unique string per checkout (a UUID). Repeating it returns the same order.",
)


class AddressInput(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    city = serializers.CharField(max_length=100)
    region = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    postal_code = serializers.CharField(max_length=20)
    country = serializers.CharField(max_length=2)
    phone = serializers.CharField(max_length=30, required=False, default="", allow_blank=True)

    def validate_country(self, value):
        return _validate_country(value)


class CheckoutInput(serializers.Serializer):
    email = serializers.EmailField(
        required=False,
        max_length=Order._meta.get_field("email").max_length,
        help_text="Required for guests; defaults to the account's email.",
    )
    shipping_address = AddressInput(required=False)
    address_id = serializers.IntegerField(required=False, help_text="One of the customer's saved addresses.")
    shipping_method = serializers.ChoiceField(choices=ShippingMethod.choices, default=ShippingMethod.STANDARD)
    payment_method = serializers.CharField(
        required=False, max_length=100, help_text="Confirm on the server, e.g. pm_card_visa in test mode."
    )


class PayInput(serializers.Serializer):
    payment_method = serializers.CharField(max_length=100)


class LineOutput(serializers.Serializer):
    sku = serializers.CharField(help_text="The SKU of the variant bought, as it was then.")
    name = serializers.CharField()
    product = serializers.SlugField(source="product.slug", allow_null=True, default=None)
    variant = serializers.IntegerField(
        source="variant_id", allow_null=True, help_text="The variant's id; null once it is deleted."
    )
    options = serializers.DictField(
        child=serializers.CharField(),
        help_text='The variant\'s options as bought, {attribute name: value name}, e.g. {"Size": "M", '
        '"Colour": "Blue"}; {} for a product without options.',
    )
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    quantity = serializers.IntegerField()
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    discount = serializers.DecimalField(max_digits=12, decimal_places=2)


class AdjustmentOutput(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)


class EventOutput(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField(source="get_kind_display")
    status = serializers.CharField()
    message = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")


class PaymentOutput(serializers.Serializer):
    intent_id = serializers.CharField()
    client_secret = serializers.CharField()
    status = serializers.CharField()


class OrderOutput(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    shipping_address = serializers.SerializerMethodField()
    lines = LineOutput(many=True)

    def get_fields(self):
        # A ModelSerializer works out its fields from the model again for every order it
        # shows (a few milliseconds of a checkout); they never differ: work them out once
        # per class, then copy them for each use, as a plain Serializer copies its own.
        cls = type(self)
        if "_fields_from_model" not in cls.__dict__:
            cls._fields_from_model = super().get_fields()
        return copy.deepcopy(cls._fields_from_model)

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "status_label",
            "email",
            "currency",
            "subtotal",
            "discount_total",
            "shipping_total",
            "total",
            "amount_refunded",
            "shipping_method",
            "shipping_address",
            "carrier",
            "tracking_number",
            "placed_at",
            "paid_at",
            "expires_at",
            "lines",
        ]

    def get_shipping_address(self, order) -> dict:
        return {name: getattr(order, f"shipping_{name}") for name in ADDRESS_FIELDS}


class OrderDetailOutput(OrderOutput):
    adjustments = AdjustmentOutput(many=True)
    timeline = serializers.SerializerMethodField()

    class Meta(OrderOutput.Meta):
        fields = [*OrderOutput.Meta.fields, "adjustments", "timeline"]

    @extend_schema_field(EventOutput(many=True))
    def get_timeline(self, order):
        return EventOutput([e for e in order.events.all() if e.customer_visible], many=True).data


class CheckoutOutput(OrderDetailOutput):
    payment = serializers.SerializerMethodField()

    class Meta(OrderDetailOutput.Meta):
        fields = [*OrderDetailOutput.Meta.fields, "payment"]

    @extend_schema_field(PaymentOutput(allow_null=True))
    def get_payment(self, order):
        session = self.context.get("payment")
        return PaymentOutput(session).data if session else None


def _address(data, user) -> ShippingAddress:
    if data.get("address_id") is not None:
        if user is None:
            raise ShopError(_("Log in to use a saved address."), field="address_id")
        saved = user.addresses.filter(pk=data["address_id"]).first()
        if saved is None:
            raise ShopError(_("That saved address does not exist."), field="address_id")
        return ShippingAddress(
            name=saved.full_name,
            line1=saved.line1,
            line2=saved.line2,
            city=saved.city,
            region=saved.region,
            postal_code=saved.postal_code,
            country=saved.country,
            phone=saved.phone,
        )
    if not data.get("shipping_address"):
        raise ShopError(_("Give a shipping address (or a saved address_id)."), field="shipping_address")
    return ShippingAddress(**data["shipping_address"])


class CheckoutView(APIView):
    """Place an order from the cart, then pay: with Stripe.js and `client_secret`, or pass `payment_method`."""

    permission_classes = [permissions.AllowAny]
    # Stated in the schema (shop/core/schema.py); the bodies add the order's `number` and `status`.
    error_responses = {
        402: "The card was declined.",
        409: "`insufficient_stock`: not enough in stock; or `too_many_open_orders`: this customer, email or client "
        "already holds the most unpaid orders allowed: pay for one (`orders/{number}/pay/`) or let it expire.",
        429: "`checkout_throttled`: too many orders placed from this client lately.",
        503: "Payments are unavailable.",
    }

    @extend_schema(
        parameters=[IDEMPOTENCY],
        request=CheckoutInput,
        responses={201: CheckoutOutput, 200: CheckoutOutput},
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 100:
            raise ShopError(
                _("Send an Idempotency-Key header (a UUID) of at most 100 characters with each checkout."),
                field="Idempotency-Key",
            )
        data = CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user if request.user.is_authenticated else None
        email = data.validated_data.get("email") or (user.email if user else "")
        if not email:
            raise ShopError(_("Give an email for the order confirmation."), field="email")
        cart = cart_for_request(request, with_lines=False)  # checkout reads the lines itself, under a lock
        if cart is None:
            raise ShopError(_("Your cart is empty."), field="cart")
        track("begin_checkout")
        order, created = checkout_place(
            cart=cart,
            user=user,
            email=email,
            address=_address(data.validated_data, user),
            shipping_method=data.validated_data["shipping_method"],
            idempotency_key=key,
            client=ratelimit.client_ip(request),
        )
        return _pay_response(
            request,
            order,
            data.validated_data.get("payment_method"),
            status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _pay_response(request, order, payment_method, ok_status):
    try:
        session = None
        if order.is_unpaid:
            pay = gateway()
            if payment_method:  # confirming creates the intent if needed
                session = pay.confirm_payment(order=order, payment_method=payment_method)
            else:
                session = pay.create_payment(order=order)
    except (PaymentUnavailable, PaymentDeclined, InvalidPaymentMethod) as exc:
        order.refresh_from_db()
        body = {"detail": str(exc.message), "code": exc.code, "number": order.number, "status": order.status}
        return Response(body, status=exc.status_code)
    order = selectors.order_with_details_again(order)
    return Response(CheckoutOutput(order, context={"payment": session, "request": request}).data, status=ok_status)


def _visible_orders(request):
    """The requester's orders: their account's, or for a guest API client the ones its cart token placed."""
    if request.user.is_authenticated:
        return Order.objects.filter(Q(user=request.user))
    token = cart_token_from_request(request)
    return Order.objects.filter(cart_token=token, user=None) if token else Order.objects.none()


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your orders, newest first, each with its status; the detail has the timeline."""

    lookup_field = "number"
    queryset = Order.objects.none()
    filter_backends: list = []

    def get_permissions(self):
        if self.action == "list":
            return [permissions.IsAuthenticated()]
        return [permissions.AllowAny()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        if self.action == "list":
            return selectors.orders_for_user(user=self.request.user)
        return selectors.order_with_details(queryset=_visible_orders(self.request))

    def get_serializer_class(self):
        return OrderDetailOutput if self.action == "retrieve" else OrderOutput

    @extend_schema(parameters=[OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=False)])
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


class OrderPayView(APIView):
    """Pay (or retry after a declined card) with a payment method, confirmed on the server."""

    permission_classes = [permissions.AllowAny]
    error_responses = {402: "The card was declined.", 503: "Payments are unavailable."}

    @extend_schema(request=PayInput, responses=CheckoutOutput)
    def post(self, request, number):
        order = get_object_or_404(_visible_orders(request), number=number)
        data = PayInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not order.is_unpaid:
            raise ShopError(
                _("This order is %(status)s: there is nothing to pay.") % {"status": order.get_status_display().lower()}
            )
        return _pay_response(request, order, data.validated_data["payment_method"], status.HTTP_200_OK)


class OrderCancelView(APIView):
    """Cancel your own unpaid order: its stock comes back at once and it stops counting against the
    limit on unpaid orders. A paid order is for the shop to cancel and refund."""

    permission_classes = [permissions.AllowAny]
    error_responses = {409: "`conflict`: the order is no longer unpaid (paid, cancelled or expired)."}

    @extend_schema(
        request=None,
        responses=OrderDetailOutput,
        parameters=[OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=False)],
    )
    def post(self, request, number):
        order = get_object_or_404(_visible_orders(request), number=number)
        if order.is_unpaid:
            gateway().sync(order=order)  # a payment already made wins over the cancel
        actor = request.user if request.user.is_authenticated else None
        order_cancel_unpaid(order_id=order.pk, actor=actor)
        order = selectors.order_with_details(queryset=_visible_orders(request)).get(pk=order.pk)
        return Response(OrderDetailOutput(order).data)
