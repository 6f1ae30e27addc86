"""The cart: adding (asking for a missing option, then a yes), the total, checkout, codes and points."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from marketing.assistant import selectors
from marketing.assistant.contract import Action, CartSummary, Intent, Reply
from marketing.assistant.dialogue.common import Exchange, client_key, login_first, menu
from marketing.assistant.dialogue.products import label, matching_variants, one_product, options_of
from shop.catalog.models import Product, Variant
from shop.core.errors import ShopError


def no_cart_here(turn: Exchange) -> bool:
    """A guest outside the website (a messaging app) has no cart the store can reach."""
    return turn.request is None and turn.customer is None


def _on_the_website(intent: str) -> Reply:
    return Reply(
        _("I can't reach a cart from this chat: your cart is on our website."),
        intent,
        actions=[Action("link", _("Open the cart"), url=reverse("cart:detail"))],
    )


def add_to_cart(turn: Exchange) -> Reply:
    quantity = turn.entities.quantity or 1
    product = one_product(turn, Intent.ADD_TO_CART, {"quantity": quantity})
    if isinstance(product, Reply):
        return product
    if no_cart_here(turn):
        # Said before any question, rather than after a yes that could not be kept.
        turn.context.pop("pending", None)
        return Reply(
            _("I can't fill a cart from this chat, but you can buy %(name)s on our website.") % {"name": product.name},
            Intent.ADD_TO_CART,
            products=[selectors.card(product)],
            actions=[Action("link", _("Open %(name)s") % {"name": product.name}, url=product.get_absolute_url())],
        )
    return add_step(turn, product, quantity, dict(turn.entities.values) or searched_values(turn))


def searched_values(turn: Exchange) -> dict:
    """The options of the search the products came from ("red dresses": colour red), so "add two of
    those" does not ask for a colour already said; an option the product lacks is ignored."""
    values: dict[str, list[str]] = {}
    for item in (turn.context.get("search") or {}).get("attr", []):
        for pair in item.split(","):
            attribute, _sep, value = pair.partition(":")
            if value:
                values.setdefault(attribute, []).append(value)
    return values


def add_step(turn: Exchange, product: Product, quantity: int, values: dict) -> Reply:
    """Narrow to one variant (asking for a missing size or colour), then ask to confirm."""
    if quantity < 1 or quantity > 999:
        return Reply(_("How many would you like? Between 1 and 999."), Intent.ADD_TO_CART)
    matching = matching_variants(product, values)
    if not matching:
        turn.context.pop("pending", None)
        return Reply(_("%(name)s does not come in that option.") % {"name": product.name}, Intent.ADD_TO_CART)
    if len(matching) > 1:
        options = options_of(matching)
        attribute = next(name for name, vs in options.items() if len(vs) > 1)
        slug = next(o.attribute.slug for o in matching[0].options.all() if o.attribute.name == attribute)
        available = options_of([v for v in matching if v.stock > 0]).get(attribute) or options[attribute]
        turn.context["pending"] = {
            "kind": "choose",
            "product": product.pk,
            "quantity": quantity,
            "values": {k: list(v) for k, v in values.items()},
            "attribute": slug,
            "choices": options[attribute],
        }
        return Reply(
            _("Which %(attribute)s would you like for %(name)s?")
            % {"attribute": attribute.lower(), "name": product.name},
            Intent.ADD_TO_CART,
            products=[selectors.card(product)],
            quick_replies=available,
        )
    variant = matching[0]
    variant.product = product
    if variant.stock <= 0:
        turn.context.pop("pending", None)
        return Reply(_("Sorry, %(name)s is sold out.") % {"name": named(product, variant)}, Intent.ADD_TO_CART)
    turn.context["pending"] = {"kind": "add", "variant": variant.pk, "quantity": quantity}
    offer = selectors.variant_offer(product, variant)
    if offer is not None and quantity == 1:
        # One unit: its page's offer, priced by the same engine as the cart.
        text = _("Add 1 × %(name)s for %(price)s to your cart? That is with %(offer)s: it was %(was)s.") % {
            "name": named(product, variant),
            "price": offer.price.format(),
            "offer": offer.label,
            "was": variant.price_money.format(),
        }
    else:
        text = _("Add %(quantity)d × %(name)s for %(total)s to your cart?") % {
            "quantity": quantity,
            "name": named(product, variant),
            "total": (variant.price_money * quantity).format(),
        }
        if offer is not None:
            # Several units: a promotion's cap or conditions may change the total, which the cart works out.
            text += " " + _("%(offer)s comes off in the cart.") % {"offer": offer.label}
    return Reply(
        text,
        Intent.ADD_TO_CART,
        products=[selectors.card(product)],
        quick_replies=[_("Yes"), _("No")],
    )


def named(product: Product, variant: Variant) -> str:
    options = label(variant)
    return f"{product.name} ({options})" if options else product.name


def confirm_add(turn: Exchange, pending: dict) -> Reply:
    from shop.cart.services import cart_add

    turn.context.pop("pending", None)
    variant = Variant.objects.select_related("product").filter(pk=pending["variant"]).first()
    if variant is None:
        return Reply(_("That product is no longer sold."), Intent.ADD_TO_CART)
    cart = _cart(turn, create=True)
    if cart is None:
        return Reply(_("Open the shop's website to use a cart."), Intent.ADD_TO_CART)
    try:
        cart_add(cart=cart, variant=variant, quantity=pending["quantity"])
    except ShopError as error:
        return Reply(str(error.message), Intent.ADD_TO_CART)
    if cart.user_id is None:
        # A guest's order knows its cart, not its session: the analytics panel matches them by it.
        from marketing.assistant.panels import CART_KEY

        turn.context[CART_KEY] = str(cart.token)
    return Reply(
        ngettext(
            "Added %(count)d × %(name)s to your cart.", "Added %(count)d × %(name)s to your cart.", pending["quantity"]
        )
        % {"count": pending["quantity"], "name": named(variant.product, variant)},
        Intent.ADD_TO_CART,
        actions=_cart_actions(),
        quick_replies=[_("What's my total?")],
        cart=_summary(cart),
    )


def _summary(cart) -> CartSummary:
    from django.db.models import Sum

    from shop.cart.models import CartLine

    items = CartLine.objects.filter(cart=cart).aggregate(n=Sum("quantity"))["n"] or 0
    # The header's own words (templates/base.html), so the page reads the same after the chat.
    return CartSummary(items=items, label=ngettext("(%(n)s item)", "(%(n)s items)", items) % {"n": items})


def _cart_actions() -> list[Action]:
    return [
        Action("link", _("View cart"), url=reverse("cart:detail")),
        Action("link", _("Checkout"), url=reverse("orders:checkout")),
    ]


def _cart(turn: Exchange, *, create: bool = False):
    """The shopper's cart with its lines (None if they have none), as the cart page finds it."""
    from shop.cart.models import Cart
    from shop.cart.selectors import cart_for_request, load_lines
    from shop.cart.services import cart_get_or_create

    if turn.request is not None:
        if create:
            return load_lines(cart_get_or_create(request=turn.request))
        return cart_for_request(turn.request)
    if turn.customer is None:
        return None  # a guest outside the website (a messaging app) has no cart to reach
    cart = (
        Cart.objects.get_or_create(user=turn.customer)[0] if create else Cart.objects.filter(user=turn.customer).first()
    )
    return load_lines(cart) if cart is not None else None


def _priced(turn: Exchange, cart):
    from shop.cart.pricing import price_cart

    return price_cart(cart, customer=turn.customer)


def show_cart(turn: Exchange) -> Reply:
    if no_cart_here(turn):
        return _on_the_website(Intent.SHOW_CART)
    cart = _cart(turn)
    if cart is None or not cart.lines.all():
        return Reply(_("Your cart is empty. What are you looking for?"), Intent.SHOW_CART, quick_replies=menu()[:1])
    return _cart_reply(turn, cart, Intent.SHOW_CART)


def _cart_reply(turn: Exchange, cart, intent: str, lead: str = "") -> Reply:
    priced = _priced(turn, cart)
    lines = [lead] if lead else []
    for line in priced.shown_lines:
        variant = line.variant
        name = named(line.product, variant) if variant is not None else line.product.name
        text = f"{line.quantity} × {name}: {line.total.format()}"
        if line.reduced:  # a promotion the product's page promised: the saving shows, as in the cart
            text += " " + _("(was %(was)s, %(saving)s)") % {
                "was": line.line.total.format(),
                "saving": ", ".join(str(saving.adjustment.label) for saving in line.savings),
            }
        lines.append(text)
    for adjustment in priced.adjustments:
        if not adjustment.on_lines:
            lines.append(f"{adjustment.label}: {adjustment.amount.format()}")
    lines.append(_("Total: %(total)s") % {"total": priced.total.format()})
    return Reply("\n".join(lines), intent, actions=_cart_actions())


def checkout(turn: Exchange) -> Reply:
    if no_cart_here(turn):
        return _on_the_website(Intent.CHECKOUT)
    cart = _cart(turn)
    if cart is None or not cart.lines.all():
        return Reply(_("Your cart is empty: add something first."), Intent.CHECKOUT, quick_replies=menu()[:1])
    priced = _priced(turn, cart)
    return Reply(
        _("Your total is %(total)s. Check out here:") % {"total": priced.total.format()},
        Intent.CHECKOUT,
        actions=[Action("link", _("Checkout"), url=reverse("orders:checkout"))],
    )


def apply_code(turn: Exchange) -> Reply:
    code = turn.entities.code
    if not code:
        turn.context["pending"] = {"kind": "code"}
        return Reply(_("Which code would you like to use?"), Intent.APPLY_CODE)
    return apply_code_now(turn, code)


def apply_code_now(turn: Exchange, code: str) -> Reply:
    from marketing.discounts import services as discounts

    turn.context.pop("pending", None)
    if no_cart_here(turn):
        return _on_the_website(Intent.APPLY_CODE)
    cart = _cart(turn)
    if cart is None or not cart.lines.all():
        return Reply(_("Your cart is empty: add products before using a code."), Intent.APPLY_CODE)
    try:
        found = discounts.cart_code_apply(cart=cart, code=code, customer=turn.customer, client_key=client_key(turn))
    except ShopError as error:
        return Reply(str(error.message), Intent.APPLY_CODE)
    lead = _("The code %(code)s is on your cart.") % {"code": found.code}
    return _cart_reply(turn, cart, Intent.APPLY_CODE, lead)


def points(turn: Exchange) -> Reply:
    if turn.customer is None:
        return login_first(Intent.POINTS)
    from loyalty import selectors as loyalty

    grouped = loyalty.points_text
    summary = loyalty.summary(user=turn.customer)
    text = ngettext(
        "You have %(count)s point available, worth %(value)s.",
        "You have %(count)s points available, worth %(value)s.",
        summary.available,
    ) % {"count": grouped(summary.available), "value": summary.value.format()}
    if summary.pending:
        text += " " + _("%(count)s more are on their way.") % {"count": grouped(summary.pending)}
    if summary.tier is not None:
        text += " " + _("Your tier: %(tier)s.") % {"tier": summary.tier.name}
    return Reply(text, Intent.POINTS, quick_replies=[_("Use my points")] if summary.available else [])


def use_points(turn: Exchange) -> Reply:
    if turn.customer is None:
        return login_first(Intent.USE_POINTS)
    from loyalty import selectors as loyalty
    from loyalty.services.orders import cart_points_remove, cart_points_set

    grouped = loyalty.points_text

    cart = _cart(turn)
    if cart is None or not cart.lines.all():
        return Reply(_("Your cart is empty: add products before using points."), Intent.USE_POINTS)
    status = loyalty.cart_points_status(cart=cart, priced=_priced(turn, cart), user=turn.customer)
    asked = turn.entities.points  # None: "use my points", as many as the cart takes; 0: none
    if status.blocked and asked is None:
        return Reply(status.blocked, Intent.USE_POINTS)
    wanted = status.most if asked is None else asked
    if wanted == 0:
        cart_points_remove(cart=cart)  # they stay in the account
        return _cart_reply(turn, cart, Intent.USE_POINTS, _("No points are on your cart now."))
    try:
        cart_points_set(cart=cart, user=turn.customer, points=wanted)
    except ShopError as error:
        return Reply(str(error.message), Intent.USE_POINTS)
    lead = ngettext("%(count)s point is on your cart.", "%(count)s points are on your cart.", wanted) % {
        "count": grouped(wanted)
    }
    return _cart_reply(turn, cart, Intent.USE_POINTS, lead)
