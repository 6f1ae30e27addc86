from django import forms
from django.conf import settings
from django.contrib import messages
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop.cart import services, snapshot
from shop.cart.pricing import price_cart
from shop.cart.selectors import cart_for_request, load_lines
from shop.catalog import variants
from shop.catalog.models import Product, Variant
from shop.core.errors import NotFound, ShopError


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=services.MAX_LINE_QUANTITY)


def _render_cart(request, *, error=None, status=200, context=None, cart=False):
    """The cart page; other apps' views re-render it too (with a refusal and its status, extra context).

    `cart`: the requester's cart if already read (None: they have none), its lines not yet read.
    """
    cart = cart_for_request(request) if cart is False else (load_lines(cart) if cart is not None else None)
    priced = price_cart(cart, customer=request.user if request.user.is_authenticated else None)
    page = {
        "cart": cart,
        "priced": priced,
        "error": error,
        "cart_panels": settings.SHOP_CART_PANELS,
        "shelf_product_ids": [line.product_id for line in cart.lines.all()] if cart is not None else [],
        # The header's count, from the lines just read (the context processor would sum them again).
        "cart_count": lambda: sum(line.quantity for line in cart.lines.all()) if cart is not None else 0,
    }
    return render(request, "cart/cart.html", {**(context or {}), **page}, status=status)


def cart_detail(request):
    """The cart page: its main part kept per cart while nothing it shows changes (shop.cart.snapshot)."""
    cart = cart_for_request(request, with_lines=False)
    if cart is None or request.GET:  # nothing to keep, or a query string: not one entry per variant
        return _render_cart(request, cart=cart)
    customer = request.user if request.user.is_authenticated else None

    def build(memo):
        load_lines(cart, memo)
        priced = price_cart(cart, customer=customer, memo=memo)
        context = {
            "cart": cart,
            "priced": priced,
            "cart_panels": settings.SHOP_CART_PANELS,
            "csrf_token": snapshot.CSRF_PLACEHOLDER,
        }
        return {
            "main": render_to_string("cart/_main.html", context, request),
            "count": sum(line.quantity for line in cart.lines.all()),
            "product_ids": [line.product_id for line in cart.lines.all()],
        }

    page = snapshot.kept("page", cart=cart, parts=(get_language(), customer and customer.pk), build=build)
    main = page["main"].replace(snapshot.CSRF_PLACEHOLDER, get_token(request))
    context = {
        "cart_main": mark_safe(main),  # noqa: S308 (rendered by our template)
        "cart_count": page["count"],
        "shelf_product_ids": page.get("product_ids", []),
    }
    return render(request, "cart/cart.html", context)


def _quantity(request) -> int:
    form = QuantityForm(request.POST)
    if not form.is_valid():
        raise ShopError(_("Quantity must be a whole number from 1 to %(max)d.") % {"max": services.MAX_LINE_QUANTITY})
    return form.cleaned_data["quantity"]


def _number(value: str) -> bool:
    # isascii: "²" and other Unicode digits pass isdigit() but are no number int() reads (a 500).
    return value.isascii() and value.isdigit()


def _variant_posted(request):
    """The variant a form names: `variant` (its id), or the product and one value per option
    (size=m, colour=blue, as the product page's options post them), or a product with one variant.
    None: no such product or variant. ShopError: the options do not name one (what to choose)."""
    pk, variant_pk = request.POST.get("product", ""), request.POST.get("variant", "")
    if _number(variant_pk):
        return Variant.objects.active().select_related("product").filter(pk=variant_pk, product__is_active=True).first()
    if not _number(pk):
        return None
    product = Product.objects.active().filter(pk=pk).select_related("product_type").first()
    if product is None:
        return None
    picker = variants.picker(product)
    if picker is None:
        return services.variant_to_add(Product.objects.filter(pk=product.pk))
    chosen = variants.choose(picker, request.POST)
    if chosen.variant is None:
        missing = [a["name"].lower() for a in picker["attributes"] if a["slug"] not in chosen.values]
        message = chosen.problem or _("Choose a %(options)s.") % {"options": _(" and ").join(missing)}
        raise ChooseOptions(message, product=product, values=chosen.values)
    variant = Variant.objects.get(pk=chosen.variant["id"])
    variant.product = product
    return variant


class ChooseOptions(ShopError):
    """The options posted name no variant: back to the product page, the choice kept."""

    def __init__(self, message, *, product, values):
        super().__init__(message, field="variant")
        self.product, self.values = product, values


def _product_page(product, values: dict) -> str:
    query = urlencode(values)
    return product.get_absolute_url() + (f"?{query}" if query else "")


@require_POST
def cart_add(request):
    try:
        variant = _variant_posted(request)
        if variant is None:
            return _render_cart(request, error=_("That product does not exist."), status=404)
        if request.POST.get("show"):  # the product page's "Show price and stock", without JavaScript
            return redirect(f"{variant.product.get_absolute_url()}?variant={variant.pk}")
        quantity = _quantity(request)
        services.cart_add(cart=services.cart_get_or_create(request=request), variant=variant, quantity=quantity)
    except ChooseOptions as exc:
        if not request.POST.get("show"):
            messages.error(request, exc.message)
        return redirect(_product_page(exc.product, exc.values))
    except ShopError as exc:
        return _render_cart(request, error=exc.message, status=exc.status_code)
    label = variant.label
    name = f"{variant.product.name} ({label})" if label else variant.product.name
    messages.success(request, _("Added “%(name)s” to your cart.") % {"name": name})
    next_url = request.POST.get("next")
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("cart:detail")


@require_POST
def cart_update(request, line_id):
    cart = cart_for_request(request)
    try:
        if cart is None:
            raise NotFound(_("That line is not in your cart."))
        services.cart_set_quantity(cart=cart, line_id=line_id, quantity=_quantity(request))
    except ShopError as exc:
        return _render_cart(request, error=exc.message, status=exc.status_code)
    messages.success(request, _("Cart updated."))
    return redirect("cart:detail")


@require_POST
def cart_remove(request, line_id):
    cart = cart_for_request(request)
    try:
        if cart is None:
            raise NotFound(_("That line is not in your cart."))
        services.cart_remove(cart=cart, line_id=line_id)
    except ShopError as exc:
        return _render_cart(request, error=exc.message, status=exc.status_code)
    messages.success(request, _("Removed from your cart."))
    return redirect("cart:detail")
