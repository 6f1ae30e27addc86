"""The tracking seam: the shop tells what a visitor did, without knowing who listens.

A service calls `track("add_to_cart", product_id=..., quantity=..., value=...)` once its
change is committed (`transaction.on_commit`), so a rolled-back change tells nothing. In a
request, `TrackingMiddleware` gathers the request's facts and, once the response has been
sent, hands them over with the request (`facts_tracked`): whoever records them (the
analytics app) adds the visit, the customer and the consent, and a slow or failing recorder
never delays or breaks the page. Outside a request (a task, a command) a fact is handed over
at once, with no request.

Facts of the store rather than of a visitor (an order paid through a webhook, a refund from
the admin) are not tracked here: they are the domain signals of `shop.orders.signals`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from django.dispatch import Signal
from django.utils import timezone

log = logging.getLogger(__name__)

# Sent with request (or None outside a request), response (or None) and facts (a list of Fact),
# after the response has been sent. Receivers must not raise: a failure is logged and dropped.
facts_tracked = Signal()

_facts: ContextVar[list | None] = ContextVar("shop_tracked_facts", default=None)


@dataclass(frozen=True)
class Fact:
    name: str
    at: datetime
    data: dict = field(default_factory=dict)


def track(name: str, **data) -> None:
    """Tell that the visitor did `name` (e.g. "view_item", product_id=3): call it after commit."""
    fact = Fact(name, timezone.now(), data)
    facts = _facts.get()
    if facts is not None:
        facts.append(fact)
    else:
        _hand_over(None, None, [fact])


def hand_over(request, response, facts: list[Fact]) -> None:
    """Give these facts to the listeners now (a view that gathers its own, such as a beacon's)."""
    _hand_over(request, response, facts)


def _hand_over(request, response, facts: list[Fact]) -> None:
    for receiver, result in facts_tracked.send_robust(sender=None, request=request, response=response, facts=facts):
        if isinstance(result, Exception):
            log.warning("Tracking: %d facts dropped by %s: %r", len(facts), receiver, result)


class TrackingMiddleware:
    """Gathers the facts a request tracks; hands them over once the response has been sent.

    They go with the response's close (the WSGI server calls it after the last byte), so the
    shopper never waits for them. A request that tracks nothing still hands over its response:
    a recorder may count a page view.
    """

    def __init__(self, get_response: Callable):
        self.get_response = get_response

    def __call__(self, request):
        facts: list[Fact] = []
        token = _facts.set(facts)
        try:
            response = self.get_response(request)
        finally:
            _facts.reset(token)
        response._resource_closers.append(lambda: _hand_over(request, response, facts))
        return response
