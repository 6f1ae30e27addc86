from decimal import ROUND_HALF_UP

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from shop.catalog import cache as catalog_cache
from shop.catalog import search as catalog_search
from shop.catalog import selectors, services
from shop.catalog.api_variants import (
    AttributeSerializer,
    FacetSerializer,
    ProductTypeRefSerializer,
    load_variants,
    with_variant_count,
)
from shop.catalog.filters import ProductFilter
from shop.catalog.models import Category, Product, ProductImage, Review, ReviewPhoto, ReviewReport, Variant
from shop.catalog.offers import attach_offers
from shop.catalog.tracking import list_id as _list_id
from shop.core.moderation import ReportReason
from shop.core.parsers import JSONParser
from shop.core.ratelimit import AnonRateThrottle, ScopedRateThrottle
from shop.core.tracking import track
from shop.core.uploads import clean_image


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="The parent's slug; null for a top category."
    )

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "path", "depth", "parent"]


class ImageSerializer(serializers.ModelSerializer):
    url = serializers.ImageField(source="image", read_only=True)
    alt = serializers.CharField(read_only=True)

    class Meta:
        model = ProductImage
        fields = ["url", "alt"]


class CategoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name", "path"]


class OfferSerializer(serializers.Serializer):
    price = serializers.DecimalField(source="price.amount", max_digits=12, decimal_places=2)
    label = serializers.CharField()


class RatingBarSerializer(serializers.Serializer):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    count = serializers.IntegerField(min_value=0)
    percent = serializers.IntegerField(min_value=0, max_value=100, help_text="Of the reviews, rounded.")


class ProductSerializer(serializers.ModelSerializer):
    currency = serializers.SerializerMethodField()
    category = CategoryRefSerializer(read_only=True)
    image = serializers.SerializerMethodField()
    in_stock = serializers.BooleanField(read_only=True)
    on_sale = serializers.BooleanField(read_only=True)
    rating = serializers.DecimalField(
        source="rating_score",
        max_digits=3,
        decimal_places=2,
        rounding=ROUND_HALF_UP,
        read_only=True,
        allow_null=True,
        help_text="The rating shown and sorted by: the Bayesian average of the published reviews (pulled "
        "towards the store-wide mean while they are few); null until the first review.",
    )
    rating_mean = serializers.DecimalField(
        source="rating_avg",
        max_digits=3,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="The plain mean of the published reviews' stars; null until the first review.",
    )
    rating_distribution = RatingBarSerializer(
        many=True, read_only=True, help_text="How many published reviews give each number of stars, 5 first."
    )
    offer = serializers.SerializerMethodField(help_text="The price after automatic promotions, when one applies.")
    variant_count = serializers.IntegerField(
        read_only=True,
        min_value=0,
        help_text="How many variants it comes in (sizes, colours): with 1, the cart takes it by `product`; "
        "else by `variant`, one of the detail's `variants`.",
    )

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "slug",
            "name",
            "brand",
            "price",
            "compare_at_price",
            "currency",
            "on_sale",
            "in_stock",
            "stock",
            "rating",
            "rating_count",
            "rating_mean",
            "rating_distribution",
            "offer",
            "category",
            "image",
            "created_at",
            "variant_count",
        ]

    @extend_schema_field(OfferSerializer(allow_null=True))
    def get_offer(self, product):
        offer = getattr(product, "offer", None)
        return OfferSerializer(offer).data if offer else None

    def get_currency(self, product) -> str:
        return settings.SHOP_CURRENCY

    @extend_schema_field(ImageSerializer(allow_null=True))
    def get_image(self, product):
        image = product.main_image
        if not image:
            return None
        # One ImageSerializer for the whole list: building a serializer's fields
        # for each of the 24 products cost more than the rest of the list.
        if getattr(self, "_image_serializer", None) is None:
            self._image_serializer = ImageSerializer(context=self.context)
        return self._image_serializer.to_representation(image)


class VariantSerializer(serializers.Serializer):
    """One of `shop.catalog.api_variants.load_variants`'s `api_variants`."""

    id = serializers.IntegerField(help_text="What the cart takes as `variant`.")
    sku = serializers.CharField()
    price = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="Its own price, or else the product's; before automatic promotions (see `offer`).",
    )
    compare_at_price = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text="The former price struck through; null if none."
    )
    offer = OfferSerializer(
        allow_null=True,
        read_only=True,
        help_text="Its price after automatic promotions, at its own price, as the cart will charge it; null if none.",
    )
    currency = serializers.CharField()
    in_stock = serializers.BooleanField()
    stock = serializers.IntegerField(min_value=0)
    options = serializers.DictField(
        child=serializers.SlugField(),
        help_text='Its value of each variant attribute, {attribute slug: value slug}, e.g. {"size": "m", '
        '"colour": "blue"}; {} for a product without options.',
    )
    image = ImageSerializer(allow_null=True, read_only=True, help_text="Its own picture (the blue one); else null.")


class ProductDetailSerializer(ProductSerializer):
    images = ImageSerializer(many=True, read_only=True)
    breadcrumbs = serializers.SerializerMethodField()
    product_type = ProductTypeRefSerializer(
        read_only=True, allow_null=True, help_text="Its kind (Clothing, Shoes); null for a plain product."
    )
    attributes = AttributeSerializer(
        source="api_attributes",
        many=True,
        read_only=True,
        help_text="What describes the product as a whole (material: cotton), each attribute with its values.",
    )
    options = AttributeSerializer(
        source="api_options",
        many=True,
        read_only=True,
        help_text="What a shopper chooses (size, colour), each with the values its variants have; [] for a "
        "product in a single variant.",
    )
    variants = VariantSerializer(
        source="api_variants",
        many=True,
        read_only=True,
        help_text="What the cart holds: each variant on sale with its options, price and stock (one, with "
        "options {}, for a plain product).",
    )

    class Meta(ProductSerializer.Meta):
        fields = [
            *ProductSerializer.Meta.fields,
            "description",
            "images",
            "breadcrumbs",
            "product_type",
            "attributes",
            "options",
            "variants",
        ]

    def get_breadcrumbs(self, product) -> list[dict]:
        return CategoryRefSerializer([*product.category.ancestors(), product.category], many=True).data


class ReviewPhotoSerializer(serializers.ModelSerializer):
    url = serializers.ImageField(source="image", read_only=True, help_text="The picture (at most 1600 px).")
    thumbnail = serializers.ImageField(read_only=True, help_text="A small copy (at most 400 px).")

    class Meta:
        model = ReviewPhoto
        fields = ["id", "url", "thumbnail", "width", "height"]


class ReviewSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    photos = ReviewPhotoSerializer(many=True, read_only=True)
    status = serializers.SerializerMethodField(
        help_text="The review's state, for its author only (published, pending: awaiting moderation, held: "
        "hidden after reports, rejected, removed); null on others' reviews."
    )
    moderation_note = serializers.SerializerMethodField(
        help_text="Why a moderator rejected or removed it, for its author only; null otherwise."
    )

    class Meta:
        model = Review
        fields = [
            "id",
            "rating",
            "title",
            "body",
            "author",
            "verified",
            "helpful_count",
            "photos",
            "status",
            "moderation_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_author(self, review) -> str:
        # A first name and an initial: never the email.
        user = review.user
        return f"{user.first_name} {user.last_name[:1]}.".strip(" .") or "—"

    def _own(self, review) -> bool:
        request = self.context.get("request")
        return request is not None and request.user.is_authenticated and review.user_id == request.user.pk

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_status(self, review):
        return review.status if self._own(review) else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_moderation_note(self, review):
        return review.moderation_note if self._own(review) else None


def _photos_field():
    return serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="Up to SHOP_REVIEW_PHOTOS (3) JPEG, PNG or WebP pictures, sent as multipart/form-data.",
    )


def _clean_photos(files, *, room: int) -> list:
    if len(files) > room:
        raise serializers.ValidationError(
            ngettext("Send at most %(n)d picture.", "Send at most %(n)d pictures.", room) % {"n": room}
        )
    cleaned, problems = [], []
    for upload in files:
        try:
            cleaned.append(clean_image(upload))
        except DjangoValidationError as error:
            problems.extend(error.messages)
    if problems:
        raise serializers.ValidationError(problems)
    return cleaned


class ReviewInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    body = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    photos = _photos_field()

    def validate_photos(self, files):
        return _clean_photos(files, room=settings.SHOP_REVIEW_PHOTOS)


class ReviewUpdateSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    body = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    photos = _photos_field()
    remove_photos = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, help_text="Ids of the review's photos to delete."
    )

    def validate_photos(self, files):
        return _clean_photos(files, room=settings.SHOP_REVIEW_PHOTOS)

    def validate(self, data):
        review = self.context["review"]
        have = {photo.pk for photo in review.photos.all()}
        removed = set(data.get("remove_photos", [])) & have
        if len(have) - len(removed) + len(data.get("photos", [])) > settings.SHOP_REVIEW_PHOTOS:
            limit = settings.SHOP_REVIEW_PHOTOS
            raise serializers.ValidationError(
                {"photos": [_("A review can have at most %(n)d pictures.") % {"n": limit}]}
            )
        return data


class ReportInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=ReportReason.choices)
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewReport
        fields = ["id", "reason", "comment", "created_at"]


class HelpfulSerializer(serializers.Serializer):
    helpful_count = serializers.IntegerField(help_text="How many members found the review helpful now.")
    voted = serializers.BooleanField(help_text="Whether you have voted for it now.")


class SuggestQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100, help_text="What the shopper has typed so far (up to 100 characters).")


class SuggestedProductSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.URLField(help_text="The product's page.")
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, help_text="The price shown, after automatic promotions."
    )
    currency = serializers.CharField()
    image = serializers.URLField(allow_null=True, help_text="The product's main picture; null without one.")


class SuggestedCategorySerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.SlugField()
    url = serializers.URLField(help_text="The category's page.")


class SuggestionsSerializer(serializers.Serializer):
    query = serializers.CharField(help_text="The query as read (spaces tidied).")
    corrected = serializers.CharField(
        allow_null=True, help_text="The query searched when a word was misspelt (“dresss” → “dress”); else null."
    )
    products = SuggestedProductSerializer(many=True, help_text="The best matches first, at most 8.")
    categories = SuggestedCategorySerializer(many=True, help_text="Categories the words name.")


class SuggestThrottle(AnonRateThrottle):
    """Anonymous typing: a search box asks at most a few times a second (REST_FRAMEWORK rate "suggest")."""

    scope = "suggest"
    DEFAULT_RATE = "120/minute"

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.DEFAULT_RATE


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """The category tree in tree order (parents before children)."""

    queryset = Category.objects.select_related("parent")
    serializer_class = CategorySerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"
    filter_backends: list = []


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    """Active products: search, filter by category (with sub-categories), price and stock; sort."""

    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"
    filterset_class = ProductFilter

    def get_queryset(self):
        products = selectors.product_list()
        return products.select_related("product_type") if self.action == "retrieve" else products

    def get_serializer_class(self):
        return ProductDetailSerializer if self.action == "retrieve" else ProductSerializer

    # The same for every client, cached at the grain of the pages (shop/catalog/cache.py): the
    # answer whole while nothing changes (stock levels included); else the page's ids and each
    # product's item apart, with exact stock levels read in one query, so a sale costs one
    # query and a price change rebuilds one item. Errors (a bad filter, a missing page) raise
    # and are never cached.
    def list(self, request, *args, **kwargs):
        parts = self._cache_parts(request)

        def assemble():
            page = catalog_cache.cached(
                "api-product-ids", parts, lambda: self._id_page(request), on=(catalog_cache.LISTS, catalog_cache.TREE)
            )
            items = catalog_cache.cached_each(
                "api-product-item",
                page["ids"],
                (request.build_absolute_uri("/"), get_language()),
                self._items,
                on=(catalog_cache.PRODUCTS, catalog_cache.OFFERS, catalog_cache.TREE),
            )
            results = _with_stock([items[pk] for pk in page["ids"] if pk in items])
            return {"count": page["count"], "next": page["next"], "previous": page["previous"], "results": results}

        on = (catalog_cache.SHOWN, catalog_cache.STOCK)
        response = Response(catalog_cache.cached("api-products", parts, assemble, on=on, offers=True))
        track("view_item_list", **_list_id(request.query_params.get("category"), request.query_params.get("search")))
        return response

    @extend_schema(
        summary="Suggestions as you type",
        parameters=[SuggestQuerySerializer],
        responses=SuggestionsSerializer,
    )
    @action(
        detail=False,
        url_path="suggest",
        filter_backends=[],
        pagination_class=None,
        throttle_classes=[SuggestThrottle],
    )
    def suggest(self, request):
        """Up to 8 products for what has been typed, the categories it names and its correction
        ("dresss" → "dress"): for a search box's list. Cached briefly; the same for every client."""
        data = SuggestQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        text = " ".join(data.validated_data["q"].split())
        on = (catalog_cache.LISTS, catalog_cache.TREE, catalog_cache.PRODUCTS, catalog_cache.OFFERS)
        parts = (text.casefold(), request.build_absolute_uri("/"), get_language())
        body = catalog_cache.cached(
            "api-suggest", parts, lambda: _suggestions(request, text), on=on, timeout=catalog_search.SUGGEST_SECONDS
        )
        return Response(body)

    @extend_schema(summary="Attribute values to filter by, with counts", responses=FacetSerializer(many=True))
    @action(detail=False, url_path="facets", pagination_class=None)
    def facets(self, request):
        """The attributes (size, colour, material) of the products a list with the same filters has,
        each value with how many products the list would have with it chosen too: the counts beside a
        list's filters. Filters as the list's (`attr` included); an unknown attribute or value is a 400."""
        parts = self._cache_parts(request)
        body = catalog_cache.cached(
            "api-facets", parts, lambda: self._facets(request), on=(catalog_cache.LISTS, catalog_cache.TREE)
        )
        return Response(body)

    def _facets(self, request) -> list:
        filterset = DjangoFilterBackend().get_filterset(request, Product.objects.active(), self)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        filterset.qs  # noqa: B018 (runs the filters: facets count from what they chose)
        return FacetSerializer(filterset.facets(), many=True).data

    def _id_page(self, request) -> dict:
        """The ids on the asked page and the links around it (no product row is read)."""
        queryset = self.filter_queryset(Product.objects.active())
        ids = self.paginate_queryset(queryset.values_list("pk", flat=True))
        return {
            "ids": list(ids),
            "count": self.paginator.page.paginator.count,
            "next": self.paginator.get_next_link(),
            "previous": self.paginator.get_previous_link(),
        }

    def _items(self, ids) -> dict:
        products = attach_offers(_cards(ids))
        data = ProductSerializer(products, many=True, context=self.get_serializer_context()).data
        return {item["id"]: dict(item) for item in data}

    def retrieve(self, request, *args, **kwargs):
        parts = self._cache_parts(request)

        def assemble():
            item = catalog_cache.cached_one(
                "api-product",
                parts,
                lambda: self._detail(request),
                find=lambda: selectors.product_id(slug=kwargs["slug"]),
                on=(catalog_cache.PRODUCTS, catalog_cache.OFFERS, catalog_cache.TREE),
            )
            found = _with_stock([item["data"]])
            if not found:
                raise Http404
            return _with_variant_stock(found[0])

        on = (catalog_cache.SHOWN, catalog_cache.STOCK)
        data = catalog_cache.cached("api-product-page", parts, assemble, on=on, offers=True)
        track("view_item", product_id=data["id"])
        return Response(data)

    def _detail(self, request) -> dict:
        return {"product_id": self.get_object().pk, "data": super().retrieve(request).data}

    def get_object(self):
        if not hasattr(self, "_object"):
            self._object = load_variants(attach_offers([super().get_object()])[0])  # its offer, then its variants
        return self._object

    @staticmethod
    def _cache_parts(request) -> tuple:
        # Links in the answer are absolute (host, scheme) and labels translated (language).
        return (request.build_absolute_uri(), get_language())


def _suggestions(request, text: str) -> dict:
    found = catalog_search.suggest(text)
    products = []
    for product in found["products"]:
        image = product.main_image
        price = product.offer.price.amount if product.offer else product.price
        products.append(
            {
                "name": product.name,
                "url": request.build_absolute_uri(product.get_absolute_url()),
                "price": price,
                "currency": settings.SHOP_CURRENCY,
                "image": request.build_absolute_uri(image.image.url) if image else None,
            }
        )
    categories = [
        {"name": c.name, "slug": c.slug, "url": request.build_absolute_uri(c.get_absolute_url())}
        for c in found["categories"]
    ]
    body = {"query": found["query"], "corrected": found["corrected"], "products": products, "categories": categories}
    return SuggestionsSerializer(body).data


def product_items(request, ids: list[int]) -> list[dict]:
    """The API's items for these products, in this order, as the product list gives them (kept items,
    stock levels as they are now): for other apps' answers that list products (recommendations)."""

    def build(missing):
        products = attach_offers(_cards(missing))
        data = ProductSerializer(products, many=True, context={"request": request}).data
        return {item["id"]: dict(item) for item in data}

    items = catalog_cache.cached_each(
        "api-product-item",
        ids,
        (request.build_absolute_uri("/"), get_language()),
        build,
        on=(catalog_cache.PRODUCTS, catalog_cache.OFFERS, catalog_cache.TREE),
    )
    return _with_stock([items[pk] for pk in ids if pk in items])


def _cards(ids) -> list[Product]:
    """The active products among these ids with what an item shows (their number of variants
    included), in two queries whatever their number."""
    return list(with_variant_count(Product.objects.active().for_listing().filter(pk__in=ids)))


def _with_variant_stock(item: dict) -> dict:
    """A cached detail with its variants' stock levels as they are now, in one query (a sale that
    leaves a size in plenty keeps the product's cached item: shop/catalog/cache.py)."""
    if not catalog_cache.enabled() or not item.get("variants"):
        return item
    levels = dict(Variant.objects.filter(pk__in=[v["id"] for v in item["variants"]]).values_list("pk", "stock"))
    variants = [
        {**v, "stock": levels[v["id"]], "in_stock": levels[v["id"]] > 0} for v in item["variants"] if v["id"] in levels
    ]
    return {**item, "variants": variants}


def _with_stock(items: list[dict]) -> list[dict]:
    """Cached items with the stock levels as they are now, in one query (items just built have them)."""
    if not catalog_cache.enabled() or not items:
        return items
    levels = dict(Product.objects.filter(pk__in=[item["id"] for item in items]).values_list("pk", "stock"))
    now = []
    for item in items:
        stock = levels.get(item["id"])
        if stock is not None:  # else deleted meanwhile
            now.append({**item, "stock": stock, "in_stock": stock > 0})
    return now


REVIEW_ORDERINGS = {"-created": "newest", "-helpful": "helpful"}


class ReviewOrderingSerializer(serializers.Serializer):
    ordering = serializers.ChoiceField(
        choices=list(REVIEW_ORDERINGS),
        required=False,
        default="-created",
        help_text="-created: newest first (the default); -helpful: most helpful first.",
    )


@extend_schema_view(
    list=extend_schema(summary="A product's reviews", parameters=[ReviewOrderingSerializer]),
    create=extend_schema(
        summary="Review a product",
        request={"application/json": ReviewInputSerializer, "multipart/form-data": ReviewInputSerializer},
        responses={201: ReviewSerializer},
    ),
    partial_update=extend_schema(
        summary="Edit your review",
        request={"application/json": ReviewUpdateSerializer, "multipart/form-data": ReviewUpdateSerializer},
        responses={200: ReviewSerializer},
    ),
    destroy=extend_schema(summary="Delete your review"),
)
class ReviewViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Published reviews (and your own in any state). Only its author edits or deletes a review;
    members vote reviews helpful once and report them once, with a reason."""

    serializer_class = ReviewSerializer
    queryset = Review.objects.none()  # the schema's type for the id; get_queryset() answers
    lookup_value_regex = r"\d+"
    filter_backends: list = []
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    # Votes and reports are limited per member (REST_FRAMEWORK's rates "review_votes", "review_reports").
    throttle_scope = None

    @property
    def error_responses(self):
        return {
            "create": {"POST": {409: "You have already reviewed this product."}},
            "partial_update": {"PATCH": {409: "A moderator removed this review: it cannot be edited."}},
            "helpful": {"POST": {409: "You have already found this review helpful."}},
            "report": {"POST": {409: "You have already reported this review."}},
        }.get(self.action, {})

    def get_permissions(self):
        return [permissions.IsAuthenticated()] if self.request.method != "GET" else [permissions.AllowAny()]

    def get_product(self):
        if not hasattr(self, "_product"):
            self._product = get_object_or_404(Product.objects.active(), slug=self.kwargs["product_slug"])
        return self._product

    def get_queryset(self):
        sort = "newest"
        if self.action == "list":
            query = ReviewOrderingSerializer(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            sort = REVIEW_ORDERINGS[query.validated_data["ordering"]]
        return selectors.product_reviews(product=self.get_product(), user=self.request.user, sort=sort)

    def _respond(self, review, status_code=status.HTTP_200_OK):
        review = selectors.product_reviews(product=self.get_product(), user=self.request.user).get(pk=review.pk)
        return Response(self.get_serializer(review).data, status=status_code)

    def create(self, request, *args, **kwargs):
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(product=self.get_product(), user=request.user, **data.validated_data)
        return self._respond(review, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        review = self._own()
        data = ReviewUpdateSerializer(data=request.data, context={"review": review})
        data.is_valid(raise_exception=True)
        review = services.review_update(review=review, user=request.user, **data.validated_data)
        return self._respond(review)

    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.review_delete(review=self._own(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _own(self) -> Review:
        review = self.get_object()
        if review.user_id != self.request.user.pk:
            raise exceptions.PermissionDenied(_("Only its author can change this review."))
        return review

    @extend_schema(
        summary="Find a review helpful (once), or take the vote back", request=None, responses=HelpfulSerializer
    )
    @action(
        detail=True,
        methods=["post", "delete"],
        throttle_classes=[ScopedRateThrottle],
        throttle_scope="review_votes",
    )
    def helpful(self, request, *args, **kwargs):
        review = self.get_object()
        if request.method == "DELETE":
            count = services.review_unvote(review=review, user=request.user)
            return Response(HelpfulSerializer({"helpful_count": count, "voted": False}).data)
        count = services.review_vote(review=review, user=request.user)
        return Response(HelpfulSerializer({"helpful_count": count, "voted": True}).data)

    @extend_schema(
        summary="Report a review to the moderators (once)",
        request=ReportInputSerializer,
        responses={201: ReportSerializer},
    )
    @action(detail=True, methods=["post"], throttle_classes=[ScopedRateThrottle], throttle_scope="review_reports")
    def report(self, request, *args, **kwargs):
        review = self.get_object()
        data = ReportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.review_report(review=review, user=request.user, **data.validated_data)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)
