"""The shelves' tags, used by the templates this app adds to the store's pages (settings.SHOP_SHELVES)."""

from __future__ import annotations

from django import template
from django.template.loader import get_template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from marketing.recommendations import cache as recs_cache
from marketing.recommendations import shelves
from shop.catalog import cache as catalog_cache
from shop.catalog.views import product_cards

register = template.Library()


def _with_reasons(result: shelves.Result) -> list[SafeString]:
    """The catalog's cached cards, each with the line that says why it is shown."""
    cards = dict(zip(result.ids, product_cards(result.ids), strict=False)) if result.picks else {}
    out = []
    for pick in result.picks:
        card = cards.get(pick.product_id)
        if card is None:
            continue
        head, _sep, tail = card.rpartition("</li>")
        reason = format_html('<p class="reason">{}</p>', pick.reason_text)
        out.append(mark_safe(f"{head}{reason}</li>{tail}"))  # noqa: S308 (our templates' output, escaped reason)
    return out


def render(result: shelves.Result, *, heading: str = "h2") -> SafeString:
    if not result.picks:
        return mark_safe("")
    return get_template("recommendations/_shelf.html").render(
        {"shelf": result, "cards": mark_safe("".join(_with_reasons(result))), "heading": heading}  # noqa: S308
    )


@register.simple_tag(takes_context=True)
def product_shelves(context, product_id):
    """A product's two shelves. The same for every visitor who bought nothing yet, so their HTML is
    kept whole while nothing shown changes (the catalog's `shown` token, offers' end dates, the
    recommendations' token): two cache reads instead of one per card."""
    request = context.get("request")

    def build():
        bought = shelves.for_product(shelves.Shelf.BOUGHT_TOGETHER, product_id, request=request)
        viewed = shelves.for_product(shelves.Shelf.VIEWED_TOGETHER, product_id, request=request, exclude=bought.ids)
        return mark_safe(render(bought) + render(viewed))  # noqa: S308

    if shelves.purchased(request):
        return build()  # their own: what they bought is left out
    parts = (recs_cache.token(), product_id, get_language())
    html = catalog_cache.cached("recommendations-product-html", parts, build, on=(catalog_cache.SHOWN,), offers=True)
    return mark_safe(html)  # noqa: S308 (our templates' output)


@register.simple_tag(takes_context=True)
def home_shelves(context):
    request = context.get("request")
    personal = shelves.for_you(request)
    recent = shelves.recently_viewed(request)
    trending = shelves.trending(exclude=personal.ids)
    return mark_safe(render(personal) + render(trending) + render(recent))  # noqa: S308


@register.simple_tag(takes_context=True)
def cart_shelf(context, product_ids):
    request = context.get("request")
    return render(shelves.for_cart(list(product_ids), request=request))


@register.simple_tag(takes_context=True)
def order_shelf(context, order):
    request = context.get("request")
    ids = [line.product_id for line in order.lines.all() if line.product_id]
    return render(shelves.after_order(ids, request=request))
