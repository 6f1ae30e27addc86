"""The loyalty API (docs/architecture.md, "The API"): points, history, referral code, points on the cart.

Routed from config/api_urls.py. Thin: reads come from loyalty.selectors, writes go
through loyalty.services, and business-rule errors are the services' exceptions,
mapped to 4xx by shop.core.api.exception_handler. Money is a decimal string with
the `currency` next to it, as in the cart and order endpoints.
"""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import selectors, services
from loyalty.models import LedgerEntry, Referral
from loyalty.program import current
from shop.cart.api import CartAPIView, CartSerializer
from shop.cart.selectors import cart_for_request
from shop.core.errors import ShopError
from shop.core.schema import error_response

LATEST_ENTRIES = 20  # on the summary; the rest is paginated at loyalty/ledger/


# --- balance and history ------------------------------------------------------------------------


class LedgerEntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="earn, redeem, expire, reverse or adjust.")
    reason = serializers.CharField(
        help_text="order, signup, review, birthday, referral, refund, cancel, expiry, staff."
    )
    points = serializers.IntegerField(help_text="Positive when points came in, negative when they went out.")
    balance_after = serializers.IntegerField()
    description = serializers.CharField(help_text="What happened, in words, ready to show.")
    order = serializers.CharField(source="order.number", allow_null=True, default=None, help_text="Order number.")
    created_at = serializers.DateTimeField()
    available_at = serializers.DateTimeField(allow_null=True, help_text="Points earned: usable from then on.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Points earned: what is left expires then.")
    pending = serializers.SerializerMethodField(help_text="Earned but not usable yet (the return window).")

    def get_pending(self, entry) -> bool:
        return entry.is_pending(self.context["now"])


class LoyaltyTierOutput(serializers.Serializer):
    name = serializers.CharField()
    multiplier = serializers.DecimalField(max_digits=4, decimal_places=2, help_text="Points earned are multiplied.")
    perks = serializers.CharField()


class LoyaltyNextTierOutput(serializers.Serializer):
    name = serializers.CharField()
    min_spend = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="Spend over the window to reach it."
    )
    spend_needed = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="What is left to spend.")


class ExpiringPointsOutput(serializers.Serializer):
    points = serializers.IntegerField()
    on = serializers.DateField()


class LoyaltyProgramOutput(serializers.Serializer):
    is_active = serializers.BooleanField(help_text="False: the program is paused; nobody earns or redeems.")
    earn_rate = serializers.DecimalField(
        max_digits=8, decimal_places=2, help_text="Points per currency unit spent (before the tier multiplier)."
    )
    redeem_rate = serializers.IntegerField(help_text="Points per currency unit taken off an order.")
    min_redeem_points = serializers.IntegerField()
    max_redeem_percent = serializers.IntegerField(help_text="Share of the merchandise points may pay at most.")
    pending_days = serializers.IntegerField(help_text="Days before points earned on an order can be used.")
    expiry_days = serializers.IntegerField(help_text="Days after which points expire (0: never).")


class LoyaltyOutput(serializers.Serializer):
    balance = serializers.IntegerField(help_text="All points held: available + pending.")
    available = serializers.IntegerField(help_text="Points that can be spent now.")
    pending = serializers.IntegerField(help_text="Points earned that are not usable yet.")
    pending_until = serializers.DateTimeField(allow_null=True, help_text="When the last pending points become usable.")
    value = serializers.DecimalField(
        source="value.amount", max_digits=12, decimal_places=2, help_text="What the available points are worth."
    )
    currency = serializers.CharField(source="value.currency")
    tier = LoyaltyTierOutput(allow_null=True)
    next_tier = LoyaltyNextTierOutput(allow_null=True)
    spend = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Paid over the tier window.")
    progress = serializers.IntegerField(help_text="Percent of the way to the next tier.")
    expiring = ExpiringPointsOutput(many=True, help_text="Points expiring soon, by day.")
    program = LoyaltyProgramOutput()
    ledger = LedgerEntryOutput(many=True, help_text=f"The latest {LATEST_ENTRIES} entries, newest first.")
    history = serializers.URLField(help_text="The full history, paginated.")


def _next_tier(summary) -> dict | None:
    tier = summary.next_tier
    if tier is None:
        return None
    # No account yet means no spend yet: the whole threshold is still to go.
    needed = summary.to_next_tier.amount if summary.to_next_tier is not None else tier.min_spend
    return {"name": tier.name, "min_spend": tier.min_spend, "spend_needed": needed}


class LoyaltyView(APIView):
    """Your points: balance, what you can spend now, your tier, the rules, and your latest history."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=LoyaltyOutput)
    def get(self, request):
        now = timezone.now()
        summary = selectors.summary(user=request.user, now=now)
        # The account's key is the user's: no need to load the account to list its entries.
        entries = list(selectors.ledger(account=request.user.pk)[:LATEST_ENTRIES])
        data = {
            **vars(summary),
            "next_tier": _next_tier(summary),
            "program": current().program,
            "ledger": entries,
            "history": request.build_absolute_uri(reverse("api:loyalty-ledger")),
        }
        return Response(LoyaltyOutput(data, context={"now": now, "request": request}).data)


class LedgerView(generics.ListAPIView):
    """Your whole points history, newest first, paginated."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = LedgerEntryOutput
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        return selectors.ledger(account=self.request.user.pk)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}


# --- referrals ----------------------------------------------------------------------------------


class ReferralStatsOutput(serializers.Serializer):
    pending = serializers.IntegerField(help_text="Friends who joined and have not ordered yet.")
    rewarded = serializers.IntegerField()
    refused = serializers.IntegerField(help_text="Not rewarded (e.g. the monthly cap was reached).")


class ReferralOutput(serializers.Serializer):
    code = serializers.CharField(source="account.referral_code")
    link = serializers.URLField(help_text="The page to share with friends.")
    friend_discount_percent = serializers.IntegerField(source="program.referral_discount_percent")
    friend_discount_max = serializers.DecimalField(
        source="program.referral_discount_max", max_digits=12, decimal_places=2
    )
    currency = serializers.CharField()
    advocate_points = serializers.IntegerField(
        source="program.referral_points", help_text="Yours when a friend's first order is paid."
    )
    monthly_cap = serializers.IntegerField(
        source="program.referral_monthly_cap", help_text="Friends rewarded per month at most."
    )
    stats = ReferralStatsOutput()
    referred_by = serializers.CharField(allow_null=True, help_text="Who referred you (email partly hidden), or null.")


class ReferralInput(serializers.Serializer):
    code = serializers.CharField(max_length=12, help_text="A friend's referral code (case-insensitive).")


class ReferralClaimOutput(serializers.Serializer):
    status = serializers.CharField(help_text="pending: your first order gets the friend's welcome discount.")
    referred_by = serializers.CharField(help_text="Your friend (email partly hidden).")


def _referred_by(user) -> str | None:
    referral = Referral.objects.select_related("advocate").filter(friend=user).first()
    return services.masked_email(referral.advocate.email) if referral else None


class ReferralView(APIView):
    """Your referral code and link, what it gives, and how your referrals went; or claim a friend's code."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=ReferralOutput)
    def get(self, request):
        account = services.account_get(user=request.user)  # made on first visit, with its code
        link = request.build_absolute_uri(reverse("loyalty:referral", args=[account.referral_code]))
        data = {
            "account": account,
            "link": link,
            "program": current().program,
            "currency": settings.SHOP_CURRENCY,
            "stats": selectors.referral_stats(user=request.user),
            "referred_by": _referred_by(request.user),
        }
        return Response(ReferralOutput(data).data)

    @extend_schema(
        request=ReferralInput,
        responses={
            201: ReferralClaimOutput,
            400: error_response("Your own code: `detail` says why."),
            404: error_response("No such code."),
            409: error_response("Already referred, or not a new customer."),
        },
    )
    def post(self, request):
        """Claim a friend's code as a new customer: your first order gets their welcome discount."""
        data = ReferralInput(data=request.data)
        data.is_valid(raise_exception=True)
        referral = services.referral_attach(friend=request.user, code=data.validated_data["code"])
        body = {"status": referral.status, "referred_by": services.masked_email(referral.advocate.email)}
        return Response(ReferralClaimOutput(body).data, status=status.HTTP_201_CREATED)


# --- points on the cart -------------------------------------------------------------------------


# The points column's limit (a PostgreSQL integer): more is refused as invalid, never sent to the database.
MAX_POINTS = 2_147_483_647


class PointsInput(serializers.Serializer):
    points = serializers.IntegerField(
        min_value=1, max_value=MAX_POINTS, help_text="How many points to spend on this cart."
    )


class CartPointsView(CartAPIView):
    # The points belong to an account: a guest's cart has none to spend.
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=PointsInput,
        responses={
            200: CartSerializer,
            400: error_response(
                "Fewer points than the minimum, more than you have, or an empty cart: `errors.points` says."
            ),
        },
    )
    def post(self, request):
        """Spend points on the cart (replaces any number chosen before); answers with the priced cart.

        The cart takes at most the program's share of the merchandise: its `points` adjustment
        shows how many apply.
        """
        data = PointsInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = cart_for_request(request)
        if cart is None or not cart.lines.all():
            raise ShopError(_("Your cart is empty: add products before using points."), field="points")
        services.cart_points_set(cart=cart, user=request.user, points=data.validated_data["points"])
        return self.cart_response(request)

    # Stated as 200: DELETE would otherwise be documented as 204, but the answer is the priced cart.
    @extend_schema(request=None, responses={200: CartSerializer})
    def delete(self, request):
        """Stop spending points on the cart (nothing happens if there were none)."""
        services.cart_points_remove(cart=cart_for_request(request, with_lines=False))
        return self.cart_response(request)
