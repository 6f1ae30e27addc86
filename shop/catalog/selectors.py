from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from shop.catalog import cache as catalog_cache
from shop.catalog.models import Category, Product, Review

HOME_SECTION_SIZE = 8


def category_tree() -> list[Category]:
    """Every category in tree order (parents before children): one query, then the cache.

    Each call returns new instances (the cache hands back copies), so callers may
    annotate them (build_tree sets `children_list`).
    """
    return catalog_cache.cached(
        "tree",
        (),
        lambda: list(Category.objects.only("id", "name", "slug", "path", "depth", "parent_id")),
        timeout=15 * 60,
    )


def category_roots(tree: list[Category]) -> list[Category]:
    return [c for c in tree if c.depth == 0]


def product_list(*, category: Category | None = None) -> QuerySet[Product]:
    products = Product.objects.active().for_listing()
    return products.in_category(category) if category else products


def product_detail(*, slug: str) -> Product:
    return get_object_or_404(Product.objects.active().for_listing(), slug=slug)


def home_sections() -> dict[str, list[Product]]:
    base = Product.objects.active().for_listing()
    return {
        "featured": list(base.filter(is_featured=True).in_stock().order_by("-updated_at", "-id")[:HOME_SECTION_SIZE]),
        "new": list(base.order_by("-created_at", "-id")[:HOME_SECTION_SIZE]),
        "on_sale": list(base.on_sale().in_stock().order_by("-updated_at", "-id")[:HOME_SECTION_SIZE]),
    }


def product_reviews(*, product: Product) -> QuerySet[Review]:
    return product.reviews.select_related("user").order_by("-created_at", "-id")
