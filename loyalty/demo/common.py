"""What the loyalty demo's parts share: the demo's customers and orders, and small helpers."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

DEMO_DOMAIN = "@example.net"
SHOPPER = "shopper@example.com"
SCOPE = "demo"  # the orders seeder's idempotency scope: the demo orders
ROWS = 2000  # rows per insert


def _unit(text: str) -> float:
    """A number in (0, 1) fixed by the text."""
    return (int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") + 0.5) / 2**64


@contextmanager
def _historical(model):
    """Let bulk_create keep the created_at we give (the seeder runs alone in its command)."""
    created = model._meta.get_field("created_at")
    created.auto_now_add = False
    try:
        yield
    finally:
        created.auto_now_add = True


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start : start + size]
