"""The demo-data runner behind `manage.py seed_demo`.

Each app owns its demo data in its own `demo.py` with a `seed(ctx)` function,
listed in settings.DEMO_SEEDERS in the order they must run (customers and the
catalog before orders, orders before what learns from them). A seeder must be
idempotent: it derives everything from fixed seeds, so running it twice creates
nothing new, and a larger --scale only adds what is missing.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.utils.module_loading import import_string

T = TypeVar("T")


@dataclass
class DemoContext:
    scale: int = 1
    out: object = field(default=sys.stdout)
    seed: int = 2026
    started: float = field(default_factory=time.monotonic)

    def rng(self, name: str) -> random.Random:
        """A generator of its own per purpose, so adding one seeder never shifts another's data."""
        return random.Random(f"{self.seed}:{name}")

    def log(self, message: str) -> None:
        self.out.write(f"[{time.monotonic() - self.started:6.1f}s] {message}\n")
        self.out.flush()

    def batches(self, items: Sequence[T], size: int, label: str) -> Iterator[Sequence[T]]:
        """Yield items in batches, printing progress as it goes."""
        total = len(items)
        step = max(total // 10, size)
        shown = 0
        for start in range(0, total, size):
            yield items[start : start + size]
            done = min(start + size, total)
            if done - shown >= step or done == total:
                shown = done
                self.log(f"  {label}: {done:,}/{total:,} ({done * 100 // max(total, 1)}%)")


def run_seeders(ctx: DemoContext) -> None:
    for path in settings.DEMO_SEEDERS:
        ctx.log(f"{path} ...")
        import_string(path)(ctx)
