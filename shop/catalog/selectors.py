from django.db.models import Count, Exists, F, OuterRef, Prefetch, QuerySet, Window, prefetch_related_objects
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404

from shop.catalog import cache as catalog_cache
from shop.catalog.models import (
    Category,
    Product,
    ProductImage,
    Review,
    ReviewPhoto,
    ReviewReport,
    ReviewVote,
    VariantOption,
)
from shop.catalog.tree import build_tree

HOME_SECTION_SIZE = 8


def category_tree() -> list[Category]:
    """Every category in tree order (parents before children): one query, then the cache.

    Each call returns new instances (the cache hands back copies), so callers may
    annotate them (build_tree sets `children_list`).
    """
    return catalog_cache.cached(
        "tree",
        (),
        lambda: list(Category.objects.only("id", "name", "slug", "path", "depth", "parent_id", "description")),
        on=(catalog_cache.TREE,),
        timeout=15 * 60,
    )


def category_roots(tree: list[Category]) -> list[Category]:
    return [c for c in tree if c.depth == 0]


def category_with_ancestors(*, slug: str) -> tuple[Category, list[Category]]:
    """A category and the chain above it (root first), from the cached tree: no query when warm."""
    tree = category_tree()
    by_path = {c.path: c for c in tree}
    category = next((c for c in tree if c.slug == slug), None)
    if category is None:
        category = get_object_or_404(Category, slug=slug)  # not in a tree cached just before it came
        return category, list(category.ancestors())
    parts = category.path.split("/")
    return category, [by_path["/".join(parts[:i])] for i in range(1, len(parts))]


def product_list(*, category: Category | None = None) -> QuerySet[Product]:
    products = Product.objects.active().for_listing()
    return products.in_category(category) if category else products


def products_for_cards(*, ids) -> list[Product]:
    """The active products among these ids, with what a card shows, in two queries whatever their number."""
    return list(Product.objects.active().for_listing().filter(pk__in=ids))


def product_detail(*, slug: str) -> Product:
    return get_object_or_404(Product.objects.active().for_listing(), slug=slug)


def product_id(*, slug: str) -> int | None:
    return Product.objects.active().filter(slug=slug).values_list("pk", flat=True).first()


def home_sections() -> dict[str, list[int]]:
    """The ids of the products in each home section, in order."""
    base = Product.objects.active().order_by()
    sections = {
        "featured": base.filter(is_featured=True).in_stock().order_by("-updated_at", "-id"),
        "new": base.order_by("-created_at", "-id"),
        "on_sale": base.on_sale().in_stock().order_by("-updated_at", "-id"),
    }
    return {name: list(qs.values_list("pk", flat=True)[:HOME_SECTION_SIZE]) for name, qs in sections.items()}


REVIEW_ORDER = {
    "newest": ["-created_at", "-id"],
    "helpful": ["-helpful_count", "-created_at", "-id"],
}


def product_reviews(*, product: Product, user=None, sort: str = "newest") -> QuerySet[Review]:
    """A product's published reviews (and the user's own, whatever its state), with their authors and
    photos: two queries whatever their number."""
    return (
        Review.objects.filter(product=product)
        .visible_to(user)
        .select_related("user")
        .prefetch_related(Prefetch("photos", queryset=ReviewPhoto.objects.order_by("position", "id")))
        .order_by(*REVIEW_ORDER.get(sort, REVIEW_ORDER["newest"]))
    )


def product_reviews_page(*, product: Product, sort: str = "newest", limit: int = 10) -> list[Review]:
    """The first published reviews of a product page with their authors and photos: two queries, with
    or without reviews (the photos' query runs even for none, so every product page costs the same)."""
    reviews = list(
        Review.objects.filter(product=product)
        .published()
        .select_related("user")
        .order_by(*REVIEW_ORDER.get(sort, REVIEW_ORDER["newest"]))[:limit]
    )
    photos: dict[int, list[ReviewPhoto]] = {review.pk: [] for review in reviews}
    for photo in ReviewPhoto.objects.filter(review_id__in=list(photos) or [0]).order_by("position", "id"):
        photos[photo.review_id].append(photo)
    for review in reviews:
        review._prefetched_objects_cache = {"photos": photos[review.pk]}
    return reviews


def own_review(*, product_id: int, user) -> Review | None:
    """The user's review of a product in any state, with its photos."""
    if user is None or not user.is_authenticated:
        return None
    reviews = Review.objects.filter(product_id=product_id, user=user).select_related("user").prefetch_related("photos")
    return next(iter(reviews), None)


def member_marks(*, review_ids, user) -> dict[int, tuple[bool, bool]]:
    """{review id: (voted helpful, reported)} for the user, in one query."""
    if not review_ids or user is None or not user.is_authenticated:
        return {}
    rows = Review.objects.filter(pk__in=review_ids).annotate(
        voted=Exists(ReviewVote.objects.filter(review=OuterRef("pk"), user=user)),
        reported=Exists(ReviewReport.objects.filter(review=OuterRef("pk"), user=user)),
    )
    return {pk: (voted, reported) for pk, voted, reported in rows.values_list("pk", "voted", "reported")}


def category_tiles() -> list[dict]:
    """The top categories for the home page: each with how many products it has and a picture of
    its best-reviewed product in stock. Three queries, whatever the size of the catalog."""
    roots = build_tree(category_tree())
    root_of = {}
    for root in roots:
        stack = [root]
        while stack:
            node = stack.pop()
            root_of[node.pk] = root.pk
            stack.extend(node.children_list)
    counts = dict.fromkeys((root.pk for root in roots), 0)
    for category_id, n in Product.objects.active().order_by().values_list("category_id").annotate(n=Count("id")):
        if category_id in root_of:
            counts[root_of[category_id]] += n
    # The best-reviewed product of each category (one per category, by a window function), then the best per root.
    ranked = (
        Product.objects.active()
        .in_stock()
        .filter(images__isnull=False)
        .annotate(rank=Window(RowNumber(), partition_by=F("category_id"), order_by=[F("rating_count").desc(), F("id")]))
        .filter(rank=1)
        .values_list("pk", "category_id", "rating_count")
    )
    best: dict[int, tuple[int, int]] = {}
    for pk, category_id, reviews in ranked:
        root = root_of.get(category_id)
        if root is not None and (root not in best or reviews > best[root][1]):
            best[root] = (pk, reviews)
    images = {}
    for image in ProductImage.objects.filter(product_id__in=[pk for pk, _n in best.values()]).order_by("-position"):
        images[image.product_id] = image  # the first by position wins
    tiles = []
    for root in roots:
        image = images.get(best[root.pk][0]) if root.pk in best else None
        tiles.append({"category": root, "count": counts[root.pk], "image": image})
    return [tile for tile in tiles if tile["count"]]


def variants_load_options(variants) -> None:
    """Read the options of these variants (with their attribute and value) in one query, only for
    those whose product has a type: a product with a single plain variant costs nothing.
    Each variant's product must be loaded (select_related)."""
    typed = [v for v in variants if v is not None and v.product.product_type_id is not None]
    if typed:
        options = VariantOption.objects.select_related("attribute", "value").order_by("attribute__name", "id")
        prefetch_related_objects(typed, Prefetch("options", queryset=options))
