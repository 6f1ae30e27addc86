"""Finding products, refining the search, and answering about one product."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from django.apps import apps
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from marketing.assistant import selectors
from marketing.assistant.contract import Entities, Intent, Reply
from marketing.assistant.dialogue.common import Exchange, menu
from shop.catalog.models import Category, Product, Variant
from shop.core.money import Money

# --- ----------------------------------------------------------------------------------


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
    before = {"search": turn.context["search"], "offset": turn.context.get("offset", 0)}
    before_shown = list(turn.context.get("shown") or [])
    turn.context.update(search=params, offset=offset)
    reply = _list(turn, Intent.REFINE)
    if not reply.products and not entities.more:
        if entities.words or entities.category_ids:
            # A new thing named ("white tee" after dresses): a search of its own, if it finds any.
            fresh = search(turn)
            if fresh.products:
                return fresh
        # Nothing matches the narrower search: the shopper keeps the one they had, and is told so.
        turn.context.update(before)
        shown = turn.context.get("product") or (before_shown[0] if len(before_shown) == 1 else None)
        if entities.cheaper and shown:
            # As a shop assistant would: cheaper ones of the same kind as what they were looking at.
            turn.context["product"] = shown
            alike = similar(turn, keep={k: v for k, v in before["search"].items() if k in ("attr", "in_stock")})
            if alike.products:
                alike.text = _("Nothing cheaper matches your search; these are like it, and cheaper:")
                return alike
            turn.context.update(before)
        reply.text = (
            _("I found nothing cheaper that matches: what I showed you is the cheapest.")
            if entities.cheaper
            else _("Nothing matches that as well. Your earlier search still stands: change a word, or start again.")
        )
        reply.quick_replies = [_("Show more"), *menu()[:1]] if not entities.cheaper else menu()
    return reply


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


def one_product(turn: Exchange, intent: str, then: dict | None = None) -> Product | Reply:
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
    product = one_product(turn, Intent.PRODUCT_STOCK)
    if isinstance(product, Reply):
        return product
    variants = matching_variants(product, dict(turn.entities.values))
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
        return f"{product.name} ({label(variants[0])})"
    return product.name


def product_price(turn: Exchange) -> Reply:
    product = one_product(turn, Intent.PRODUCT_PRICE)
    if isinstance(product, Reply):
        return product
    shown = selectors.card(product)  # the price the storefront shows, after an automatic promotion
    if product.price_from is not None:  # its sizes cost differently: the lowest, as its card says
        text = _("%(name)s costs from %(price)s: its sizes have prices of their own.") % {
            "name": product.name,
            "price": Money(shown.amount, shown.currency).format(),
        }
        if shown.offer:
            text += " " + _("That is with %(offer)s.") % {"offer": shown.offer}
    else:
        text = _("%(name)s costs %(price)s.") % {"name": product.name, "price": shown.price}
        if shown.offer:
            text += " " + _("That is with %(offer)s: it was %(was)s.") % {"offer": shown.offer, "was": shown.was}
        elif shown.was:
            text += " " + _("It is on sale: it was %(was)s.") % {"was": shown.was}
    return Reply(text, Intent.PRODUCT_PRICE, products=[selectors.card(product)], quick_replies=[_("Add it to my cart")])


def product_info(turn: Exchange) -> Reply:
    product = one_product(turn, Intent.PRODUCT_INFO)
    if isinstance(product, Reply):
        return product
    options = options_of(list(variants_of(product)))
    description = strip_tags(product.description).strip()
    parts = [Truncator(description).chars(300)] if description else []
    for name, values in options.items():
        parts.append(_("%(attribute)s: %(values)s.") % {"attribute": name, "values": ", ".join(values)})
    parts.append(
        _("%(price)s, %(note)s.")
        % {"price": selectors.card(product).price, "note": selectors.stock_note(product.stock).lower()}
    )
    return Reply(
        " ".join(parts), Intent.PRODUCT_INFO, products=[selectors.card(product)], quick_replies=[_("Add it to my cart")]
    )


def similar(turn: Exchange, keep: dict | None = None) -> Reply:
    """Products like the one looked at (its category); `keep`: filters of the search it came from
    that still hold ("red dresses", then "cheaper": red ones)."""
    product = one_product(turn, Intent.SIMILAR)
    if isinstance(product, Reply):
        return product
    params = {"category": product.category.slug} if product.category_id else {"search": product.name}
    params.update(keep or {})
    if turn.entities.cheaper or turn.entities.cheap:
        params.update(max_price=str(max(product.price - Decimal("0.01"), Decimal(0))), ordering="-price")
    params = _search_params(replace(turn.entities, product_ids=(), reference=None), params)
    found = [p for p in selectors.search(params, size=selectors.PAGE + 1) if p.pk != product.pk][: selectors.PAGE]
    turn.context.update(search=params, offset=0)
    if not found:
        return Reply(_("I found nothing quite like %(name)s.") % {"name": product.name}, Intent.SIMILAR)
    return _show(turn, found, _("Like %(name)s:") % {"name": product.name}, Intent.SIMILAR)


def goes_with(turn: Exchange) -> Reply:
    product = one_product(turn, Intent.GOES_WITH)
    if isinstance(product, Reply):
        return product
    ids = []
    if apps.is_installed("marketing.recommendations"):  # the suggestions come from its shelves, when present
        from marketing.recommendations import selectors as recommendations

        ids = recommendations.bought_together(product_id=product.pk, request=turn.request)[: selectors.PAGE]
    found = selectors.products_by_ids(ids)
    if not found:
        return Reply(_("I have no suggestions to go with %(name)s yet.") % {"name": product.name}, Intent.GOES_WITH)
    reply = _show(turn, found, _("These go well with %(name)s:") % {"name": product.name}, Intent.GOES_WITH)
    turn.context["product"] = product.pk if len(found) > 1 else found[0].pk
    return reply


# --- the cart ----------------------------------------------------------------------------------


def variants_of(product: Product):
    return Variant.objects.active().filter(product=product).prefetch_related("options__attribute", "options__value")


def options_of(variants: list[Variant]) -> dict[str, list[str]]:
    """{"Size": ["S", "M"], ...}: each option of these variants and its values, in the catalog's order."""
    found: dict[str, list[str]] = {}
    for variant in variants:
        for option in sorted(variant.options.all(), key=lambda o: (o.attribute.name, o.value.position)):
            values = found.setdefault(option.attribute.name, [])
            if option.value.name not in values:
                values.append(option.value.name)
    return found


def matching_variants(product: Product, values: dict) -> list[Variant]:
    """The product's variants having every chosen value ({"size": ["m"]}, by slug or name)."""
    wanted = {attribute.lower(): {str(v).lower() for v in vs} for attribute, vs in values.items()}
    matching = []
    for variant in variants_of(product):
        options = {o.attribute.slug: {o.value.slug, o.value.name.lower()} for o in variant.options.all()}
        if all(attribute not in options or options[attribute] & vs for attribute, vs in wanted.items()):
            matching.append(variant)
    return matching


def label(variant: Variant) -> str:
    return ", ".join(o.value.name for o in sorted(variant.options.all(), key=lambda o: o.attribute.name))
