"""The API of campaigns: a customer's consent per channel, and campaigns' results for staff."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import permissions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from marketing.campaigns import services
from marketing.campaigns.models import Campaign
from shop.accounts.models import Channel, ConsentChange, ConsentSource
from shop.accounts.services import CONSENT_WORDING, consent_set, consents_of
from shop.core.schema import error_response


class ConsentSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    given = serializers.BooleanField()
    wording = serializers.CharField(read_only=True, help_text="The words the customer agrees to.")


class ConsentChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentChange
        fields = ["channel", "given", "at", "source", "wording"]


class ConsentOutput(serializers.Serializer):
    channels = ConsentSerializer(many=True)
    history = ConsentChangeSerializer(many=True, help_text="Every change, newest first (at most 100).")


class ConsentView(APIView):
    """The logged-in customer's marketing consent, per channel, with its history.

    POST one channel's answer at a time; it is recorded with the time, "API" as its source and
    the channel's wording. Nothing is ever given by default."""

    permission_classes = [permissions.IsAuthenticated]

    def _output(self, user):
        given = consents_of(user=user)
        channels = [{"channel": c, "given": given[c], "wording": str(CONSENT_WORDING[c])} for c in Channel.values]
        history = ConsentChange.objects.filter(user=user).order_by("-at", "-id")[:100]
        return Response(ConsentOutput({"channels": channels, "history": history}).data)

    @extend_schema(responses=ConsentOutput)
    def get(self, request):
        return self._output(request.user)

    @extend_schema(
        request=ConsentSerializer,
        responses={200: ConsentOutput, 400: error_response("An unknown channel or a missing answer.")},
    )
    def post(self, request):
        data = ConsentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channel, given = data.validated_data["channel"], data.validated_data["given"]
        if channel == Channel.SMS and given and not getattr(getattr(request.user, "profile", None), "phone", ""):
            raise serializers.ValidationError(
                {"given": [_("Add a mobile number to your account first (PATCH /api/v1/account/ phone).")]}
            )
        consent_set(user=request.user, channel=channel, given=given, source=ConsentSource.API)
        return self._output(request.user)


class ModelPermissions(permissions.DjangoModelPermissions):
    """As in the admin: view_* to read."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],  # DRF's default lets HEAD through with none
    }


class VariantResult(serializers.Serializer):
    variant = serializers.CharField()
    listed = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    bounced = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    opened = serializers.IntegerField(help_text="Unique opens: unreliable (mail apps load images ahead).")
    clicked = serializers.IntegerField(help_text="Unique clickers.")
    unsubscribed = serializers.IntegerField()
    orders = serializers.IntegerField(help_text="Paid within the attribution window after a click.")
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)


class CampaignResultSerializer(serializers.ModelSerializer):
    segment = serializers.CharField(source="segment.key")
    results = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "segment",
            "status",
            "scheduled_at",
            "started_at",
            "finished_at",
            "ab_test",
            "ab_metric",
            "ab_winner",
            "ab_decision",
            "attribution_days",
            "currency",
            "results",
        ]

    def get_currency(self, campaign) -> str:
        from django.conf import settings

        return settings.SHOP_CURRENCY

    @extend_schema_field(VariantResult(many=True))
    def get_results(self, campaign) -> list[dict]:
        figures = services.variant_figures(campaign)
        return VariantResult(
            [
                {**dict.fromkeys(VariantResult().fields, 0), **f, "variant": key, "revenue": f.get("revenue") or 0}
                for key, f in sorted(figures.items())
            ],
            many=True,
        ).data


@extend_schema_view(
    list=extend_schema(summary="Campaigns with their results, newest first"),
    retrieve=extend_schema(summary="One campaign's results per content (A/B)"),
)
class CampaignViewSet(viewsets.ReadOnlyModelViewSet):
    """Campaigns' results, for staff allowed to view campaigns (`campaigns.view_campaign`)."""

    serializer_class = CampaignResultSerializer
    permission_classes = [permissions.IsAdminUser, ModelPermissions]
    filterset_fields = ["status", "channel"]

    def get_queryset(self):
        return Campaign.objects.select_related("segment").order_by("-created_at")
