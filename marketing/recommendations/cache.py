"""What serving keeps in the shared cache, under one version token (shop.core.tokens).

A build, a pin or block, or a shelf setting replaces the token, so every shelf reads the new rows
at once in every process. Per product: its neighbour lists and staff's rules, read together on a
miss (two queries for any number of products). Once: the shelf settings and the rankings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.core.cache import cache

from shop.core import tokens

TOKEN = "recommendations:token"
SECONDS = 6 * 3600


def changed() -> None:
    """Every kept list is out of date (on commit of the surrounding transaction)."""
    tokens.bump([TOKEN])


def token() -> str:
    """The recommendations' version: replaced by a build, a rule or a setting."""
    return tokens.read([TOKEN])[TOKEN]


def _prefix() -> str:
    return f"recommendations:{token()}"


def products(ids: Iterable[int]) -> dict[int, dict]:
    """{product id: {"bought": [[id, score]...], "viewed": [...], "blended": [...], "pins": [ids], "blocks": [ids]}}
    for these products; a product with nothing has empty lists."""
    from marketing.recommendations.models import Neighbours, Rule

    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    prefix = _prefix()
    found = cache.get_many([f"{prefix}:p:{pk}" for pk in ids])
    values = {pk: found[f"{prefix}:p:{pk}"] for pk in ids if f"{prefix}:p:{pk}" in found}
    missing = [pk for pk in ids if pk not in values]
    if missing:
        built = {pk: {"bought": [], "viewed": [], "blended": [], "pins": [], "blocks": []} for pk in missing}
        for pk, table, items in Neighbours.objects.filter(product_id__in=missing).values_list(
            "product_id", "table", "items"
        ):
            built[pk][table] = items
        for pk, target, action in (
            Rule.objects.filter(product_id__in=missing)
            .order_by("position", "id")
            .values_list("product_id", "target_id", "action")
        ):
            built[pk]["pins" if action == Rule.Action.PIN else "blocks"].append(target)
        cache.set_many({f"{prefix}:p:{pk}": value for pk, value in built.items()}, SECONDS)
        values.update(built)
    return values


def _bought_key(user_id: int) -> str:
    return f"recommendations:bought:{user_id}"


def bought_changed(user_id: int) -> None:
    """The customer paid for an order: what they bought is read again."""
    tokens.bump([_bought_key(user_id)])


def bought(user_id: int, build) -> dict[int, int]:
    """What the customer bought (build()), kept until they pay for another order."""
    key = f"{_bought_key(user_id)}:{tokens.read([_bought_key(user_id)])[_bought_key(user_id)]}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, SECONDS)
    return value


RECENT = 40
RECENT_SECONDS = {"v": 2 * 3600, "c": 14 * 86400}


def _recent_key(kind: str, who) -> str:
    return f"recommendations:recent:{kind}:{who}"


def recent(kind: str, who, build) -> list[tuple[str, int]]:
    """A visit's ("v") or a consenting customer's ("c") latest product events, newest first. A visit's
    live only here (from its first event on); a customer's are read from the event log when missing."""
    key = _recent_key(kind, who)
    value = cache.get(key)
    if value is None:
        value = build()
        if value:
            cache.set(key, value, RECENT_SECONDS[kind])
    return value


def saw(kind: str, who, events: list[tuple[str, int]], *, start: bool) -> None:
    """Put a request's product events at the front of the visit's or customer's list (`start`: make
    the list if missing; a customer's missing list is left to be read from the log)."""
    key = _recent_key(kind, who)
    value = cache.get(key)
    if value is None and not start:
        return
    fresh = [*reversed(events), *(value or [])]
    cache.set(key, fresh[:RECENT], RECENT_SECONDS[kind])


def once(name: str, build) -> object:
    """A value kept under the token: the shelf settings, the rankings."""
    key = f"{_prefix()}:{name}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, SECONDS)
    return value


def rankings() -> dict:
    """{"trending": [[id, score]...], "bestsellers": [...], "category:<id>": [...]}"""
    from marketing.recommendations.models import Ranking

    def build():
        out = defaultdict(list)
        for kind, category_id, items in Ranking.objects.values_list("kind", "category_id", "items"):
            out[f"{kind}:{category_id}" if category_id else kind] = items
        return dict(out)

    return once("rankings", build)


def shelf_settings() -> dict[str, tuple[bool, int]]:
    """{shelf: (shown, size)}; a shelf without a row is shown with DEFAULT_SIZE products."""
    from marketing.recommendations.models import ShelfSetting

    return once(
        "settings",
        lambda: {s: (on, size) for s, on, size in ShelfSetting.objects.values_list("shelf", "enabled", "size")},
    )
