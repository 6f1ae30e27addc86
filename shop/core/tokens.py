"""Version tokens in the shared cache: what is built from the database is kept under them.

A token is a random string under a cache key. A write *replaces* it, so whatever was kept
under the old string is out of date at once, in every process. Two rules make that safe:

- a reader reads the tokens before the rows they stand for (a write landing in between
  then replaces a token the reader already holds: what it keeps is dropped);
- a writer replaces the token when its transaction commits (at once in autocommit), so what
  a reader builds from the rows as they were before the commit is dropped too. Until then the
  writing transaction reads each token it wrote as a new string of its own, replaced at each
  of its writes: it never finds what was kept from the rows before its writes, and what it
  keeps meanwhile is found by nobody else.

The catalog's page cache (shop.catalog.cache), the promotions index
(marketing.discounts.index) and the priced carts (shop.cart.snapshot) keep their work this way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from django.core.cache import cache
from django.db import transaction


def read(keys: Iterable[str]) -> dict[str, str]:
    """The tokens under these keys in one get_many; a missing one is made (add: the first writer wins).

    With a cache that keeps nothing (the dummy cache) a token reads as a fresh string each time,
    so nothing kept under it is ever found again.
    """
    keys = list(dict.fromkeys(keys))
    written = {key: token for pending in _pending() for key, token in pending.keys.items()}
    if written:
        written = {key: written[key] for key in keys if key in written}
        keys = [key for key in keys if key not in written]
        return {**_read(keys), **written} if keys else written
    return _read(keys)


def _read(keys: list[str]) -> dict[str, str]:
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    for key in missing:
        cache.add(key, uuid.uuid4().hex, None)
    if missing:
        found.update(cache.get_many(missing))
        for key in missing:
            found.setdefault(key, uuid.uuid4().hex)
    return found


def _replace(keys: Iterable[str], order: Callable[[str], int] | None = None) -> None:
    keys = sorted(set(keys), key=order) if order else list(set(keys))
    cache.set_many({key: uuid.uuid4().hex for key in keys}, None)


class _AfterCommit:
    """The tokens to replace when the transaction commits, with the strings the transaction itself
    reads meanwhile: one callback per transaction."""

    def __init__(self, order):
        self.keys: dict[str, str] = {}
        self.order = order

    def __call__(self):
        _replace(self.keys, self.order)


def _pending() -> list[_AfterCommit]:
    """This transaction's callbacks (one per `order`), if it has written tokens."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return []
    return [func for _sids, func, _robust in connection.run_on_commit if isinstance(func, _AfterCommit)]


def bump(keys: Iterable[str], *, order: Callable[[str], int] | None = None) -> None:
    """Replace these tokens once this transaction commits (at once in autocommit).

    `order` sorts the keys before they are written (a file cache writes one after the other).
    A transaction that writes five times registers one callback (a checkout replaces each token
    once, not once per write); a rolled-back savepoint drops the callback it registered with its
    writes, as Django drops callbacks, and with it what it would have replaced: the rows are
    back as they were.
    """
    keys = set(keys)
    if not keys:
        return
    if not transaction.get_connection().in_atomic_block:
        _replace(keys, order)  # autocommit: the write is already committed
        return
    pending = next((func for func in _pending() if func.order is order), None)
    if pending is None:
        pending = _AfterCommit(order)
        transaction.on_commit(pending)
    pending.keys.update((key, uuid.uuid4().hex) for key in keys)
