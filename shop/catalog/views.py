from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop.catalog import selectors, services
from shop.catalog.filters import SORTS, ProductFilter
from shop.catalog.forms import ReviewForm
from shop.catalog.models import Category
from shop.catalog.signals import product_viewed
from shop.catalog.tree import build_tree
from shop.core.errors import ShopError


def home(request):
    return render(request, "catalog/home.html", {"sections": selectors.home_sections()})


def product_list(request, slug=None):
    """All products, a category (with its sub-categories), or search results: filtered, sorted, paged."""
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
    }
    if not filters.is_valid():
        return render(request, "catalog/product_list.html", {**context, "page": None}, status=400)
    paginator = Paginator(filters.qs, settings.SHOP_PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except PageNotAnInteger:
        return render(
            request,
            "catalog/product_list.html",
            {**context, "page": None, "page_error": _("The page number must be a whole number.")},
            status=400,
        )
    except EmptyPage:
        message = _("There is no page %(page)s: this list has %(count)d page(s).") % {
            "page": request.GET.get("page"),
            "count": paginator.num_pages,
        }
        return render(
            request, "catalog/product_list.html", {**context, "page": None, "page_error": message}, status=404
        )
    return render(request, "catalog/product_list.html", {**context, "page": page})


def product_detail(request, slug):
    product = selectors.product_detail(slug=slug)
    user_id = request.user.pk if request.user.is_authenticated else None
    session_key = request.session.session_key
    transaction.on_commit(
        lambda: product_viewed.send(sender=None, product_id=product.pk, user_id=user_id, session_key=session_key)
    )
    reviews = list(selectors.product_reviews(product=product)[:10])
    already_reviewed = user_id is not None and product.reviews.filter(user_id=user_id).exists()
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "breadcrumbs": [*product.category.ancestors(), product.category],
            "reviews": reviews,
            "review_form": ReviewForm() if user_id and not already_reviewed else None,
            "quantity_range": range(1, min(product.stock, 10) + 1),
        },
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
