from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from shop.catalog.models import Category, Product, Review

HOME_SECTION_SIZE = 8


CATEGORY_TREE_KEY = "catalog:category_tree:v1"
# A safety net only: saving or deleting a category clears the cached tree at once.
CATEGORY_TREE_TIMEOUT = 15 * 60


def category_tree() -> list[Category]:
    """Every category in tree order (parents before children): one query, then the cache.

    Each call returns new instances (the cache hands back copies), so callers may
    annotate them (build_tree sets `children_list`).
    """
    tree = cache.get(CATEGORY_TREE_KEY)
    if tree is None:
        tree = list(Category.objects.only("id", "name", "slug", "path", "depth", "parent_id"))
        cache.set(CATEGORY_TREE_KEY, tree, CATEGORY_TREE_TIMEOUT)
    return tree


def forget_category_tree() -> None:
    """Called when a category is saved or deleted (shop.catalog.receivers).

    Cleared now (this process sees its own change) and again once the
    transaction commits, so no request that read the old tree meanwhile leaves
    it in the cache (a moved category's descendants are updated after its save).
    """
    cache.delete(CATEGORY_TREE_KEY)
    transaction.on_commit(lambda: cache.delete(CATEGORY_TREE_KEY))


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
