"""The recommendations' API: the same shelves the storefront shows, each product with its reason."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from marketing.recommendations import shelves
from marketing.recommendations.models import Shelf
from shop.catalog import selectors as catalog_selectors
from shop.catalog.api import ProductSerializer, product_items

PRODUCT_KINDS = [Shelf.BOUGHT_TOGETHER, Shelf.VIEWED_TOGETHER]
VISITOR_KINDS = [Shelf.FOR_YOU, Shelf.TRENDING, Shelf.RECENTLY_VIEWED]


def _choices(kinds):
    return [(kind.value, kind.label) for kind in kinds]


class ProductKindSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=_choices(PRODUCT_KINDS), default=Shelf.BOUGHT_TOGETHER.value, help_text="Which shelf."
    )


class VisitorKindSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=_choices(VISITOR_KINDS), default=Shelf.FOR_YOU.value, help_text="Which shelf."
    )


class RecommendationSerializer(serializers.Serializer):
    product = ProductSerializer(help_text="The product, as the product list shows it.")
    reason = serializers.CharField(help_text='Why it is shown, for the shopper: "Because you viewed Linen Shirt".')
    reason_code = serializers.ChoiceField(choices=sorted(shelves.REASONS), help_text="Why it is shown, as a code.")


class ShelfSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=_choices(PRODUCT_KINDS + VISITOR_KINDS))
    title = serializers.CharField(help_text='The shelf\'s title for shoppers: "Frequently bought together".')
    results = RecommendationSerializer(many=True, help_text="Best first; empty when the shelf is turned off.")


def _answer(request, result: shelves.Result) -> Response:
    items = {item["id"]: item for item in product_items(request, result.ids)}
    results = [
        {"product": items[pick.product_id], "reason": pick.reason_text, "reason_code": pick.reason}
        for pick in result.picks
        if pick.product_id in items
    ]
    return Response({"kind": result.shelf, "title": result.title, "results": results})


class ProductRecommendationsView(APIView):
    """A product's shelves: "frequently bought together" or "customers who viewed this also viewed"."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="Recommendations for a product", parameters=[ProductKindSerializer], responses=ShelfSerializer
    )
    def get(self, request, slug):
        query = ProductKindSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        product_id = catalog_selectors.product_id(slug=slug)
        if product_id is None:
            raise Http404
        return _answer(request, shelves.for_product(query.validated_data["kind"], product_id, request=request))


class RecommendationsView(APIView):
    """The visitor's shelves: "recommended for you" and "recently viewed" (from this visit, or with the
    customer's consent their account's history and purchases) and "trending now"."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="Recommendations for the visitor", parameters=[VisitorKindSerializer], responses=ShelfSerializer
    )
    def get(self, request):
        query = VisitorKindSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        kind = query.validated_data["kind"]
        if kind == Shelf.TRENDING:
            result = shelves.trending()
        elif kind == Shelf.RECENTLY_VIEWED:
            result = shelves.recently_viewed(request)
        else:
            result = shelves.for_you(request)
        return _answer(request, result)
