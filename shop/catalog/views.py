from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import transaction
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop.catalog import cache as catalog_cache
from shop.catalog import selectors, services
from shop.catalog.filters import SORTS, ProductFilter
from shop.catalog.forms import ReviewForm
from shop.catalog.models import Category, Review
from shop.catalog.offers import attach_offers
from shop.catalog.signals import product_viewed
from shop.catalog.tree import build_tree
from shop.core.errors import ShopError


def _rendered(request, template: str, context: dict, **extra) -> dict:
    """A page's catalog part as HTML, plus what the live page around it needs (title, ids)."""
    # Safe: the output of our own autoescaping template.
    return {"main": mark_safe(render_to_string(template, context, request=request)), **extra}  # noqa: S308


def home(request):
    def build():
        sections = {name: attach_offers(products) for name, products in selectors.home_sections().items()}
        return _rendered(request, "catalog/_home_main.html", {"sections": sections})

    page = catalog_cache.cached("home", (get_language(),), build)
    return render(request, "catalog/home.html", {"page": page})


class PageProblem(Exception):
    """A list page that cannot be shown as asked (bad filter, no such page): rendered, never cached."""

    def __init__(self, context: dict, status: int):
        self.context, self.status = context, status


def product_list(request, slug=None):
    """All products, a category (with its sub-categories), or search results: filtered, sorted, paged."""
    try:
        page = catalog_cache.cached(
            "list", (request.get_full_path(), get_language()), lambda: _product_list_page(request, slug)
        )
    except PageProblem as problem:
        page = _rendered(request, "catalog/_product_list_main.html", problem.context, title=_("Products"))
        return render(request, "catalog/product_list.html", {"page": page}, status=problem.status)
    return render(request, "catalog/product_list.html", {"page": page})


def _product_list_page(request, slug) -> dict:
    category = get_object_or_404(Category, slug=slug) if slug else None
    data = request.GET.copy()
    if category:
        data["category"] = category.slug
    filters = ProductFilter(data, queryset=selectors.product_list())
    context = {
        "category": category,
        "breadcrumbs": [*category.ancestors(), category] if category else [],
        "filters": filters,
        "sorts": [(key, label) for key, (label, _order) in SORTS.items()],
        "tree": build_tree(selectors.category_tree()),
        "page": None,
    }
    if not filters.is_valid():
        raise PageProblem(context, 400)
    paginator = Paginator(filters.qs, settings.SHOP_PAGE_SIZE)
    try:
        context["page"] = paginator.page(request.GET.get("page") or 1)
    except PageNotAnInteger:
        raise PageProblem({**context, "page_error": _("The page number must be a whole number.")}, 400) from None
    except EmptyPage:
        message = _("There is no page %(page)s: this list has %(count)d page(s).") % {
            "page": request.GET.get("page"),
            "count": paginator.num_pages,
        }
        raise PageProblem({**context, "page_error": message}, 404) from None
    context["page"].object_list = attach_offers(context["page"].object_list)
    search = request.GET.get("search")
    if category:
        title = category.name
    elif search:
        title = _("Search: %(q)s") % {"q": search}
    else:
        title = _("All products")
    return _rendered(request, "catalog/_product_list_main.html", context, title=title)


def product_detail(request, slug):
    page = catalog_cache.cached("product", (slug, get_language()), lambda: _product_page(request, slug))
    user_id = request.user.pk if request.user.is_authenticated else None
    session_key = request.session.session_key
    product_id = page["product_id"]
    transaction.on_commit(
        lambda: product_viewed.send(sender=None, product_id=product_id, user_id=user_id, session_key=session_key)
    )
    already_reviewed = user_id is not None and Review.objects.filter(product_id=product_id, user_id=user_id).exists()
    review_form = render_to_string(
        "catalog/_review_form.html",
        {"review_form": ReviewForm() if user_id and not already_reviewed else None, "product": page},
        request=request,
    )
    main = page["main"].replace(catalog_cache.CSRF_MARKER, csrf_input(request), 1)
    main = main.replace("<!--review-form-->", review_form, 1)
    return render(request, "catalog/product_detail.html", {"page": {**page, "main": mark_safe(main)}})  # noqa: S308


def _product_page(request, slug) -> dict:
    product = attach_offers([selectors.product_detail(slug=slug)])[0]
    context = {
        "product": product,
        "breadcrumbs": [*product.category.ancestors(), product.category],
        "reviews": list(selectors.product_reviews(product=product)[:10]),
        "quantity_range": range(1, min(product.stock, 10) + 1),
    }
    return _rendered(
        request,
        "catalog/_product_detail_main.html",
        context,
        title=product.name,
        description=Truncator(product.description).words(30),
        product_id=product.pk,
        slug=product.slug,
    )


@login_required
@require_POST
def review_create(request, slug):
    product = selectors.product_detail(slug=slug)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please choose a rating from 1 to 5 stars."))
        return redirect(product)
    try:
        services.review_create(product=product, user=request.user, **form.cleaned_data)
    except ShopError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Thank you for your review!"))
    return redirect(f"{product.get_absolute_url()}#reviews")


def csrf_input(request) -> str:
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))
