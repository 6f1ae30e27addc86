from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from shop.catalog import cache as catalog_cache
from shop.catalog import search as catalog_search
from shop.catalog import selectors, services
from shop.catalog.filters import ProductFilter
from shop.catalog.models import Category, Product, ProductImage, Review
from shop.catalog.offers import attach_offers
from shop.catalog.tracking import list_id as _list_id
from shop.core.ratelimit import AnonRateThrottle
from shop.core.tracking import track


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


class ProductSerializer(serializers.ModelSerializer):
    currency = serializers.SerializerMethodField()
    category = CategoryRefSerializer(read_only=True)
    image = serializers.SerializerMethodField()
    in_stock = serializers.BooleanField(read_only=True)
    on_sale = serializers.BooleanField(read_only=True)
    rating = serializers.DecimalField(
        source="rating_avg",
        max_digits=3,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="The average rating; null until the first review.",
    )
    offer = serializers.SerializerMethodField(help_text="The price after automatic promotions, when one applies.")

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
            "offer",
            "category",
            "image",
            "created_at",
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


class ProductDetailSerializer(ProductSerializer):
    images = ImageSerializer(many=True, read_only=True)
    breadcrumbs = serializers.SerializerMethodField()

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "description", "images", "breadcrumbs"]

    def get_breadcrumbs(self, product) -> list[dict]:
        return CategoryRefSerializer([*product.category.ancestors(), product.category], many=True).data


class ReviewSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = ["id", "rating", "title", "body", "author", "created_at"]
        read_only_fields = ["id", "author", "created_at"]

    def get_author(self, review) -> str:
        # A first name and an initial: never the email.
        user = review.user
        return f"{user.first_name} {user.last_name[:1]}.".strip(" .") or "—"


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
        return selectors.product_list()

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
        products = attach_offers(selectors.products_for_cards(ids=ids))
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
            return found[0]

        on = (catalog_cache.SHOWN, catalog_cache.STOCK)
        data = catalog_cache.cached("api-product-page", parts, assemble, on=on, offers=True)
        track("view_item", product_id=data["id"])
        return Response(data)

    def _detail(self, request) -> dict:
        return {"product_id": self.get_object().pk, "data": super().retrieve(request).data}

    def get_object(self):
        if not hasattr(self, "_object"):
            self._object = attach_offers([super().get_object()])[0]
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
        products = attach_offers(selectors.products_for_cards(ids=missing))
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


@extend_schema_view(list=extend_schema(summary="A product's reviews"), create=extend_schema(summary="Review a product"))
class ReviewViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = ReviewSerializer
    error_responses = {"POST": {409: "You have already reviewed this product."}}
    filter_backends: list = []

    def get_permissions(self):
        return [permissions.IsAuthenticated()] if self.request.method == "POST" else [permissions.AllowAny()]

    def get_product(self):
        return get_object_or_404(Product.objects.active(), slug=self.kwargs["product_slug"])

    def get_queryset(self):
        return selectors.product_reviews(product=self.get_product())

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(product=self.get_product(), user=request.user, **data.validated_data)
        return Response(self.get_serializer(review).data, status=status.HTTP_201_CREATED)
