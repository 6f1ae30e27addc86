"""Customer segments a promotion can be limited to.

The campaigns app defines segments; it registers a membership test per key
here, so a promotion's `segment` condition works without discounts knowing how
segments are computed. An unknown segment has no members.
"""

from collections.abc import Callable

_SEGMENTS: dict[str, Callable[[object], bool]] = {}


def register(key: str, is_member: Callable[[object], bool]) -> None:
    _SEGMENTS[key] = is_member


def is_member(key: str, customer) -> bool:
    test = _SEGMENTS.get(key)
    return bool(customer is not None and test is not None and test(customer))


def choices() -> list[str]:
    return sorted(_SEGMENTS)
