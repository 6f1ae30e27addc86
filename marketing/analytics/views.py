"""What only the browser knows: which products a list showed, which one was chosen, which
promotion was seen or chosen. Sent by static/analytics/track.js with `navigator.sendBeacon`.

The beacon cannot carry a CSRF token in a header, so this view is exempt from Django's check and
makes its own: the request must come from this site (its Origin, or else its Referer, names this
host). It writes nothing but events: at most MAX_EVENTS browser events per request, of the four
names below, with product and promotion ids that exist; a client is limited to RATE beacons a
minute. A bad beacon is answered 400 with its reason; nothing is ever half-recorded.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from marketing.analytics.models import EventName
from shop.catalog.models import Product
from shop.core import ratelimit
from shop.core.tracking import Fact, hand_over

MAX_BYTES = 16_384
MAX_EVENTS = 30
MAX_ITEMS = 60
RATE = 120  # beacons per client per minute
BROWSER_EVENTS = {EventName.VIEW_ITEM_LIST, EventName.SELECT_ITEM, EventName.VIEW_PROMOTION, EventName.SELECT_PROMOTION}


def _refuse(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"detail": message, "code": "invalid" if status == 400 else "forbidden"}, status=status)


def _same_site(request) -> bool:
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return bool(origin) and urlsplit(origin).netloc == request.get_host()


def _ids(value, limit) -> list[int] | None:
    if not isinstance(value, list) or len(value) > limit:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**31 for v in value):
        return None
    return value


@csrf_exempt
@require_POST
def collect(request):
    if not _same_site(request):
        return _refuse("Beacons are accepted from this store's own pages only.", 403)
    client = ratelimit.client_ip(request) or "unknown"
    if ratelimit.record_attempt(f"analytics-collect:{client}", period=60) > RATE:
        return _refuse("Too many beacons from this client: wait a minute.", 429)
    if len(request.body) > MAX_BYTES:
        return _refuse(f"A beacon is at most {MAX_BYTES} bytes.")
    try:
        events = json.loads(request.body or b"null").get("events")
    except (ValueError, AttributeError, RecursionError):  # RecursionError: arrays nested thousands deep
        return _refuse('Send JSON: {"events": [{"name": "select_item", "product": 3, "list": "shoes"}]}.')
    if not isinstance(events, list) or not 0 < len(events) <= MAX_EVENTS:
        return _refuse(f"Send 1 to {MAX_EVENTS} events.")
    facts, products = [], set()
    now = timezone.now()
    for event in events:
        if not isinstance(event, dict) or event.get("name") not in BROWSER_EVENTS:
            return _refuse(f"An event's name is one of: {', '.join(sorted(BROWSER_EVENTS))}.")
        name, where = event["name"], str(event.get("list") or "")[:64]
        if name == EventName.VIEW_ITEM_LIST:
            items = _ids(event.get("items"), MAX_ITEMS)
            if not items:
                return _refuse(f"view_item_list takes items: 1 to {MAX_ITEMS} product ids.")
            products.update(items)
            facts.append(Fact(name, now, {"list": where, "items": items}))
        elif name == EventName.SELECT_ITEM:
            product = _ids([event.get("product")], 1)
            if not product:
                return _refuse("select_item takes product: a product id.")
            products.update(product)
            facts.append(Fact(name, now, {"list": where, "product_id": product[0]}))
        else:
            promotion = _ids([event.get("promotion")], 1)
            if not promotion:
                return _refuse(f"{name} takes promotion: a promotion id.")
            facts.append(Fact(name, now, {"promotion": promotion[0], "where": where}))
    known = set(Product.objects.filter(pk__in=products).values_list("pk", flat=True)) if products else set()
    if products - known:
        return _refuse("Some product ids are not this store's.")
    response = HttpResponse(status=204)
    response._resource_closers.append(lambda: hand_over(request, None, facts))
    return response
