"""What the assistant does with a sentence it has read (contract.py): one handler per intent.

Every price, stock level, order status, cart total and points balance in a reply is read from
the database as the reply is made; the conversation's context only keeps ids and what is being
asked ("those", "it", a confirmation waiting for a yes, the search being refined). Its shape:

    shown: [product ids]            the cards last shown, in order ("the second one")
    product: id | None              the product "it" is
    search: {ProductFilter params}  the search "cheaper", "in blue", "show more" refine
    offset: int                     how far "show more" went
    pending: {kind: ...} | None     add (a variant and quantity to confirm), choose (a missing
                                    option), order (a number or email to ask for), ticket (an email),
                                    which (several products shown: which one)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from marketing.assistant import selectors, services
from marketing.assistant.contract import Action, Entities, Intent, Reply, Understanding
from marketing.assistant.models import Conversation, FaqEntry, Turn
from shop.catalog.models import Category, Product, Variant
from shop.core import ratelimit
from shop.core.errors import ShopError

ORDER_ATTEMPTS = 10  # wrong number-and-email pairs per client (and per number) in a window
ORDER_WINDOW = 15 * 60


@dataclass
class Exchange:
    """One reply in the making: who asks, in which conversation, what they said and what was read."""

    conversation: Conversation
    text: str
    understanding: Understanding
    user: object
    request: object

    @property
    def context(self) -> dict:
        return self.conversation.context

    @property
    def entities(self) -> Entities:
        return self.understanding.entities

    @property
    def customer(self):
        return self.user if self.user is not None and self.user.is_authenticated else None


def respond(conversation: Conversation, text: str, *, user, request=None) -> Reply:
    """Answer one shopper message, record both turns, keep the context. The conversation's row is
    locked for the turn, so two tabs sending at once answer one after the other."""
    from marketing.assistant import understanding as reader

    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.context = dict(conversation.context or {})
        read = reader.understand(text, conversation.context)
        fallback = read.intent not in Intent.ALL or (
            read.intent != Intent.UNKNOWN and read.confidence < settings.ASSISTANT_CONFIDENCE
        )
        # Below the threshold nothing is acted on as read (a doubtful "yes" confirms nothing); the
        # entities still answer a question asked (an email, a size typed as offered).
        turn = Exchange(conversation, text, replace(read, intent=Intent.UNKNOWN) if fallback else read, user, request)
        reply = _answer_pending(turn)
        if reply is None:
            reply = HANDLERS[turn.understanding.intent](turn)
        reply.handed_over = conversation.handed_over
        services.context_save(conversation=conversation)
        services.turns_record(
            conversation=conversation,
            text=text,
            understanding=read,
            fallback=fallback or read.intent == Intent.UNKNOWN,
            reply=reply,
        )
    return reply


# --- small talk and the fallback ---------------------------------------------------------------

MENU = (
    lambda: _("Find a product"),
    lambda: _("What's in my cart?"),
    lambda: _("Where is my order?"),
    lambda: _("Talk to a person"),
)


def menu() -> list[str]:
    return [str(item()) for item in MENU]


def unknown(turn: Exchange) -> Reply:
    return Reply(
        _(
            "Sorry, I didn't understand that. I can find products, show your cart, track an order "
            "or pass you to a person."
        ),
        Intent.UNKNOWN,
        quick_replies=menu(),
    )


def greet(turn: Exchange) -> Reply:
    return Reply(_("Hello! What are you looking for today?"), Intent.GREET, quick_replies=menu())


def thanks(turn: Exchange) -> Reply:
    return Reply(_("You're welcome! Anything else?"), Intent.THANKS, quick_replies=menu())


def goodbye(turn: Exchange) -> Reply:
    turn.context.pop("pending", None)
    return Reply(_("Goodbye, and thank you for visiting!"), Intent.GOODBYE)


def help_(turn: Exchange) -> Reply:
    return Reply(
        _(
            "I can find products (“red dresses under 50”), tell you their price and stock, add them to your "
            "cart, apply a discount code, show your points, track an order, answer questions about shipping "
            "and returns, or pass you to a person."
        ),
        Intent.HELP,
        quick_replies=menu(),
    )


# --- products ----------------------------------------------------------------------------------


def _show(turn: Exchange, products: list[Product], text: str, intent: str) -> Reply:
    turn.context["shown"] = [p.pk for p in products]
    turn.context["product"] = products[0].pk if len(products) == 1 else None
    quick = [_("Cheaper"), _("Only in stock"), _("Show more")] if turn.context.get("search") else []
    return Reply(text, intent, products=[selectors.card(p) for p in products], quick_replies=[str(q) for q in quick])


def _search_params(entities: Entities, base: dict | None = None) -> dict:
    params = dict(base or {})
    words = " ".join([*entities.words, *entities.brands]).strip()
    if words:
        params["search"] = words
    if entities.category_ids:
        slug = Category.objects.filter(pk=entities.category_ids[0]).values_list("slug", flat=True).first()
        if slug:
            params["category"] = slug
    if entities.values:
        chosen = {item.split(":")[0]: item for item in params.get("attr", [])}
        for attribute, values in entities.values.items():
            chosen[attribute] = ",".join(f"{attribute}:{v}" for v in values)
        params["attr"] = list(chosen.values())
    if entities.min_price is not None:
        params["min_price"] = str(entities.min_price)
    if entities.max_price is not None:
        params["max_price"] = str(entities.max_price)
    if entities.in_stock:
        params["in_stock"] = True
    if entities.on_sale:
        params["on_sale"] = True
    if entities.cheap:
        params["ordering"] = "price"
    return params


def search(turn: Exchange) -> Reply:
    params = _search_params(turn.entities)
    if not params:
        return Reply(_("What are you looking for? Try “red dresses under 50”."), Intent.SEARCH)
    turn.context.update(search=params, offset=0)
    return _list(turn, Intent.SEARCH)


def _list(turn: Exchange, intent: str) -> Reply:
    params, offset = turn.context["search"], turn.context.get("offset", 0)
    products = selectors.search(params, offset=offset)
    if not products:
        if offset:
            return Reply(_("That's everything I found."), intent, quick_replies=menu())
        return Reply(
            _("I found nothing that matches. Try other words, or fewer filters."), intent, quick_replies=menu()
        )
    return _show(turn, products, _("Here is what I found:") if not offset else _("Here are more:"), intent)


def refine(turn: Exchange) -> Reply:
    if not turn.context.get("search"):
        return search(turn)
    entities = turn.entities
    params = _search_params(entities, turn.context["search"])
    offset = turn.context.get("offset", 0) + selectors.PAGE if entities.more else 0
    if entities.cheaper:
        # Below the product being looked at, else below everything shown; a floor no longer holds.
        current = turn.context.get("product")
        lowest = selectors.lowest_price([current] if current else turn.context.get("shown", []))
        if lowest is not None:
            params.pop("min_price", None)
            params["max_price"] = str(max(lowest - Decimal("0.01"), Decimal(0)))
            params["ordering"] = "-price"  # the nearest cheaper ones first
    turn.context.update(search=params, offset=offset)
    return _list(turn, Intent.REFINE)


def _targets(turn: Exchange) -> list[int]:
    """The products the sentence is about: named, or what "it", "those", "the second one" point at."""
    entities, context = turn.entities, turn.context
    if entities.product_ids:
        return list(entities.product_ids)
    shown = context.get("shown") or []
    reference = entities.reference or ""
    if reference.isdigit():
        n = int(reference)
        return [shown[n - 1]] if 0 < n <= len(shown) else []
    if reference in ("it", "this") and context.get("product"):
        return [context["product"]]
    if context.get("product"):
        return [context["product"]]
    return list(shown)


def _one_product(turn: Exchange, intent: str, then: dict | None = None) -> Product | Reply:
    """The one product the sentence is about, or a reply asking which (kept as a pending question)."""
    ids = _targets(turn)
    if not ids:
        return Reply(_("Which product do you mean? Tell me its name, or search first."), intent)
    if len(ids) > 1:
        products = selectors.products_by_ids(ids)
        turn.context["pending"] = {"kind": "which", "intent": intent, **(then or {})}
        reply = _show(turn, products, _("Which one do you mean?"), intent)
        reply.quick_replies = [p.name for p in products]
        turn.context["product"] = None
        return reply
    product = selectors.product_now(ids[0])
    if product is None:
        return Reply(_("That product is no longer sold."), intent)
    turn.context["product"] = product.pk
    return product


def product_stock(turn: Exchange) -> Reply:
    product = _one_product(turn, Intent.PRODUCT_STOCK)
    if isinstance(product, Reply):
        return product
    variants = _matching_variants(product, dict(turn.entities.values))
    stock = sum(v.stock for v in variants) if turn.entities.values else product.stock
    if stock > 0:
        text = _("Yes, %(name)s is in stock (%(note)s).") % {
            "name": _described(product, variants, turn.entities),
            "note": selectors.stock_note(stock).lower(),
        }
    else:
        text = _("Sorry, %(name)s is sold out right now.") % {"name": _described(product, variants, turn.entities)}
    return Reply(text, Intent.PRODUCT_STOCK, products=[selectors.card(product)], quick_replies=[_("Add it to my cart")])


def _described(product: Product, variants: list[Variant], entities: Entities) -> str:
    if entities.values and len(variants) == 1:
        return f"{product.name} ({_label(variants[0])})"
    return product.name


def product_price(turn: Exchange) -> Reply:
    product = _one_product(turn, Intent.PRODUCT_PRICE)
    if isinstance(product, Reply):
        return product
    text = _("%(name)s costs %(price)s.") % {"name": product.name, "price": product.price_money.format()}
    if product.compare_at_money is not None:
        text += " " + _("It is on sale: it was %(was)s.") % {"was": product.compare_at_money.format()}
    return Reply(text, Intent.PRODUCT_PRICE, products=[selectors.card(product)], quick_replies=[_("Add it to my cart")])


def product_info(turn: Exchange) -> Reply:
    product = _one_product(turn, Intent.PRODUCT_INFO)
    if isinstance(product, Reply):
        return product
    options = _options(list(_variants(product)))
    description = strip_tags(product.description).strip()
    parts = [Truncator(description).chars(300)] if description else []
    for name, values in options.items():
        parts.append(_("%(attribute)s: %(values)s.") % {"attribute": name, "values": ", ".join(values)})
    parts.append(
        _("%(price)s, %(note)s.")
        % {"price": product.price_money.format(), "note": selectors.stock_note(product.stock).lower()}
    )
    return Reply(
        " ".join(parts), Intent.PRODUCT_INFO, products=[selectors.card(product)], quick_replies=[_("Add it to my cart")]
    )


def similar(turn: Exchange) -> Reply:
    product = _one_product(turn, Intent.SIMILAR)
    if isinstance(product, Reply):
        return product
    params = {"category": product.category.slug} if product.category_id else {"search": product.name}
    if turn.entities.cheaper or turn.entities.cheap:
        params.update(max_price=str(max(product.price - Decimal("0.01"), Decimal(0))), ordering="-price")
    params = _search_params(replace(turn.entities, product_ids=(), reference=None), params)
    found = [p for p in selectors.search(params, size=selectors.PAGE + 1) if p.pk != product.pk][: selectors.PAGE]
    turn.context.update(search=params, offset=0)
    if not found:
        return Reply(_("I found nothing quite like %(name)s.") % {"name": product.name}, Intent.SIMILAR)
    return _show(turn, found, _("Like %(name)s:") % {"name": product.name}, Intent.SIMILAR)


def goes_with(turn: Exchange) -> Reply:
    product = _one_product(turn, Intent.GOES_WITH)
    if isinstance(product, Reply):
        return product
    from marketing.recommendations import shelves
    from marketing.recommendations.models import Shelf

    ids = shelves.for_product(Shelf.BOUGHT_TOGETHER, product.pk, request=turn.request).ids[: selectors.PAGE]
    found = selectors.products_by_ids(ids)
    if not found:
        return Reply(_("I have no suggestions to go with %(name)s yet.") % {"name": product.name}, Intent.GOES_WITH)
    reply = _show(turn, found, _("These go well with %(name)s:") % {"name": product.name}, Intent.GOES_WITH)
    turn.context["product"] = product.pk if len(found) > 1 else found[0].pk
    return reply


# --- the cart ----------------------------------------------------------------------------------


def _variants(product: Product):
    return Variant.objects.active().filter(product=product).prefetch_related("options__attribute", "options__value")


def _options(variants: list[Variant]) -> dict[str, list[str]]:
    """{"Size": ["S", "M"], ...}: each option of these variants and its values, in the catalog's order."""
    found: dict[str, list[str]] = {}
    for variant in variants:
        for option in sorted(variant.options.all(), key=lambda o: (o.attribute.name, o.value.position)):
            values = found.setdefault(option.attribute.name, [])
            if option.value.name not in values:
                values.append(option.value.name)
    return found


def _matching_variants(product: Product, values: dict) -> list[Variant]:
    """The product's variants having every chosen value ({"size": ["m"]}, by slug or name)."""
    wanted = {attribute.lower(): {str(v).lower() for v in vs} for attribute, vs in values.items()}
    matching = []
    for variant in _variants(product):
        options = {o.attribute.slug: {o.value.slug, o.value.name.lower()} for o in variant.options.all()}
        if all(attribute not in options or options[attribute] & vs for attribute, vs in wanted.items()):
            matching.append(variant)
    return matching


def _label(variant: Variant) -> str:
    return ", ".join(o.value.name for o in sorted(variant.options.all(), key=lambda o: o.attribute.name))


def add_to_cart(turn: Exchange) -> Reply:
    quantity = turn.entities.quantity or 1
    product = _one_product(turn, Intent.ADD_TO_CART, {"quantity": quantity})
    if isinstance(product, Reply):
        return product
    return _add_step(turn, product, quantity, dict(turn.entities.values))


def _add_step(turn: Exchange, product: Product, quantity: int, values: dict) -> Reply:
    """Narrow to one variant (asking for a missing size or colour), then ask to confirm."""
    if quantity < 1 or quantity > 999:
        return Reply(_("How many would you like? Between 1 and 999."), Intent.ADD_TO_CART)
    matching = _matching_variants(product, values)
    if not matching:
        turn.context.pop("pending", None)
        return Reply(_("%(name)s does not come in that option.") % {"name": product.name}, Intent.ADD_TO_CART)
    if len(matching) > 1:
        options = _options(matching)
        attribute = next(name for name, vs in options.items() if len(vs) > 1)
        slug = next(o.attribute.slug for o in matching[0].options.all() if o.attribute.name == attribute)
        available = _options([v for v in matching if v.stock > 0]).get(attribute) or options[attribute]
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
        return Reply(_("Sorry, %(name)s is sold out.") % {"name": _named(product, variant)}, Intent.ADD_TO_CART)
    turn.context["pending"] = {"kind": "add", "variant": variant.pk, "quantity": quantity}
    total = variant.price_money * quantity
    return Reply(
        _("Add %(quantity)d × %(name)s for %(total)s to your cart?")
        % {"quantity": quantity, "name": _named(product, variant), "total": total.format()},
        Intent.ADD_TO_CART,
        products=[selectors.card(product)],
        quick_replies=[_("Yes"), _("No")],
    )


def _named(product: Product, variant: Variant) -> str:
    label = _label(variant)
    return f"{product.name} ({label})" if label else product.name


def _confirm_add(turn: Exchange, pending: dict) -> Reply:
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
    return Reply(
        ngettext(
            "Added %(count)d × %(name)s to your cart.", "Added %(count)d × %(name)s to your cart.", pending["quantity"]
        )
        % {"count": pending["quantity"], "name": _named(variant.product, variant)},
        Intent.ADD_TO_CART,
        actions=_cart_actions(),
        quick_replies=[_("What's my total?"), _("Checkout")],
    )


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
    cart = _cart(turn)
    if cart is None or not cart.lines.all():
        return Reply(_("Your cart is empty. What are you looking for?"), Intent.SHOW_CART, quick_replies=menu()[:1])
    return _cart_reply(turn, cart, Intent.SHOW_CART)


def _cart_reply(turn: Exchange, cart, intent: str, lead: str = "") -> Reply:
    priced = _priced(turn, cart)
    lines = [lead] if lead else []
    for line in priced.shown_lines:
        variant = line.variant
        name = _named(line.product, variant) if variant is not None else line.product.name
        lines.append(f"{line.quantity} × {name}: {line.total.format()}")
    for adjustment in priced.adjustments:
        if not adjustment.on_lines:
            lines.append(f"{adjustment.label}: {adjustment.amount.format()}")
    lines.append(_("Total: %(total)s") % {"total": priced.total.format()})
    return Reply("\n".join(lines), intent, actions=_cart_actions(), quick_replies=[_("Checkout")])


def checkout(turn: Exchange) -> Reply:
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
    return _apply_code(turn, code)


def _apply_code(turn: Exchange, code: str) -> Reply:
    from marketing.discounts import services as discounts

    turn.context.pop("pending", None)
    cart = _cart(turn)
    if cart is None or not cart.lines.all():
        return Reply(_("Your cart is empty: add products before using a code."), Intent.APPLY_CODE)
    try:
        found = discounts.cart_code_apply(cart=cart, code=code, customer=turn.customer, client_key=_client_key(turn))
    except ShopError as error:
        return Reply(str(error.message), Intent.APPLY_CODE)
    lead = _("The code %(code)s is on your cart.") % {"code": found.code}
    return _cart_reply(turn, cart, Intent.APPLY_CODE, lead)


def _client_key(turn: Exchange) -> str:
    """Whose guesses count together (codes, order numbers): the customer's, else the client's address."""
    if turn.customer is not None:
        return f"user:{turn.customer.pk}"
    address = ratelimit.client_ip(turn.request) if turn.request is not None else None
    return f"ip:{address}" if address else f"conversation:{turn.conversation.pk}"


# --- points --------------------------------------------------------------------------------------


def _login_first(intent: str) -> Reply:
    return Reply(
        _("Log in to see and use your points."),
        intent,
        actions=[Action("link", _("Log in"), url=reverse("accounts:login"))],
    )


def points(turn: Exchange) -> Reply:
    if turn.customer is None:
        return _login_first(Intent.POINTS)
    from loyalty import selectors as loyalty
    from loyalty.program import grouped

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
        return _login_first(Intent.USE_POINTS)
    from loyalty import carts as loyalty_carts
    from loyalty.program import grouped
    from loyalty.services.orders import cart_points_set

    cart = _cart(turn)
    if cart is None or not cart.lines.all():
        return Reply(_("Your cart is empty: add products before using points."), Intent.USE_POINTS)
    status = loyalty_carts.cart_points_status(cart=cart, priced=_priced(turn, cart), user=turn.customer)
    if status.blocked and not turn.entities.points:
        return Reply(status.blocked, Intent.USE_POINTS)
    wanted = turn.entities.points or status.most
    try:
        cart_points_set(cart=cart, user=turn.customer, points=wanted)
    except ShopError as error:
        return Reply(str(error.message), Intent.USE_POINTS)
    lead = ngettext("%(count)s point is on your cart.", "%(count)s points are on your cart.", wanted) % {
        "count": grouped(wanted)
    }
    return _cart_reply(turn, cart, Intent.USE_POINTS, lead)


# --- orders --------------------------------------------------------------------------------------


def track_order(turn: Exchange) -> Reply:
    entities = turn.entities
    pending = turn.context.get("pending") or {}
    number = entities.order_number or (pending.get("number") if pending.get("kind") == "order" else None)
    email = entities.email
    if turn.customer is not None and not email:
        if number:
            order = selectors.order_of_customer(user=turn.customer, number=number)
            return _order_reply(turn, order) if order else _no_order()
        orders = selectors.recent_orders(user=turn.customer)
        if not orders:
            return Reply(_("You have no orders yet."), Intent.TRACK_ORDER)
        lines = [_order_line(order) for order in orders]
        return Reply(
            "\n".join([_("Your recent orders:"), *lines]),
            Intent.TRACK_ORDER,
            actions=[Action("link", _("All your orders"), url=reverse("orders:mine"))],
        )
    if not number:
        turn.context["pending"] = {"kind": "order"}
        return Reply(_("What is your order number? It is in your confirmation email."), Intent.TRACK_ORDER)
    if not email:
        turn.context["pending"] = {"kind": "order", "number": number}
        return Reply(_("And the email address you ordered with?"), Intent.TRACK_ORDER)
    turn.context.pop("pending", None)
    return _guest_lookup(turn, number, email)


def _guest_lookup(turn: Exchange, number: str, email: str) -> Reply:
    # Limited per client and per number: guessing emails for one number, or numbers from one
    # client, must not pay. A miss and a wrong email answer the same, so nothing tells whether
    # a number exists.
    keys = (f"assistant-order:{_client_key(turn)}", f"assistant-order-number:{number.strip().upper()}")
    if any(ratelimit.is_limited(key, limit=ORDER_ATTEMPTS) for key in keys):
        return Reply(_("Too many attempts. Wait 15 minutes and try again."), Intent.TRACK_ORDER)
    order = selectors.order_for_guest(number=number, email=email)
    if order is None:
        for key in keys:
            ratelimit.record_attempt(key, period=ORDER_WINDOW)
        return _no_order()
    if turn.request is not None and hasattr(turn.request, "session"):
        from shop.orders.selectors import remember_guest_order

        remember_guest_order(turn.request, order)  # the order's page opens for them, as after the lookup page
    return _order_reply(turn, order)


def _no_order() -> Reply:
    return Reply(
        _("No order matches that number and email."), Intent.TRACK_ORDER, quick_replies=[_("Talk to a person")]
    )


def _order_line(order) -> str:
    return _("Order %(number)s: %(status)s") % {"number": order.number, "status": order.get_status_display()}


def _order_reply(turn: Exchange, order) -> Reply:
    text = _order_line(order) + "."
    if getattr(order, "tracking_number", ""):
        text += " " + _("Tracking number: %(tracking)s.") % {"tracking": order.tracking_number}
    return Reply(
        text,
        Intent.TRACK_ORDER,
        actions=[Action("link", _("See the order"), url=reverse("orders:detail", kwargs={"number": order.number}))],
    )


# --- store questions and people ------------------------------------------------------------------


def faq(turn: Exchange) -> Reply:
    entry = FaqEntry.objects.filter(pk=turn.entities.faq_id, is_active=True).first() if turn.entities.faq_id else None
    if entry is None:
        return unknown(turn)
    actions = [Action("link", _("Read more"), url=entry.link)] if entry.link else []
    return Reply(entry.answer, Intent.FAQ, actions=actions)


def human(turn: Exchange) -> Reply:
    email = turn.customer.email if turn.customer is not None else turn.entities.email
    if not email:
        turn.context["pending"] = {"kind": "ticket"}
        return Reply(_("Sure. What email address should our staff answer you at?"), Intent.HUMAN)
    return _open_ticket(turn, email)


def _open_ticket(turn: Exchange, email: str) -> Reply:
    turn.context.pop("pending", None)
    earlier = Turn.objects.filter(conversation=turn.conversation, role=Turn.Role.SHOPPER).order_by("-created_at", "-id")
    said = [t.text for t in reversed(earlier[:5])] + [turn.text]
    services.ticket_open(conversation=turn.conversation, email=email, question="\n".join(said))
    turn.conversation.handed_over = True
    return Reply(
        _(
            "I've passed your conversation to our staff. They usually answer within one working day, "
            "by email to %(email)s and here in the chat."
        )
        % {"email": email},
        Intent.HUMAN,
    )


# --- yes, no, and answers to the assistant's own questions ---------------------------------------


def yes(turn: Exchange) -> Reply:
    return Reply(_("There's nothing waiting for a yes. What can I do for you?"), Intent.YES, quick_replies=menu())


def no(turn: Exchange) -> Reply:
    turn.context.pop("pending", None)
    return Reply(_("All right. Anything else?"), Intent.NO, quick_replies=menu())


def _answer_pending(turn: Exchange) -> Reply | None:
    """The reply when the message answers the question the assistant asked; None otherwise (then
    the message is read on its own, and a pending question it ignores is dropped)."""
    pending = turn.context.get("pending")
    if not pending:
        return None
    intent, entities = turn.understanding.intent, turn.entities
    kind = pending.get("kind")
    if intent == Intent.NO:
        return None  # no() cancels
    if kind == "add" and intent == Intent.YES:
        return _confirm_add(turn, pending)
    if kind == "choose":
        value = _chosen_value(turn, pending)
        if value is not None:
            product = selectors.product_now(pending["product"])
            if product is None:
                turn.context.pop("pending", None)
                return Reply(_("That product is no longer sold."), Intent.ADD_TO_CART)
            values = {**pending["values"], pending["attribute"]: [value]}
            for attribute, vs in entities.values.items():
                values[attribute] = list(vs)
            return _add_step(turn, product, pending["quantity"], values)
    if kind == "which" and (entities.product_ids or (entities.reference or "").isdigit()):
        turn.context.pop("pending", None)
        handler = HANDLERS[pending["intent"]]
        if pending["intent"] == Intent.ADD_TO_CART and not entities.quantity:
            turn.understanding = replace(
                turn.understanding, entities=replace(entities, quantity=pending.get("quantity"))
            )
        return handler(turn)
    if kind == "order" and (entities.email or entities.order_number):
        return track_order(turn)
    if kind == "ticket" and entities.email:
        return _open_ticket(turn, entities.email)
    if kind == "code" and entities.code:
        return _apply_code(turn, entities.code)
    if intent == Intent.YES or intent == Intent.UNKNOWN:
        return None
    turn.context.pop("pending", None)  # the shopper moved on
    return None


def _chosen_value(turn: Exchange, pending: dict) -> str | None:
    """The option the shopper picked: read as an entity, or typed as one of the choices offered."""
    values = turn.entities.values.get(pending["attribute"])
    if values:
        return values[0]
    typed = turn.text.strip().lower()
    return next((choice for choice in pending.get("choices", []) if choice.lower() == typed), None)


HANDLERS = {
    Intent.GREET: greet,
    Intent.THANKS: thanks,
    Intent.GOODBYE: goodbye,
    Intent.HELP: help_,
    Intent.SEARCH: search,
    Intent.REFINE: refine,
    Intent.PRODUCT_STOCK: product_stock,
    Intent.PRODUCT_PRICE: product_price,
    Intent.PRODUCT_INFO: product_info,
    Intent.SIMILAR: similar,
    Intent.GOES_WITH: goes_with,
    Intent.ADD_TO_CART: add_to_cart,
    Intent.SHOW_CART: show_cart,
    Intent.CHECKOUT: checkout,
    Intent.APPLY_CODE: apply_code,
    Intent.POINTS: points,
    Intent.USE_POINTS: use_points,
    Intent.TRACK_ORDER: track_order,
    Intent.FAQ: faq,
    Intent.HUMAN: human,
    Intent.YES: yes,
    Intent.NO: no,
    Intent.UNKNOWN: unknown,
}
