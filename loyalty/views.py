"""Storefront pages of the loyalty program: thin views over loyalty.services and loyalty.selectors.

Like the discount-code form, a refused points value re-renders the cart page (the
shop's own view) with the reason and a 4xx, so the customer sees why.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from loyalty import adjusters, carts, selectors, services
from loyalty.forms import PointsForm
from loyalty.models import Account
from loyalty.program import current, grouped
from shop.cart.pricing import price_cart
from shop.cart.selectors import cart_for_request
from shop.cart.views import _render_cart
from shop.core.errors import ShopError
from shop.core.money import Money

HISTORY_PAGE_SIZE = 25
TIER_CHANGES_SHOWN = 20


# --- the cart's points form -------------------------------------------------------------------


def _back(request):
    """To the page the form was on (the cart, or the checkout's review step)."""
    target = request.POST.get("next", "")
    # Not back to these POST-only views (a refused value re-renders the cart at their URL).
    ours = target.startswith(reverse("loyalty:cart_points_apply"))
    if target and not ours and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("cart:detail")


def _refused(request, message, *, status: int):
    typed = request.POST.get("points", "")[:12]
    return _render_cart(request, error=message, status=status, context={"points_value": typed, "points_invalid": True})


def _points_wanted(form: PointsForm, cart, user) -> int:
    """The number typed, or for "the most I can", the most this cart can take now."""
    if not form.cleaned_data.get("most"):
        return form.cleaned_data["points"]
    priced = price_cart(cart, customer=user)
    return carts.most_points(priced, available=services.available_points(user=user))


@require_POST
def cart_points_apply(request):
    if not request.user.is_authenticated:
        return _refused(request, _("Log in to use your points."), status=400)
    form = PointsForm(request.POST)
    if not form.is_valid():
        return _refused(request, form.first_error(), status=400)
    cart = cart_for_request(request)
    if cart is None or not cart.lines.all():
        return _refused(request, _("Your cart is empty: add something to use your points on."), status=400)
    try:
        services.cart_points_set(cart=cart, user=request.user, points=_points_wanted(form, cart, request.user))
    except ShopError as exc:
        return _refused(request, exc.message, status=exc.status_code)
    messages.success(request, _applied_message(cart, request.user))
    return _back(request)


def _applied_message(cart, user) -> str:
    adjustment = carts.points_adjustment(price_cart(cart, customer=user))
    if adjustment is None:  # on the cart, but not applying here: the panel says why
        return _("Your points are on your cart.")
    points = adjusters.points_of(adjustment)
    return ngettext("%(count)s point used: %(saving)s off.", "%(count)s points used: %(saving)s off.", points) % {
        "count": grouped(points),
        "saving": -adjustment.amount,
    }


@require_POST
def cart_points_remove(request):
    if not request.user.is_authenticated:
        return _refused(request, _("Log in to use your points."), status=400)
    services.cart_points_remove(cart=cart_for_request(request, with_lines=False))
    messages.success(request, _("Points removed from your order."))
    return _back(request)


# --- the member's points page -----------------------------------------------------------------


@login_required
def points(request):
    rules = current()
    account = services.account_get(user=request.user)
    page = Paginator(selectors.ledger(account=account), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "rules": rules,
        "program": rules.program,
        "summary": selectors.summary(user=request.user),
        "page": page,
        "now": timezone.now(),
        "tier_changes": list(selectors.tier_changes(account=account)[:TIER_CHANGES_SHOWN]),
        "referral_url": request.build_absolute_uri(reverse("loyalty:referral", args=[account.referral_code])),
        "referral_stats": selectors.referral_stats(user=request.user),
        "referral_max": _money(rules.program.referral_discount_max),
    }
    return render(request, "loyalty/points.html", context)


def _money(amount) -> Money:
    return Money(amount, settings.SHOP_CURRENCY)


# --- referral links ---------------------------------------------------------------------------


def _friend_gets() -> str:
    program = current().program
    if not program.is_active or not program.referral_discount_percent:
        return ""
    return _("%(percent)d%% off your first order (up to %(max)s)") % {
        "percent": program.referral_discount_percent,
        "max": _money(program.referral_discount_max),
    }


@require_http_methods(["GET", "POST"])
def referral_landing(request, code):
    """A friend's link. The customer accepts with a button, once logged in: a link alone (followed from
    any site) never changes an account. A visitor signs up (or logs in) first and comes back here."""
    code = code.strip().upper()
    if not Account.objects.filter(referral_code=code).exists():
        message = _("This referral link does not work: check it with the friend who sent it.")
        return render(request, "404.html", {"message": message}, status=404)
    gift = _friend_gets()
    if request.user.is_authenticated:
        if request.method == "POST":
            _attach(request, code)
            return redirect("loyalty:points")
        return render(request, "loyalty/referral_confirm.html", {"code": code, "gift": gift})
    if gift:
        messages.info(request, _("A friend invited you: create your account and get %(gift)s.") % {"gift": gift})
    else:
        messages.info(request, _("A friend invited you: create your account to join them."))
    return redirect(f"{reverse('accounts:register')}?{urlencode({'next': request.path})}")


def _attach(request, code: str) -> None:
    try:
        referral = services.referral_attach(friend=request.user, code=code)
    except ShopError as exc:
        messages.error(request, exc.message)
        return
    if referral.status == referral.Status.REFUSED:
        messages.error(request, _("This referral link cannot be used with your account."))
        return
    gift = _friend_gets()
    if gift:
        messages.success(request, _("Your friend's invitation is saved: you get %(gift)s.") % {"gift": gift})
    else:
        messages.success(request, _("Your friend's invitation is saved."))
