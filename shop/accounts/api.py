from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.accounts import limits, lockout, privacy, services
from shop.accounts.countries import country_codes
from shop.accounts.models import Address, Channel, ConsentSource, Gender, User, phone_validator
from shop.core.ratelimit import ScopedRateThrottle


def _validate_country(value):
    if value and value.upper() not in country_codes():
        raise serializers.ValidationError(_("Use a two-letter ISO country code, such as US or FR."))
    return value.upper()


# The column's length: a longer address (valid up to 320 characters) would be a database error.
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length


class TokenInput(serializers.Serializer):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class LoginOutput(TokenOutput):
    cart_notes = serializers.ListField(
        child=serializers.CharField(),
        help_text="What changed when the X-Cart-Token cart joined the customer's cart (e.g. a code that was dropped).",
    )


class RegisterInput(serializers.Serializer):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    password = serializers.CharField(trim_whitespace=False, write_only=True)
    first_name = serializers.CharField(max_length=150, required=False, default="")
    last_name = serializers.CharField(max_length=150, required=False, default="")
    marketing_consent = serializers.BooleanField(required=False, default=False)


class ProfileSerializer(serializers.Serializer):
    email = serializers.EmailField(read_only=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    birthday = serializers.DateField(source="profile.birthday", required=False, allow_null=True)
    gender = serializers.ChoiceField(source="profile.gender", choices=Gender.choices, required=False, allow_blank=True)
    city = serializers.CharField(source="profile.city", max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(source="profile.region", max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(source="profile.country", max_length=2, required=False, allow_blank=True)
    phone = serializers.CharField(
        source="profile.phone",
        max_length=16,
        required=False,
        allow_blank=True,
        validators=[phone_validator],
        help_text="Mobile number for text messages, in international form: +14155550100.",
    )
    marketing_consent = serializers.BooleanField(
        required=False,
        help_text="Consent to marketing by email. The other channels: /api/v1/marketing/consent/.",
    )
    analytics_consent = serializers.BooleanField(
        source="profile.analytics_consent",
        required=False,
        help_text="Whether what the customer does in the store may be tied to their account (personalised "
        "recommendations and figures). Without it, their visits are counted without any identifier.",
    )

    def validate_country(self, value):
        # A method, not validators=[...]: a validator's return value is dropped, so "pt" was stored lowercase.
        return _validate_country(value)

    def to_representation(self, user):
        data = super().to_representation(user)
        data["marketing_consent"] = services.consents_of(user=user)[Channel.EMAIL]
        return data


class DataSectionOutput(serializers.Serializer):
    label = serializers.CharField(help_text="The part's name, in the request's language.")
    data = serializers.JSONField(help_text="What this part of the store holds about the customer.")


class DataExportOutput(serializers.Serializer):
    format_version = serializers.IntegerField(help_text="The layout of this document; raised when it changes.")
    exported_at = serializers.DateTimeField()
    store = serializers.CharField()
    site = serializers.CharField()
    sections = serializers.DictField(
        child=DataSectionOutput(),
        help_text="One entry per part of the store (account, orders, cart, reviews, loyalty, ad_board, "
        "analytics...). Money is a decimal string, moments are ISO 8601.",
    )


class EraseInput(serializers.Serializer):
    password = serializers.CharField(
        style={"input_type": "password"}, trim_whitespace=False, help_text="The customer's password, again."
    )


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "id",
            "full_name",
            "line1",
            "line2",
            "city",
            "region",
            "postal_code",
            "country",
            "phone",
            "is_default",
        ]

    def validate_country(self, value):
        return _validate_country(value)


def _token_for(user: User) -> str:
    token, _created = Token.objects.get_or_create(user=user)
    return token.key


class TokenView(APIView):
    """Exchange an email and password for an API token; DELETE revokes it.

    Failed logins count towards the store's one lockout (shop/accounts/lockout.py): a
    login locked here is locked on the storefront and in the admin, and the other way round.
    """

    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=TokenInput, responses={200: LoginOutput})
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = {"email": data.validated_data["email"], "password": data.validated_data["password"]}
        # The request goes along so that the lockout (django-axes) counts this door too.
        user = authenticate(request=request, **credentials)
        if user is None:
            if lockout.is_locked_out(request):
                raise lockout.LoginLocked(lockout.lockout_message())
            return Response({"detail": _("Email or password is incorrect."), "code": "invalid_credentials"}, status=400)
        # A token login is a login: the account's failed attempts are forgotten, as on the web.
        services.login_lockout_reset(email=user.email)
        from shop.cart.services import cart_merge_from_token

        notes = cart_merge_from_token(user=user, token=request.headers.get("X-Cart-Token"))
        return Response({"token": _token_for(user), "cart_notes": notes})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        if not request.user.is_authenticated:
            return Response(
                {"detail": _("Log in first."), "code": "not_authenticated"}, status=status.HTTP_401_UNAUTHORIZED
            )
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []


class RegisterView(APIView):
    """Create a customer; sign-ups per client are limited together with the storefront's (shop/accounts/limits.py)."""

    permission_classes = [permissions.AllowAny]
    error_responses = {
        409: "`conflict`: an account with this email already exists: log in or reset the password.",
        429: "`rate_limited`: too many sign-ups from this client lately: wait an hour.",
    }

    @extend_schema(request=RegisterInput, responses={201: TokenOutput})
    def post(self, request):
        limits.registration_attempt(request)
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = services.customer_register(**data.validated_data, consent_source=ConsentSource.API)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": exc.messages}) from None
        return Response({"token": _token_for(user)}, status=status.HTTP_201_CREATED)


class AccountView(APIView):
    """The logged-in customer's own profile."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=ProfileSerializer)
    def get(self, request):
        services.profile_get(user=request.user)
        return Response(ProfileSerializer(request.user).data)

    @extend_schema(request=ProfileSerializer, responses=ProfileSerializer)
    def patch(self, request):
        data = ProfileSerializer(request.user, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        email_consent = fields.pop("marketing_consent", None)
        with transaction.atomic():
            services.profile_update(user=request.user, **fields.pop("profile", {}), **fields)
            if email_consent is not None:
                services.consent_set(
                    user=request.user, channel=Channel.EMAIL, given=email_consent, source=ConsentSource.API
                )
        request.user.refresh_from_db()
        return Response(ProfileSerializer(request.user).data)


class AccountDataView(APIView):
    """Everything the store holds about the logged-in customer (docs/privacy.md), a few times an hour."""

    permission_classes = [permissions.IsAuthenticated]
    error_responses = {429: "`rate_limited`: the data was downloaded several times in the last hour: wait."}

    @extend_schema(responses=DataExportOutput)
    def get(self, request):
        limits.data_export_attempt(request.user)
        return Response(privacy.customer_data_export(user=request.user), headers={"Cache-Control": "no-store"})


class AccountEraseView(APIView):
    """Erase the logged-in customer's account (docs/privacy.md): personal data is deleted or
    anonymised, orders are kept for the books. The token stops working."""

    permission_classes = [permissions.IsAuthenticated]
    error_responses = {
        400: "`invalid`: the password is missing or wrong (`errors.password`).",
        409: "`erasure_blocked`: an order is still in progress; `detail` says which and what to do. "
        "`conflict`: the account was erased already.",
        429: "`rate_limited`: too many erasure attempts for this account: wait an hour.",
    }

    @extend_schema(request=EraseInput, responses={204: None})
    def post(self, request):
        limits.erasure_attempt(request.user)
        data = EraseInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not request.user.check_password(data.validated_data["password"]):
            raise serializers.ValidationError({"password": [_("That is not your password.")]})
        privacy.customer_erase(user=request.user, requested_by="self")
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddressViewSet(viewsets.ModelViewSet):
    """The logged-in customer's saved addresses; nobody else's are reachable."""

    serializer_class = AddressSerializer
    permission_classes = [permissions.IsAuthenticated]
    queryset = Address.objects.none()  # for the schema; requests only ever see their own

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Address.objects.none()
        return Address.objects.filter(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.address_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.address_update(
            user=self.request.user, address_id=serializer.instance.pk, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.address_delete(user=self.request.user, address_id=instance.pk)
