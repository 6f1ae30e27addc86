"""Customer segments a promotion can be limited to.

The campaigns app defines segments. The setting `DISCOUNTS_SEGMENTS` names the module that
answers for them (`is_member(key, customer)`, `choices()`), so discounts works without
knowing how segments are computed; `register` adds a test in code (tests, another app).
An unknown segment has no members.
"""

import importlib
from collections.abc import Callable
from functools import cache

from django.conf import settings

_SEGMENTS: dict[str, Callable[[object], bool]] = {}


def register(key: str, is_member: Callable[[object], bool]) -> None:
    _SEGMENTS[key] = is_member


@cache
def _directory():
    path = getattr(settings, "DISCOUNTS_SEGMENTS", "")
    return importlib.import_module(path) if path else None


def is_member(key: str, customer) -> bool:
    if customer is None:
        return False
    test = _SEGMENTS.get(key)
    if test is not None:
        return bool(test(customer))
    directory = _directory()
    return bool(directory is not None and directory.is_member(key, customer))


def choices() -> list[tuple[str, str]]:
    directory = _directory()
    found = dict(directory.choices()) if directory is not None else {}
    found.update({key: key for key in _SEGMENTS if key not in found})
    return sorted(found.items(), key=lambda kv: str(kv[1]).lower())
