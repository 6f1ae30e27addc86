from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import transaction
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import get_template, render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from rest_framework.throttling import SimpleRateThrottle

from shop.catalog import cache as catalog_cache
from shop.catalog import search as catalog_search
from shop.catalog import selectors, seo, services, variants
from shop.catalog.filters import RELEVANCE, SORTS, ProductFilter
from shop.catalog.forms import REVIEW_SORTS, ReviewEditForm, ReviewForm, ReviewReportForm
from shop.catalog.models import MAX_QUANTITY_CHOICE, Product, Review
from shop.catalog.offers import attach_offers
from shop.catalog.signals import product_viewed
from shop.catalog.tracking import list_id
from shop.catalog.tree import build_tree
from shop.core import ratelimit, shelves
from shop.core.errors import ShopError
from shop.core.templatetags.shop_tags import money
from shop.core.tracking import track

CARDS = "<!--product-cards-->"
COUNT = "<!--product-count-->"
RESULTS = "<!--product-results-->"
VARIANT_BUY = "<!--variant-buy-->"
FACETS = "<!--product-facets-->"


def _rendered(request, template: str, context: dict, **extra) -> dict:
    """A page's catalog part as HTML, plus what the live page around it needs (title, ids)."""
    # Safe: the output of our own autoescaping template.
    return {"main": mark_safe(render_to_string(template, context, request=request)), **extra}  # noqa: S308


def product_cards(ids: list[int]) -> list[str]:
    """The product cards for these ids, in order: cached one by one, only the missing ones built."""
    cards = catalog_cache.cached_each(
        "card", ids, (get_language(),), _build_cards, on=(catalog_cache.PRODUCTS, catalog_cache.OFFERS)
    )
    return [cards[pk] for pk in ids if pk in cards]


def _build_cards(ids: list[int]) -> dict[int, str]:
    products = attach_offers(selectors.products_for_cards(ids=ids))
    card = get_template("catalog/_product_card.html")
    return {product.pk: card.render({"product": product}) for product in products}


def _with_cards(main: str, marker: str, ids: list[int]) -> str:
    return main.replace(marker, "".join(product_cards(ids)), 1)


def home(request):
    def assemble():
        page = catalog_cache.cached(
            "home", (get_language(),), lambda: _home_page(request), on=(catalog_cache.LISTS, catalog_cache.TREE)
        )
        main = page["main"]
        for name, ids in page["sections"].items():
            main = _with_cards(main, f"<!--product-cards:{name}-->", ids)
        return {**page, "main": mark_safe(main)}  # noqa: S308 (our templates' output)

    page = catalog_cache.cached("home-page", (get_language(),), assemble, on=(catalog_cache.SHOWN,), offers=True)
    return render(request, "catalog/home.html", {"page": {**page, "main": shelves.fill(page["main"], request, "home")}})


def _home_page(request) -> dict:
    sections = selectors.home_sections()
    return _rendered(request, "catalog/_home_main.html", {"sections": sections}, sections=sections, **seo.home_meta())


class PageProblem(Exception):
    """A list page that cannot be shown as asked (bad filter, no such page): rendered, never cached."""

    def __init__(self, context: dict, status: int):
        self.context, self.status = context, status


def product_list(request, slug=None):
    """All products, a category (with its sub-categories), or search results: filtered, sorted, paged.

    Cached whole while nothing shown changes. Else put together from three cached parts: the
    frame (sidebar, filters, sorting: changes with the category tree only), the results (the
    page's ids, the count and the page links: changes when the lists do) and the product cards,
    building only what is missing.
    """
    parts = (request.get_full_path(), get_language())

    def assemble():
        frame = catalog_cache.cached("list-frame", parts, lambda: _list_frame(request, slug), on=(catalog_cache.TREE,))
        results = catalog_cache.cached(
            "list-results", parts, lambda: _list_results(request, slug), on=(catalog_cache.LISTS, catalog_cache.TREE)
        )
        main = frame["main"].replace(COUNT, results["count"], 1).replace(FACETS, results.get("facets", ""), 1)
        main = main.replace(RESULTS, _with_cards(results["results"], CARDS, results["ids"]), 1)
        return {**frame, "main": mark_safe(main)}  # noqa: S308 (our templates' output)

    try:
        page = catalog_cache.cached("list-page", parts, assemble, on=(catalog_cache.SHOWN,), offers=True)
    except PageProblem as problem:
        page = _rendered(request, "catalog/_product_list_main.html", problem.context, title=_("Products"))
        return render(request, "catalog/product_list.html", {"page": page}, status=problem.status)
    track("view_item_list", **list_id(slug, request.GET.get("search")))
    return render(request, "catalog/product_list.html", {"page": page})


def _list_context(request, slug) -> dict:
    category, ancestors = selectors.category_with_ancestors(slug=slug) if slug else (None, [])
    data = request.GET.copy()
    products = Product.objects.active()
    if category:
        data.pop("category", None)  # a category page lists its own category (and below)
        products = products.in_category(category)
    if data.get("search", "").strip() and not data.get("ordering"):
        data["ordering"] = RELEVANCE  # a search lists the best matches first (the sort menu shows it)
    return {
        "category": category,
        "breadcrumbs": [*ancestors, category] if category else [],
        "filters": ProductFilter(data, queryset=products),
        "sorts": [(key, label) for key, (label, _order) in SORTS.items()],
    }


def _problem(context: dict, status: int, **extra) -> PageProblem:
    return PageProblem({**context, "tree": build_tree(selectors.category_tree()), "page": None, **extra}, status)


def _list_frame(request, slug) -> dict:
    """The page around the results: breadcrumbs, the category tree, the filter and sort forms."""
    context = _list_context(request, slug)
    if not context["filters"].is_valid():
        raise _problem(context, 400)
    search = request.GET.get("search")
    if context["category"]:
        title = context["category"].name
    elif search:
        title = _("Search: %(q)s") % {"q": search}
    else:
        title = _("All products")
    context = {**context, "tree": build_tree(selectors.category_tree()), "frame": True}
    meta = seo.list_meta(
        path=request.path,
        query=request.GET,
        title=title,
        category=context["category"],
        ancestors=context["breadcrumbs"][:-1],
    )
    return _rendered(request, "catalog/_product_list_main.html", context, title=title, **meta)


def _list_results(request, slug) -> dict:
    """The ids of the products on the page, the count and the page links (no product row is read)."""
    context = _list_context(request, slug)
    filters = context["filters"]
    if not filters.is_valid():
        raise _problem(context, 400)
    paginator = Paginator(filters.qs.values_list("pk", flat=True), settings.SHOP_PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except PageNotAnInteger:
        raise _problem(context, 400, page_error=_("The page number must be a whole number.")) from None
    except EmptyPage:
        message = _("There is no page %(page)s: this list has %(count)d page(s).") % {
            "page": request.GET.get("page"),
            "count": paginator.num_pages,
        }
        raise _problem(context, 404, page_error=message) from None
    page.object_list = ids = list(page.object_list)
    reading = filters.reading
    context = {"page": page, "list_id": list_id(slug, request.GET.get("search"))["list"], "search": reading}
    if not ids:
        # No dead end: the categories the words name (or the top ones) and popular products.
        ids = catalog_search.popular_product_ids()
        context |= {
            "try_categories": catalog_search.categories_to_try(reading),
            "filtered": any(request.GET.get(name) for name in FILTERS),
            "unfiltered": _without_filters(request),
        }
    return {
        "ids": ids,
        "facets": render_to_string("catalog/_facets.html", {"facets": filters.facets()}),
        "count": render_to_string("catalog/_product_count.html", {"page": page}),
        "results": render_to_string("catalog/_product_list_results.html", context, request=request),
    }


# The filters a shopper may set on a list (the search and the sort are not filters).
FILTERS = ("category", "min_price", "max_price", "in_stock", "on_sale", "attr")


def _without_filters(request) -> str:
    """The same list with its filters cleared: the search (and sort) kept."""
    query = request.GET.copy()
    for name in (*FILTERS, "page"):
        query.pop(name, None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


REVIEW_ACTIONS = "<!--review-actions:{}-->"


def _review_sort(request) -> str:
    sort = request.GET.get("reviews", "newest")
    return sort if sort in REVIEW_SORTS else "newest"


def product_detail(request, slug):
    sort = _review_sort(request)
    page = catalog_cache.cached_one(
        "product",
        (slug, get_language(), sort),
        lambda: _product_page(request, slug, sort),
        find=lambda: selectors.product_id(slug=slug),
        on=(catalog_cache.PRODUCTS, catalog_cache.OFFERS, catalog_cache.TREE),
    )
    user_id = request.user.pk if request.user.is_authenticated else None
    session_key = request.session.session_key
    product_id = page["product_id"]
    transaction.on_commit(
        lambda: product_viewed.send(sender=None, product_id=product_id, user_id=user_id, session_key=session_key)
    )
    track("view_item", product_id=product_id)
    if request.user.is_authenticated:
        main = _with_member_reviews(request, page["main"], page)
    else:
        main = page["visitor_main"]  # the reviews' parts as every visitor sees them, kept with the page
    if page.get("picker"):
        main = main.replace(VARIANT_BUY, _variant_buy(request, page), 1)
    main = main.replace(catalog_cache.CSRF_MARKER, csrf_input(request))
    main = shelves.fill(main, request, "product", product_id=product_id)
    return render(request, "catalog/product_detail.html", {"page": {**page, "main": mark_safe(main)}})  # noqa: S308


def _with_member_reviews(request, main: str, page: dict) -> str:
    """The page's per-visitor parts of the reviews, kept out of the cached page: the visitor's own
    review (in any state, with edit and delete) or the form to write one, and each shown review's
    buttons (voted or not, reported or not). Two queries for a member, none for a visitor."""
    user = request.user if request.user.is_authenticated else None
    shown = page["reviews"]  # [(id, author id, helpful count)], as cached
    own = selectors.own_review(product_id=page["product_id"], user=user)
    marks = selectors.member_marks(review_ids=[pk for pk, _a, _n in shown], user=user)
    action = get_template("catalog/_review_actions.html")
    # Rendered without the request: the context processors would run again for each review.
    common = {"user": request.user, "csrf_token": get_token(request), "path": request.path}
    for pk, author_id, helpful in shown:
        voted, reported = marks.get(pk, (False, False))
        context = {
            **common,
            "review_id": pk,
            "helpful": helpful,
            "own": user is not None and author_id == user.pk,
            "voted": voted,
            "reported": reported,
            "slug": page["slug"],
            "report_form": ReviewReportForm(auto_id=f"id_report_{pk}_%s") if user and not reported else None,
        }
        main = main.replace(REVIEW_ACTIONS.format(pk), action.render(context), 1)
    context = {"product": page, "own": own, "review_form": None, "edit_form": None}
    if own is not None:
        context["edit_form"] = ReviewEditForm(instance=own, auto_id="id_edit_%s")
    elif user is not None:
        context["review_form"] = ReviewForm()
    return main.replace("<!--review-form-->", render_to_string("catalog/_review_form.html", context, request), 1)


def _for_visitors(main: str, page: dict, path: str) -> str:
    """The reviews' per-visitor parts as a visitor who is not logged in sees them (the same for
    all of them: counts and "log in" links), filled in once when the page is built."""
    action = get_template("catalog/_review_actions.html")
    common = {"user": AnonymousUser(), "path": path, "slug": page["slug"], "own": False}
    for pk, _author_id, helpful in page["reviews"]:
        shown = action.render({**common, "review_id": pk, "helpful": helpful})
        main = main.replace(REVIEW_ACTIONS.format(pk), shown, 1)
    form = get_template("catalog/_review_form.html").render(
        {"product": page, "own": None, "review_form": None, "user": AnonymousUser(), "request": {"path": path}}
    )
    return main.replace("<!--review-form-->", form, 1)


def _product_page(request, slug, sort: str = "newest") -> dict:
    product = attach_offers([selectors.product_detail(slug=slug)])[0]
    _category, ancestors = selectors.category_with_ancestors(slug=product.category.slug)
    reviews = selectors.product_reviews_page(product=product, sort=sort)
    picker = variants.picker(product, with_offers=True)
    context = {
        "product": product,
        "breadcrumbs": [*ancestors, product.category],
        "reviews": reviews,
        "review_sort": sort,
        "review_sorts": REVIEW_SORTS.items(),
        "quantity_range": range(1, min(product.stock, MAX_QUANTITY_CHOICE) + 1),
        "picker": picker,
        "specs": variants.specs(product),
    }
    page = _rendered(
        request,
        "catalog/_product_detail_main.html",
        context,
        title=product.name,
        product_id=product.pk,
        slug=product.slug,
        reviews=[(r.pk, r.user_id, r.helpful_count) for r in reviews],
        picker=picker and _priced(picker),
        buy=picker and _buy_info(product),
        **seo.product_meta(product, ancestors),
    )
    page["visitor_main"] = mark_safe(_for_visitors(page["main"], page, product.get_absolute_url()))  # noqa: S308
    return page


def _priced(picker: dict) -> dict:
    """The picker with each variant's prices as the page shows them (in this language's format)."""
    for variant in picker["variants"]:
        variant["price_text"] = money(variant["price"])
        variant["compare_text"] = money(variant["compare_at"]) if variant["compare_at"] else ""
        variant["offer_text"] = money(variant["offer"]) if variant["offer"] else ""
    return picker


def _buy_info(product) -> dict:
    """What the per-request part of a product with variants shows besides the variants (kept with the page)."""
    offer = product.offer
    return {
        "product_id": product.pk,
        "sku": product.sku,
        "category_url": product.category.get_absolute_url(),
        "category_name": product.category.name,
        "price_text": money(product.price),
        "compare_text": money(product.compare_at_price) if product.on_sale else "",
        "discount_percent": product.discount_percent if product.on_sale else 0,
        "offer_label": offer.label if offer else "",
        "offer_terms": offer.terms if offer else "",
        "offer_promotion": offer.promotion if offer else None,
        "low_stock": settings.SHOP_LOW_STOCK,
        "max_quantity": MAX_QUANTITY_CHOICE,
    }


def _variant_buy(request, page: dict) -> str:
    """The options and the chosen variant's price, stock and SKU, for this request's choice: kept
    per choice while the product's token holds. The key is the choice as read from the page's own
    data (unknown values dropped), so a product has at most one entry per combination of its values."""
    chosen = variants.choose(page["picker"], request.GET)
    key = tuple(sorted(chosen.values.items()))
    return catalog_cache.cached_one(
        "variant-buy",
        (page["slug"], get_language(), key),
        lambda: {"product_id": page["product_id"], "html": _render_variant_buy(page, chosen)},
        find=lambda: page["product_id"],
        on=(catalog_cache.PRODUCTS, catalog_cache.OFFERS, catalog_cache.TREE),
    )["html"]


def _render_variant_buy(page: dict, chosen) -> str:
    picker = page["picker"]
    low, high = variants.price_range(picker)
    texts = {variants.paid(v): v["offer_text"] or v["price_text"] for v in picker["variants"]}
    listed = {v["price"]: v["price_text"] for v in picker["variants"]}
    stock = chosen.variant["stock"] if chosen.variant else MAX_QUANTITY_CHOICE
    context = {
        "picker": picker,
        "groups": chosen.groups,
        "variant": chosen.variant,
        "problem": chosen.problem,
        "info": page["buy"],
        "low": low,
        "high": high,
        "low_text": texts[low],
        # One price for every variant, and an offer on it: that price struck through beside the offer.
        "was_text": next(iter(listed.values())) if low == high and len(listed) == 1 and low not in listed else "",
        "quantity_range": range(1, max(1, min(stock, MAX_QUANTITY_CHOICE)) + 1),
    }
    return render_to_string("catalog/_variant_buy.html", context)


def _back(product, review_id=None) -> str:
    return f"{product.get_absolute_url()}#{f'review-{review_id}' if review_id else 'reviews'}"


def _form_errors(form) -> str:
    return " ".join(str(m) for messages_ in form.errors.values() for m in messages_)


def _limited(request, scope: str) -> bool:
    """Votes and reports per member, at the API's rates for the same scope (REST_FRAMEWORK's
    DEFAULT_THROTTLE_RATES), counted in the shared cache (shop/core/ratelimit.py)."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]
    limit, period = SimpleRateThrottle.parse_rate(None, rate)
    key = f"{scope}:{request.user.pk}"
    if ratelimit.is_limited(key, limit=limit):
        messages.error(request, _("Too many at once: please try again in a while."))
        return True
    ratelimit.record_attempt(key, period=period)
    return False


@login_required
@require_POST
def review_create(request, slug):
    product = selectors.product_detail(slug=slug)
    form = ReviewForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_errors(form) or _("Please choose a rating from 1 to 5 stars."))
        return redirect(_back(product))
    data = form.cleaned_data
    try:
        review = services.review_create(
            product=product,
            user=request.user,
            rating=data["rating"],
            title=data["title"],
            body=data["body"],
            photos=data.get("photos") or [],
        )
    except ShopError as exc:
        messages.error(request, exc.message)
        return redirect(_back(product))
    if review.status == Review.Status.PENDING:
        messages.success(request, _("Thank you! Your review will appear once a moderator has read it."))
    else:
        messages.success(request, _("Thank you for your review!"))
    return redirect(_back(product))


def _review_of(slug, pk) -> tuple[Product, Review]:
    product = selectors.product_detail(slug=slug)
    return product, get_object_or_404(Review, pk=pk, product=product)


@login_required
@require_POST
def review_edit(request, slug, pk):
    product, review = _review_of(slug, pk)
    if review.user_id != request.user.pk:
        raise PermissionDenied
    form = ReviewEditForm(request.POST, request.FILES, instance=review)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_back(product))
    data = form.cleaned_data
    try:
        review = services.review_update(
            review=review,
            user=request.user,
            rating=data["rating"],
            title=data["title"],
            body=data["body"],
            photos=data.get("photos") or [],
            remove_photos=data.get("remove_photos") or [],
        )
    except ShopError as exc:
        messages.error(request, exc.message)
    else:
        if review.status == Review.Status.PENDING:
            messages.success(request, _("Your review is saved and will appear once a moderator has read it."))
        else:
            messages.success(request, _("Your review is updated."))
    return redirect(_back(product))


@login_required
@require_POST
def review_delete(request, slug, pk):
    product, review = _review_of(slug, pk)
    try:
        services.review_delete(review=review, user=request.user)
    except ShopError as exc:
        if exc.status_code == 403:
            raise PermissionDenied from None
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your review is deleted."))
    return redirect(_back(product))


@login_required
@require_POST
def review_helpful(request, slug, pk):
    product, review = _review_of(slug, pk)
    if _limited(request, "review_votes"):
        return redirect(_back(product, pk))
    try:
        if request.POST.get("undo"):
            services.review_unvote(review=review, user=request.user)
        else:
            services.review_vote(review=review, user=request.user)
    except ShopError as exc:
        messages.error(request, exc.message)
    return redirect(_back(product, pk))


@login_required
@require_POST
def review_report(request, slug, pk):
    product, review = _review_of(slug, pk)
    form = ReviewReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_back(product, pk))
    if _limited(request, "review_reports"):
        return redirect(_back(product, pk))
    try:
        services.review_report(review=review, user=request.user, **form.cleaned_data)
    except ShopError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Thank you: a moderator will look at this review."))
    return redirect(_back(product, pk))


def csrf_input(request) -> str:
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))
