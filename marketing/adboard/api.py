"""The ad board's API (docs/architecture.md, "The API"): the same search and filters as the board's
pages, members' own ads with their photos, conversations, sellers' ratings, reports and saved
searches. Routed from config/api_urls.py under /api/v1/.

Thin, as the house style asks: each operation reads its input with a serializer, calls one
service (services.py decides every rule, the quota, bans and moderation) and answers with an
output serializer. Services' domain errors (Forbidden, NotFound, Conflict) and Django's
ValidationError reach the one exception handler (shop/core/api.py), which makes them 4xx answers.

Who sees what is the models' and selectors' rule, never the view's own: `Ad.objects.visible_to`
(public ads for everyone, a member's own in any state but deleted, everything for moderators),
`selectors.conversation_for` (its two members and moderators). Anything a client may not see is
a 404, as if it did not exist; something it may see but not change is a 403.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from marketing.adboard import cache as board_cache
from marketing.adboard import search, selectors, services
from marketing.adboard.models import Ad, Condition, Conversation, Message, PriceKind, Rating, SavedSearch
from shop.core.errors import NotFound
from shop.core.moderation import ReportReason
from shop.core.parsers import JSONParser
from shop.core.ratelimit import ScopedRateThrottle
from shop.core.schema import error_response
from shop.core.uploads import clean_image

User = get_user_model()

# --- throttles and permissions ------------------------------------------------------------------


class BoardWriteThrottle(ScopedRateThrottle):
    """Writes on the board (posting, editing, messages, ratings, reports), per member: REST_FRAMEWORK
    rate "adboard". Messages also have their own hourly limit in services (ADBOARD_MESSAGES_PER_HOUR)."""

    scope = "adboard"
    DEFAULT_RATE = "60/minute"

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.DEFAULT_RATE


class BoardAPIMixin:
    """Every write is throttled by BoardWriteThrottle, reads are not. The actions named in
    `public_actions` need no login; every other one needs a member."""

    throttle_classes = [BoardWriteThrottle]
    throttle_scope = "adboard"
    filter_backends: list = []
    public_actions: tuple = ()

    def get_throttles(self):
        return [] if self.request.method in permissions.SAFE_METHODS else super().get_throttles()

    def get_permissions(self):
        if getattr(self, "action", None) in self.public_actions:
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]


class BoardMultiPartParser(MultiPartParser):
    """Django refuses a form with too many files or fields by raising SuspiciousOperation, which DRF
    does not turn into a 400 as it does a malformed form: said here, in the API's error shape."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except (TooManyFilesSent, TooManyFieldsSent, RequestDataTooBig):
            raise ParseError(
                _("Too many parts in the form: at most %(n)d photos, and the ad's fields once each.")
                % {"n": settings.ADBOARD_MAX_PHOTOS}
            ) from None


def raise_not_found():
    raise NotFound(_("Not found."))


# --- shared pieces of output --------------------------------------------------------------------


def _page_url(request, obj) -> str:
    """The object's page on the storefront, absolute."""
    url = obj.get_absolute_url()
    return request.build_absolute_uri(url) if request else url


def _media_url(request, field) -> str | None:
    if not field:
        return None
    return request.build_absolute_uri(field.url) if request else field.url


def member_name(user) -> str:
    """A first name and an initial: never the email."""
    initial = f" {user.last_name.strip()[:1]}." if user.last_name.strip() else ""
    return f"{user.first_name.strip()}{initial}".strip() or _("Member")


def _board(user):
    """The member's board row when it was read along (select_related), else None: never a query."""
    try:
        return user.board
    except User.board.RelatedObjectDoesNotExist:
        return None


class BoardMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.SerializerMethodField(help_text="First name and last initial (“Ana K.”).")

    def get_name(self, user) -> str:
        return member_name(user)


class BoardSellerSerializer(BoardMemberSerializer):
    member_since = serializers.SerializerMethodField(help_text="When the member joined the store.")
    rating = serializers.SerializerMethodField(
        help_text="The shown rating (1 to 5): the seller's stars pulled toward the board's average by a few "
        "imaginary ratings (a Bayesian average), so one 5-star rating is not a perfect seller. Null before "
        "the first rating."
    )
    rating_count = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DateField())
    def get_member_since(self, user):
        return user.date_joined.date().isoformat()

    @extend_schema_field(serializers.DecimalField(max_digits=4, decimal_places=3, allow_null=True))
    def get_rating(self, user):
        summary = selectors.rating_summary(_board(user))
        return None if summary["score"] is None else f"{summary['score']:.3f}"

    def get_rating_count(self, user) -> int:
        return selectors.rating_summary(_board(user))["count"]


class AdCategoryRefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    path = serializers.SerializerMethodField(help_text="The names from the top category down: “Vehicles › Cars”.")

    def get_path(self, category) -> str:
        return " › ".join(c.name for c in selectors.ancestors(category)) or category.name


class AdPhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk", help_text="Give it in `photos_remove` to take the photo off.")
    url = serializers.SerializerMethodField(help_text="The photo (a JPEG, up to 1600 pixels a side).")
    thumbnail = serializers.SerializerMethodField(help_text="A small copy (up to 400 pixels a side).")
    width = serializers.IntegerField()
    height = serializers.IntegerField()

    def get_url(self, photo) -> str:
        return _media_url(self.context.get("request"), photo.image)

    def get_thumbnail(self, photo) -> str:
        return _media_url(self.context.get("request"), photo.thumbnail)


STATUS_HELP = "pending (waiting for a moderator), published, rejected (see rejection_reason), hidden (after reports), "
STATUS_HELP += "sold, expired or deleted."


class AdCardSerializer(serializers.Serializer):
    """An ad as lists show it."""

    id = serializers.IntegerField(source="pk")
    url = serializers.SerializerMethodField(help_text="The ad's page on the storefront.")
    title = serializers.CharField()
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="Null for a free ad, or negotiable with no price."
    )
    currency = serializers.CharField()
    price_kind = serializers.ChoiceField(choices=PriceKind.choices)
    condition = serializers.ChoiceField(choices=Condition.choices)
    city = serializers.CharField()
    region = serializers.CharField()
    category = AdCategoryRefSerializer()
    details = serializers.DictField(
        help_text="The category's details by key (see listings/categories/): numbers, texts, choices or true/false."
    )
    cover = serializers.SerializerMethodField(help_text="The first photo's thumbnail; null without photos.")
    photo_count = serializers.IntegerField()
    published_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    seller = BoardSellerSerializer(source="owner")

    def get_url(self, ad) -> str:
        return _page_url(self.context.get("request"), ad)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_cover(self, ad):
        cover = ad.cover
        return _media_url(self.context.get("request"), cover.thumbnail) if cover else None


class MyAdSerializer(AdCardSerializer):
    """One of the member's own ads, with where it stands."""

    status = serializers.CharField(help_text=STATUS_HELP)
    rejection_reason = serializers.CharField(help_text="Why a moderator rejected it (empty otherwise): fix and edit.")
    flags = serializers.ListField(
        child=serializers.CharField(), help_text="What made it wait for a moderator, if anything."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AdSerializer(MyAdSerializer):
    """An ad as its page shows it."""

    description = serializers.CharField()
    photos = AdPhotoSerializer(many=True, source="photos.all")

    def to_representation(self, ad):
        data = super().to_representation(ad)
        user = self.context["request"].user if "request" in self.context else None
        if not (user and (user.pk == ad.owner_id or user.has_perm("adboard.moderate_ad"))):
            # Moderation is between the seller and the moderators.
            data["rejection_reason"], data["flags"] = "", []
        return data


# --- the category tree ----------------------------------------------------------------------------


class AdFieldSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The detail's key in `details`, and in filters as f_<key>.")
    label = serializers.CharField()
    kind = serializers.CharField(
        help_text="number (whole numbers; filter with f_<key>_min and f_<key>_max), choice (one of `choices`; "
        "filter with one or more f_<key>), text (filter with f_<key>, exact), yes_no (filter with f_<key>=1)."
    )
    unit = serializers.CharField(help_text="Shown after numbers: km, m²…")
    choices = serializers.ListField(child=serializers.CharField())
    min = serializers.IntegerField(source="min_value", allow_null=True)
    max = serializers.IntegerField(source="max_value", allow_null=True)
    required = serializers.BooleanField(help_text="An ad in this category must give it.")
    filterable = serializers.BooleanField(help_text="Lists can be filtered by it.")


class BoardCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    slug = serializers.CharField()
    name = serializers.CharField()
    path = serializers.SerializerMethodField(help_text="The names from the top category down: “Vehicles › Cars”.")
    parent = serializers.SerializerMethodField(help_text="The parent's slug; null for a top category.")
    depth = serializers.SerializerMethodField(help_text="0 for a top category.")
    postable = serializers.SerializerMethodField(help_text="Ads are posted in the most precise categories only.")
    fields = serializers.SerializerMethodField(
        method_name="fields_of", help_text="The details an ad in it gives: its parents' first."
    )

    def get_path(self, category) -> str:
        return " › ".join(c.name for c in selectors.ancestors(category))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_parent(self, category):
        parent = selectors.category_by_id(category.parent_id) if category.parent_id else None
        return parent.slug if parent else None

    def get_depth(self, category) -> int:
        return len(selectors.ancestors(category)) - 1

    def get_postable(self, category) -> bool:
        return not selectors.children(category)

    @extend_schema_field(AdFieldSerializer(many=True))
    def fields_of(self, category):
        return AdFieldSerializer(selectors.fields_for(category), many=True).data


def _tree_order() -> list:
    ordered = []

    def walk(nodes):
        for node in nodes:
            ordered.append(node)
            walk(selectors.children(node))

    walk(selectors.roots())
    return ordered


# --- the list's query ---------------------------------------------------------------------------


class ListingQuery(serializers.Serializer):
    """Documents the list's query; read by search.Filters, exactly as the board's pages read it."""

    q = serializers.CharField(required=False, help_text="Words to find (misspellings are corrected).")
    category = serializers.CharField(required=False, help_text="A category's slug; its sub-categories included.")
    min_price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)
    max_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, min_value=0, help_text="Free ads are included."
    )
    region = serializers.CharField(required=False, help_text="Exact, any case.")
    city = serializers.CharField(required=False, help_text="Exact, any case.")
    condition = serializers.ListField(
        child=serializers.ChoiceField(choices=Condition.choices),
        required=False,
        help_text="One or more (repeat the parameter).",
    )
    photos = serializers.BooleanField(required=False, help_text="Only ads with photos.")
    free = serializers.BooleanField(required=False, help_text="Only free ads.")
    sort = serializers.ChoiceField(
        choices=list(search.SORTS),
        required=False,
        help_text="relevance (the default with `q`), newest (the default otherwise), price, -price, rating.",
    )


DETAIL_FILTERS = OpenApiParameter(
    "details",
    OpenApiTypes.OBJECT,
    OpenApiParameter.QUERY,
    required=False,
    style="form",
    explode=True,
    description="With `category`, its details as filters (each category's fields: listings/categories/), one "
    "parameter each: `f_<key>_min` and `f_<key>_max` for a number (`f_year_min=2015&f_mileage_max=90000`), "
    "`f_<key>` once or repeated for a choice (`f_fuel=diesel&f_fuel=hybrid`), `f_<key>=1` for yes or no, "
    "`f_<key>=text` for a text (exact, any case). Unknown keys and values not among a choice's are ignored.",
)


# --- posting and editing ------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.OBJECT)
class DetailsField(serializers.Field):
    """The details as a JSON object; in a multipart form as JSON text, or one part per detail
    (`details[year]=2015`), read by the view."""

    default_error_messages = {
        # DRF formats the message: braces doubled.
        "invalid": _('Send the details as a JSON object, e.g. {{"year": 2015, "fuel": "diesel"}}.'),
    }

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data) if data.strip() else {}
            except (ValueError, RecursionError):
                self.fail("invalid")
        if not isinstance(data, dict):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


DETAILS_HELP = (
    "The category's details by key (listings/categories/ lists each category's fields). As a JSON object, "
    'or in a multipart form as JSON text (`{"year": 2015}`) or one part per detail (`details[year]=2015`).'
)
PHOTO_HELP = (
    "JPEG, PNG or WebP pictures, repeated as `photos` parts (at most {max}, each up to {size} MB, at least "
    "200 pixels a side). They are re-drawn without their metadata."
)


class _AdWriteFields(serializers.Serializer):
    category = serializers.CharField(
        max_length=80, help_text="The slug of one of the most precise categories (`postable` in listings/categories/)."
    )
    title = serializers.CharField(max_length=90)
    description = serializers.CharField(max_length=5000)
    price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="Required with price_kind fixed; ignored for free.",
    )
    price_kind = serializers.ChoiceField(choices=PriceKind.choices, default=PriceKind.FIXED)
    condition = serializers.ChoiceField(choices=Condition.choices)
    city = serializers.CharField(max_length=80)
    region = serializers.CharField(max_length=80)
    details = DetailsField(required=False, help_text=DETAILS_HELP)

    def validate_category(self, slug):
        category = selectors.category_by_slug(slug)
        if category is None:
            raise serializers.ValidationError(_("There is no category “%(slug)s”.") % {"slug": slug})
        return category


def _photo_field(**kwargs):
    return serializers.ListField(
        child=serializers.FileField(allow_empty_file=False),
        help_text=PHOTO_HELP.format(max=settings.ADBOARD_MAX_PHOTOS, size=settings.SHOP_UPLOAD_MAX_BYTES // 2**20),
        **kwargs,
    )


class AdCreateInput(_AdWriteFields):
    photos = _photo_field(min_length=1)


class AdUpdateInput(_AdWriteFields):
    photos_add = _photo_field(required=False)
    photos_remove = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1),
        required=False,
        help_text="Ids of the ad's photos to take off (`photos` in the ad).",
    )


def _with_details_parts(request):
    """The request's data, with `details[<key>]` parts gathered into `details` (a multipart form)."""
    data = request.data
    if not hasattr(data, "getlist"):
        return data
    parts = {key[8:-1]: data.get(key) for key in data if key.startswith("details[") and key.endswith("]")}
    if not parts:
        return data
    merged = {
        key: data.getlist(key) if key in ("photos", "photos_add", "photos_remove") else data.get(key) for key in data
    }
    merged = {key: value for key, value in merged.items() if not key.startswith("details[")}
    merged["details"] = parts
    return merged


def _clean_photos(files) -> list:
    """Each upload checked and re-drawn (shop.core.uploads); every bad file named at once."""
    most = settings.ADBOARD_MAX_PHOTOS
    if len(files) > most:
        raise DjangoValidationError({"photos": [_("Send at most %(n)d photos.") % {"n": most}]})
    cleaned, errors = [], []
    for upload in files:
        try:
            cleaned.append(clean_image(upload))
        except DjangoValidationError as error:
            errors.extend(error.messages)
    if errors:
        raise DjangoValidationError({"photos": errors})
    return cleaned


AD_FIELDS = {"category", "title", "description", "price", "price_kind", "condition", "city", "region", "photos"}


def _service_call(fn, *args, **kwargs):
    """Run a write service; its errors about a detail are named `details.<key>` (the form's own
    fields keep their names), so a client knows the key was one of the details."""
    try:
        return fn(*args, **kwargs)
    except DjangoValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        raise DjangoValidationError(
            {
                (name if name in AD_FIELDS or name == "__all__" else f"details.{name}"): messages
                for name, messages in error.message_dict.items()
            }
        ) from None


# --- replies to the other writes ----------------------------------------------------------------


class AdSavedOutput(serializers.Serializer):
    saved = serializers.BooleanField()


class BoardMessageInput(serializers.Serializer):
    body = serializers.CharField(max_length=2000, help_text="Up to 2,000 characters.")


class BoardReportInput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=ReportReason.choices)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class BoardReportOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    reason = serializers.ChoiceField(choices=ReportReason.choices)
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


REPORT_DOC = {
    "request": BoardReportInput,
    "responses": {
        201: OpenApiResponse(
            BoardReportOutput,
            description="Reported. After a few members' reports (ADBOARD_REPORTS_TO_HIDE) it is hidden until a "
            "moderator decides.",
        ),
        409: error_response("Reported by you already, or your own."),
    },
}


def _report(request, **target) -> Response:
    data = BoardReportInput(data=request.data)
    data.is_valid(raise_exception=True)
    found = services.report(request.user, **data.validated_data, **target)
    return Response(BoardReportOutput(found).data, status=status.HTTP_201_CREATED)


class BoardMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    conversation = serializers.IntegerField(source="conversation_id")
    sender = BoardMemberSerializer()
    mine = serializers.SerializerMethodField(help_text="Sent by the member asking.")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    hidden = serializers.BooleanField(
        help_text="Hidden after reports: shown only to its sender (and moderators) until a moderator decides."
    )

    def get_mine(self, message) -> bool:
        return message.sender_id == self.context["request"].user.pk


# --- listings -----------------------------------------------------------------------------------

AD_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The ad's id.")


@extend_schema_view(
    list=extend_schema(
        summary="Search the board's ads",
        parameters=[ListingQuery, DETAIL_FILTERS],
        responses={
            200: AdCardSerializer(many=True),
            400: error_response("A filter's value is not valid: `errors` names it (min_price, category, sort…)."),
        },
    ),
    retrieve=extend_schema(summary="An ad", parameters=[AD_ID], responses=AdSerializer),
    create=extend_schema(
        summary="Post an ad",
        request={"multipart/form-data": AdCreateInput},
        responses={
            201: OpenApiResponse(
                AdSerializer, description="Posted: `status` is pending while it waits for a moderator."
            ),
            403: error_response("Banned from the board (or a session without its CSRF token)."),
            409: error_response("The member has as many active ads as they can have."),
            415: error_response("Not a multipart form: an ad's photos are sent as files."),
        },
    ),
    partial_update=extend_schema(
        summary="Edit one of your ads",
        parameters=[AD_ID],
        request={"application/json": AdUpdateInput, "multipart/form-data": AdUpdateInput},
        responses={
            200: OpenApiResponse(AdSerializer, description="Edited; it may wait for a moderator again."),
            403: error_response("Not your ad, or banned from the board."),
            409: error_response("A sold or expired ad: renew it first."),
        },
    ),
    destroy=extend_schema(
        summary="Delete one of your ads",
        parameters=[AD_ID],
        responses={204: None, 403: error_response("Not your ad.")},
    ),
)
class ListingViewSet(BoardAPIMixin, viewsets.GenericViewSet):
    """The board's ads: search as on its pages; members post, edit and delete their own."""

    public_actions = ("list", "retrieve", "categories")
    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    serializer_class = AdSerializer
    parser_classes = [JSONParser, BoardMultiPartParser, FormParser]

    def get_queryset(self):
        return Ad.objects.visible_to(self.request.user)

    def _ad(self, pk) -> Ad:
        """The ad if the member may see it (else 404), with what its answer shows."""
        ad = selectors.ad_detail(pk, self.request.user)
        if ad is None:
            raise_not_found()
        return ad

    def _answer(self, pk, code=status.HTTP_200_OK) -> Response:
        return Response(AdSerializer(self._ad(pk), context=self.get_serializer_context()).data, status=code)

    def list(self, request):
        filters = search.Filters.parse(request.query_params)
        if filters.errors:
            raise serializers.ValidationError({name: [message] for name, message in filters.errors.items()})

        def build():
            ads = selectors.cards(search.apply(filters, Ad.objects.public()))
            page = self.paginate_queryset(ads)  # a page that does not exist raises: nothing is kept
            data = self.get_paginated_response(
                AdCardSerializer(page, many=True, context=self.get_serializer_context()).data
            ).data
            return data, min((ad.expires_at for ad in page if ad.expires_at), default=None)

        # The same answer for everyone (links are absolute: the host is in the key), kept as the
        # pages' lists are (cache.py).
        params = request.query_params
        if not search.known_params(params, also=("page_size", "format")):
            return Response(build()[0])
        parts = (
            request.get_host(),
            request.is_secure(),
            filters.query_string(with_sort=True),
            params.get("page", ""),
            params.get("page_size", ""),
            get_language(),
        )
        return Response(board_cache.kept("api-list", parts, build))

    def retrieve(self, request, pk=None):
        return self._answer(pk)

    def create(self, request):
        if not (request.content_type or "").startswith("multipart/form-data"):
            raise UnsupportedMediaType(request.content_type)  # photos come as files
        data = AdCreateInput(data=_with_details_parts(request))
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        photos = _clean_photos(fields.pop("photos"))
        ad = _service_call(services.ad_create, request.user, photos=photos, **fields)
        return self._answer(ad.pk, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        ad = self._ad(pk)
        data = AdUpdateInput(data=_with_details_parts(request), partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        photos_add = _clean_photos(changes.pop("photos_add", []))
        photos_remove = changes.pop("photos_remove", [])
        _service_call(
            services.ad_update, ad, request.user, photos_add=photos_add, photos_remove=photos_remove, **changes
        )
        return self._answer(ad.pk)

    def destroy(self, request, pk=None):
        services.ad_delete(self._ad(pk), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Mark one of your ads sold",
        parameters=[AD_ID],
        request=None,
        responses={200: AdSerializer, 403: error_response("Not your ad."), 409: error_response("Not an active ad.")},
    )
    @action(detail=True, methods=["post"])
    def sold(self, request, pk=None):
        services.ad_mark_sold(self._ad(pk), request.user)
        return self._answer(pk)

    @extend_schema(
        summary="Publish one of your ads for another period",
        parameters=[AD_ID],
        request=None,
        responses={
            200: AdSerializer,
            403: error_response("Not your ad."),
            409: error_response("Neither expired nor expiring soon, or the member's active ads are at the most."),
        },
    )
    @action(detail=True, methods=["post"])
    def renew(self, request, pk=None):
        services.ad_renew(self._ad(pk), request.user)
        return self._answer(pk)

    @extend_schema(
        summary="Save an ad to your list",
        methods=["POST"],
        parameters=[AD_ID],
        request=None,
        responses={201: AdSavedOutput, 200: OpenApiResponse(AdSavedOutput, description="Saved already.")},
    )
    @extend_schema(
        summary="Take an ad off your saved list",
        methods=["DELETE"],
        parameters=[AD_ID],
        request=None,
        responses={204: None},
    )
    @action(detail=True, methods=["post", "delete"])
    def save(self, request, pk=None):
        ad = self._ad(pk)
        if request.method == "DELETE":
            services.ad_unsave(ad, request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        created = services.ad_save(ad, request.user)
        return Response({"saved": True}, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(summary="Your ads, in every state but deleted", responses=MyAdSerializer(many=True))
    @action(detail=False)
    def mine(self, request):
        ads = selectors.cards(
            Ad.objects.filter(owner=request.user).exclude(status=Ad.Status.DELETED).order_by("-created_at", "-id")
        )
        page = self.paginate_queryset(ads)
        return self.get_paginated_response(MyAdSerializer(page, many=True, context=self.get_serializer_context()).data)

    @extend_schema(summary="The board's categories and their details", responses=BoardCategorySerializer(many=True))
    @action(detail=False, pagination_class=None)
    def categories(self, request):
        """Every active category in tree order (each parent before its children), with the details an
        ad in it gives: what `details` holds and what the list's f_<key> filters take."""
        return Response(BoardCategorySerializer(_tree_order(), many=True).data)

    @extend_schema(
        summary="Write to the seller",
        parameters=[AD_ID],
        request=BoardMessageInput,
        responses={
            201: OpenApiResponse(BoardMessageSerializer, description="Sent: `conversation` is the thread's id."),
            403: error_response("Banned from the board (or a session without its CSRF token)."),
            409: error_response("Your own ad."),
            429: error_response("Too many messages lately: wait a while."),
        },
    )
    @action(detail=True, methods=["post"])
    def messages(self, request, pk=None):
        """Start a conversation about the ad, or continue yours (one per ad and buyer)."""
        data = BoardMessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.contact(self._ad(pk), request.user, data.validated_data["body"])
        return Response(
            BoardMessageSerializer(message, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(summary="Report an ad", parameters=[AD_ID], **REPORT_DOC)
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        return _report(request, ad=self._ad(pk))


# --- conversations ------------------------------------------------------------------------------


class AdRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    url = serializers.SerializerMethodField()
    cover = serializers.SerializerMethodField(help_text="The first photo's thumbnail.")

    def get_url(self, ad) -> str:
        return _page_url(self.context.get("request"), ad)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_cover(self, ad):
        cover = ad.cover
        return _media_url(self.context.get("request"), cover.thumbnail) if cover else None


class BoardConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    ad = AdRefSerializer()
    buyer = BoardMemberSerializer()
    seller = BoardMemberSerializer()
    role = serializers.SerializerMethodField(help_text="buyer or seller: the asking member's side.")
    created_at = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField()
    unread = serializers.SerializerMethodField(help_text="A message came since the member last read it.")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_role(self, conversation):
        user = self.context["request"].user
        return {conversation.buyer_id: "buyer", conversation.seller_id: "seller"}.get(user.pk)

    def get_unread(self, conversation) -> bool:
        user = self.context["request"].user
        return user.pk in (conversation.buyer_id, conversation.seller_id) and conversation.unread_for(user)


class BoardConversationDetailSerializer(BoardConversationSerializer):
    messages = serializers.SerializerMethodField(help_text="Oldest first.")

    @extend_schema_field(BoardMessageSerializer(many=True))
    def get_messages(self, conversation):
        messages = selectors.messages_of(conversation, viewer=self.context["request"].user)
        return BoardMessageSerializer(messages, many=True, context=self.context).data


CONVERSATION_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The conversation's id.")


@extend_schema_view(
    list=extend_schema(
        summary="Your conversations, the latest first", responses=BoardConversationSerializer(many=True)
    ),
    retrieve=extend_schema(
        summary="A conversation with its messages (marks it read)",
        parameters=[CONVERSATION_ID],
        responses=BoardConversationDetailSerializer,
    ),
)
class ConversationViewSet(BoardAPIMixin, viewsets.GenericViewSet):
    """Buyers' threads with sellers: only their two members (and moderators) can open one."""

    lookup_value_regex = "[0-9]+"
    serializer_class = BoardConversationSerializer

    def get_queryset(self):
        return selectors.conversations_of(self.request.user)

    def _conversation(self, pk) -> Conversation:
        found = selectors.conversation_for(pk, self.request.user)
        if found is None:
            raise_not_found()
        return found

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            BoardConversationSerializer(page, many=True, context={"request": request}).data
        )

    def retrieve(self, request, pk=None):
        conversation = self._conversation(pk)
        services.conversation_read(conversation, request.user)
        return Response(BoardConversationDetailSerializer(conversation, context={"request": request}).data)

    @extend_schema(
        summary="Reply in a conversation",
        parameters=[CONVERSATION_ID],
        request=BoardMessageInput,
        responses={
            201: BoardMessageSerializer,
            403: error_response("Banned from the board (or a session without its CSRF token)."),
            429: error_response("Too many messages lately: wait a while."),
        },
    )
    @action(detail=True, methods=["post"])
    def messages(self, request, pk=None):
        data = BoardMessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = self._conversation(pk)
        if request.user.pk not in (conversation.buyer_id, conversation.seller_id):
            raise_not_found()  # a moderator reads, but does not write in, others' conversations
        message = services.reply(conversation, request.user, data.validated_data["body"])
        return Response(
            BoardMessageSerializer(message, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class MessageReportView(BoardAPIMixin, APIView):
    @extend_schema(
        summary="Report a message",
        parameters=[OpenApiParameter("message_id", int, OpenApiParameter.PATH, description="The message's id.")],
        **REPORT_DOC,
    )
    def post(self, request, message_id):
        """A member reports a message of one of their own conversations."""
        message = (
            Message.objects.filter(Q(conversation__buyer=request.user) | Q(conversation__seller=request.user))
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            raise_not_found()
        return _report(request, message=message)


# --- ratings ------------------------------------------------------------------------------------


class SellerRatingSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    seller = serializers.IntegerField(source="seller_id", help_text="The rated seller's id.")
    rater = BoardMemberSerializer()
    ad = serializers.SerializerMethodField(help_text="The ad the deal was about, if the rater named one.")
    stars = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField()
    reply = serializers.CharField(help_text="The seller's public answer; empty until they reply.")
    replied_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.DictField(allow_null=True, help_text="{id, title}"))
    def get_ad(self, rating):
        return {"id": rating.ad_id, "title": rating.ad.title} if rating.ad_id else None


class SellerRatingInput(serializers.Serializer):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    ad = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, required=False, allow_null=True, help_text="One of the seller's ads (an id)."
    )


class RatingReplyInput(serializers.Serializer):
    reply = serializers.CharField(max_length=1000)


SELLER_ID = OpenApiParameter("seller_id", int, OpenApiParameter.PATH, description="The seller's user id.")
RATING_ID = OpenApiParameter("rating_id", int, OpenApiParameter.PATH, description="The rating's id.")


def _seller(seller_id):
    return get_object_or_404(User.objects.filter(is_active=True), pk=seller_id)


class SellerRatingViewSet(BoardAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A seller's ratings (GET, public) and a member's rating of them (POST)."""

    public_actions = ("list",)
    serializer_class = SellerRatingSerializer

    def get_queryset(self):
        return selectors.seller_ratings(_seller(self.kwargs["seller_id"]), viewer=self.request.user)

    @extend_schema(summary="A seller's ratings, the newest first", parameters=[SELLER_ID])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Rate a seller (again: edits your rating)",
        parameters=[SELLER_ID],
        request=SellerRatingInput,
        responses={
            201: OpenApiResponse(SellerRatingSerializer, description="Rated."),
            200: OpenApiResponse(SellerRatingSerializer, description="Your earlier rating, edited."),
            403: error_response("Only members who wrote to the seller about one of their ads can rate them."),
            409: error_response("Rated at the same moment from elsewhere: edit it instead."),
        },
    )
    def create(self, request, *args, **kwargs):
        seller = _seller(self.kwargs["seller_id"])
        data = SellerRatingInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        ad_id = fields.pop("ad", None)
        ad = None
        if ad_id is not None:
            ad = Ad.objects.filter(pk=ad_id, owner=seller).exclude(status=Ad.Status.DELETED).first()
            if ad is None:
                raise serializers.ValidationError({"ad": [_("Not one of this seller's ads.")]})
        rating, created = services.rating_set(seller, request.user, ad=ad, **fields)
        rating = Rating.objects.select_related("rater", "ad").get(pk=rating.pk)
        return Response(
            SellerRatingSerializer(rating, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _rating(request, rating_id) -> Rating:
    ratings = Rating.objects.select_related("rater", "ad")
    if not request.user.has_perm("adboard.moderate_ad"):
        ratings = ratings.filter(Q(hidden=False) | Q(rater=request.user) | Q(seller=request.user))
    return get_object_or_404(ratings, pk=rating_id)


class RatingView(BoardAPIMixin, APIView):
    @extend_schema(
        summary="Delete your rating of a seller",
        parameters=[RATING_ID],
        request=None,
        responses={204: None, 403: error_response("Not your rating.")},
    )
    def delete(self, request, rating_id):
        services.rating_delete(_rating(request, rating_id), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RatingReplyView(BoardAPIMixin, APIView):
    @extend_schema(
        summary="Answer a rating of you, in public (once)",
        parameters=[RATING_ID],
        request=RatingReplyInput,
        responses={
            200: SellerRatingSerializer,
            403: error_response("Not a rating of you."),
            409: error_response("Answered already."),
        },
    )
    def post(self, request, rating_id):
        data = RatingReplyInput(data=request.data)
        data.is_valid(raise_exception=True)
        rating = services.rating_reply(_rating(request, rating_id), request.user, data.validated_data["reply"])
        rating = Rating.objects.select_related("rater", "ad").get(pk=rating.pk)
        return Response(SellerRatingSerializer(rating, context={"request": request}).data)


class RatingReportView(BoardAPIMixin, APIView):
    @extend_schema(summary="Report a rating", parameters=[RATING_ID], **REPORT_DOC)
    def post(self, request, rating_id):
        return _report(request, rating=_rating(request, rating_id))


# --- saved searches -----------------------------------------------------------------------------


class SavedSearchSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    query = serializers.CharField(help_text="The list's query string, tidied (`q=sofa&category=furniture`).")
    alerts = serializers.BooleanField(help_text="An email when new ads match.")
    url = serializers.SerializerMethodField(help_text="The search on the storefront.")
    results = serializers.SerializerMethodField(help_text="The search in this API (GET listings/ with the query).")
    created_at = serializers.DateTimeField()

    def get_url(self, saved) -> str:
        return _page_url(self.context.get("request"), saved)

    def get_results(self, saved) -> str:
        path = reverse("api:listing-list") + (f"?{saved.query}" if saved.query else "")
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class SavedSearchInput(serializers.Serializer):
    query = serializers.CharField(
        max_length=500,
        allow_blank=True,
        help_text="The query string of listings/ (`q=sofa&category=furniture&max_price=200`), without its `?`.",
    )
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    alerts = serializers.BooleanField(required=False, default=True)

    def validate_query(self, query):
        query = query.lstrip("?")
        errors = search.Filters.parse_query(query).errors
        if errors:
            raise serializers.ValidationError([f"{name}: {message}" for name, message in errors.items()])
        return query


@extend_schema_view(
    list=extend_schema(summary="Your saved searches"),
    create=extend_schema(
        summary="Save a search",
        request=SavedSearchInput,
        responses={201: SavedSearchSerializer, 409: error_response("As many saved searches as a member can keep.")},
    ),
    destroy=extend_schema(
        summary="Delete a saved search",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The saved search's id.")],
    ),
)
class SavedSearchViewSet(BoardAPIMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = SavedSearchSerializer
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return SavedSearch.objects.filter(user=self.request.user).order_by("-created_at", "-id")

    def create(self, request):
        data = SavedSearchInput(data=request.data)
        data.is_valid(raise_exception=True)
        saved = services.search_save(request.user, **data.validated_data)
        return Response(SavedSearchSerializer(saved, context={"request": request}).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.search_delete(instance, self.request.user)
