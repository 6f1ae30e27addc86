"""Recording cost: the CPU the event log adds to a storefront request.

    .venv/bin/python bench/recording.py                    # 15 rounds of 500 requests per page and mode
    .venv/bin/python bench/recording.py --rounds 9 --requests 2000 --visitors 400
    .venv/bin/python bench/recording.py --profile 2000     # where recording's CPU goes, then stop

A throwaway var dir, bench/results/var-recording/ (SQLite, the folder cache, static files):
migrate, `seed_demo --scale 1` when it holds no products (200 products, about 30 s, once),
collectstatic. Then, in this process, with the store's production settings (DEBUG off, so
ANALYTICS_BATCH_SIZE is its production default; the page cache on; the folder cache; SQLite in
WAL mode), Django's test client requests a product page and the product list as anonymous
visitors, in rounds that alternate recording off and on (ANALYTICS_RECORDING; the recorder's
pause is reset before each round, and ANALYTICS_SLOW_WRITE_MS is a minute, so that a busy
machine's wall clock never pauses it mid-round). A round is `--requests` GETs of one page from
`--visitors` new visitors (their own address, one of four common browser strings), so a visit
is a few pages long and each round starts its visits, as a store's traffic does. A round with
recording on ends by writing what the recorder still holds (recorder.flush, when it has one),
inside the time measured, and checks that every request wrote its two events (a page_view, and
view_item or view_item_list).

Two figures per round, both CPU time (time.process_time: this process, every thread) per
request: the round's whole CPU, and the CPU of handing the facts over after each response
(shop.core.tracking._hand_over, timed around the call: all the recorder does, its writes
included). Prints, per page, the median over the rounds of the CPU off and on, of the
difference of each adjacent pair (the added cost) and of the hand-over, with every round's, and
saves them in bench/results/recording-<time>.json. See bench/README.md, "Recording cost".
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path
from statistics import median

from common import RESULTS, ROOT, Stack, log

sys.path.insert(0, str(ROOT))

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
]
EVENTS_PER_REQUEST = 2  # a page_view, and view_item (product page) or view_item_list (list)


def prepare(var_dir: Path) -> None:
    """The throwaway store, then Django set up in this process with the same environment."""
    # Only CPU is measured: a write slowed by a busy machine's wall clock must not pause recording
    # halfway through a round (the store's pause on a slow write, ANALYTICS_SLOW_WRITE_MS).
    stack = Stack(db="sqlite", var_dir=var_dir, pg_port=0, extra_env={"ANALYTICS_SLOW_WRITE_MS": "60000"})
    stack.var_dir.mkdir(parents=True, exist_ok=True)
    log(f"var dir: {stack.var_dir}")
    stack.manage("migrate", "--noinput", "-v", "0")
    count = int(stack.shell("from shop.catalog.models import Product; print(Product.objects.count())").split()[-1])
    if count:
        log(f"already seeded ({count:,} products)")
    else:
        log("seed_demo --scale 1")
        stack.manage("seed_demo", "--scale", "1")
    stack.manage("collectstatic", "--noinput", "-v", "0")
    os.environ.update(stack.env)
    import django

    django.setup()


def pages() -> dict[str, str]:
    from shop.catalog.models import Product

    active = Product.objects.active().order_by("id")
    product = active.filter(stock__gt=0, rating_count__gt=0).first() or active.first()
    return {"product": product.get_absolute_url(), "list": "/products/"}


class Visitors:
    """Requests from `visitors` new visitors a round: their own address, one of BROWSERS."""

    def __init__(self, visitors: int):
        from django.test import Client

        self.client = Client()
        self.visitors = visitors
        self.round = 0

    def get(self, url: str, requests: int) -> None:
        self.round += 1
        for n in range(requests):
            visitor = n % self.visitors
            response = self.client.get(
                url,
                REMOTE_ADDR=f"10.{self.round % 250}.{visitor // 250}.{visitor % 250 + 1}",
                HTTP_USER_AGENT=BROWSERS[visitor % len(BROWSERS)],
            )
            if response.status_code != 200:
                sys.exit(f"{url} answered {response.status_code}")


def recording(on: bool) -> None:
    from django.conf import settings

    from marketing.analytics import recorder

    settings.ANALYTICS_RECORDING = on
    recorder._paused_until = 0.0


def flush() -> None:
    """Write what the recorder still holds (if it holds anything: it may write at once)."""
    from marketing.analytics import recorder

    if hasattr(recorder, "flush"):
        recorder.flush()


class HandOverClock:
    """CPU spent handing a request's facts over after its response (shop.core.tracking._hand_over:
    the recorder's whole share, the batch writes included), measured around the call."""

    def __init__(self):
        from shop.core import tracking

        self.spent = 0.0
        original = tracking._hand_over

        def timed(*args, **kwargs):
            started = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent += time.process_time() - started

        tracking._hand_over = timed  # the middleware's closer looks it up when the response closes


def measure(visitors: Visitors, clock: HandOverClock, url: str, requests: int, on: bool) -> tuple[float, float]:
    """CPU µs per request of one round, and of that the hand-over's."""
    from marketing.analytics.models import Event

    recording(on)
    before = Event.objects.count()
    clock.spent = 0.0
    started = time.process_time()
    visitors.get(url, requests)
    if on:
        flushed = time.process_time()
        flush()
        clock.spent += time.process_time() - flushed
    spent = time.process_time() - started
    written = Event.objects.count() - before
    expected = requests * EVENTS_PER_REQUEST if on else 0
    if written != expected:
        sys.exit(f"{url}: {written} events written in a round of {requests} requests, expected {expected}")
    return spent / requests * 1e6, clock.spent / requests * 1e6


def run(args) -> dict:
    urls = pages()
    visitors, clock = Visitors(args.visitors), HandOverClock()
    log("warming up (templates, the page cache, ua-parser's rules, the database's pages)")
    for url in urls.values():
        for on in (False, True):
            measure(visitors, clock, url, args.warmup, on)
    results = {}
    for page, url in urls.items():
        off, on, handed = [], [], []
        for number in range(args.rounds):
            # Alternate which mode goes first, so drift over a pair does not favour either.
            for mode in (False, True) if number % 2 == 0 else (True, False):
                cpu, hand_over = measure(visitors, clock, url, args.requests, mode)
                (on if mode else off).append(cpu)
                if mode:
                    handed.append(hand_over)
            log(f"{page} round {number + 1}: off {off[-1]:,.0f} µs, on {on[-1]:,.0f} µs per request, "
                f"of which handing over {handed[-1]:,.0f} µs")  # fmt: skip
        added = [b - a for a, b in zip(off, on, strict=True)]
        results[page] = {
            "url": url,
            "off_us": median(off),
            "on_us": median(on),
            "added_us": median(added),
            "hand_over_us": median(handed),
            "rounds_added_us": [round(a) for a in added],
            "rounds_hand_over_us": [round(a) for a in handed],
            "rounds_off_us": [round(a) for a in off],
            "rounds_on_us": [round(a) for a in on],
        }
    recording(False)
    return results


def profile(requests: int, visitors: int) -> None:
    """cProfile (timed by CPU) of `requests` product pages with recording on: the recording's share."""
    url = pages()["product"]
    guests = Visitors(visitors)
    measure(guests, HandOverClock(), url, 200, True)
    recording(True)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    guests.get(url, requests)
    flush()
    profiler.disable()
    recording(False)
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # every function's own time
    print(f"\n{requests:,} product pages with recording on: {total / requests * 1e6:,.0f} profiled µs per request")
    print("(cProfile multiplies small calls' cost several times: read the shares of the whole)\n")
    for name in ("record_facts", "_record_visitor_facts", "visit_for", "consenting", "_event", "write", "flush"):
        rows = [(key, row) for key, row in stats.stats.items() if key[2] == name and "analytics" in key[0]]
        for (path, line, function), (_cc, calls, _tt, cumulative, _callers) in rows:
            where = f"{Path(path).name}:{line} {function}"
            print(f"  {where:45s} {calls:7,} calls {cumulative / requests * 1e6:8,.1f} profiled µs "
                  f"{cumulative / total:6.1%}")  # fmt: skip
    print()
    stats.sort_stats("cumulative").print_stats("analytics|tracking", 25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds per page and mode (default 15)")
    parser.add_argument("--requests", type=int, default=500, help="requests per round (default 500)")
    parser.add_argument("--visitors", type=int, default=100, help="new visitors per round (default 100: 5 pages each)")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests per page and mode")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N product pages with recording on, then stop")
    parser.add_argument("--var-dir", default=str(RESULTS / "var-recording"))
    args = parser.parse_args()
    prepare(Path(args.var_dir))
    if args.profile:
        profile(args.profile, args.visitors)
        return 0
    results = run(args)
    from django.conf import settings

    print()
    batch = getattr(settings, "ANALYTICS_BATCH_SIZE", "none")
    print("Recording cost: CPU per request in this process (django.test.Client), SQLite, page cache on, DEBUG off;")
    print(f"median of {args.rounds} rounds of {args.requests:,} requests per page and mode, "
          f"{args.visitors} new visitors a round; ANALYTICS_BATCH_SIZE={batch}")  # fmt: skip
    print(
        f"{'page':8} {'url':40} {'off µs':>7} {'on µs':>7} {'added':>6} {'hand-over':>9}  rounds: added / hand-over µs"
    )
    for page, r in results.items():
        rounds = ", ".join(f"{a}/{h}" for a, h in zip(r["rounds_added_us"], r["rounds_hand_over_us"], strict=True))
        print(f"{page:8} {r['url'][:40]:40} {r['off_us']:7,.0f} {r['on_us']:7,.0f} {r['added_us']:6,.0f} "
              f"{r['hand_over_us']:9,.0f}  {rounds}")  # fmt: skip
    print("added: on minus off, each round against its pair; hand-over: the CPU of the recorder's own calls,")
    print("measured around them (the difference is the same work seen through a noisier lens).")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"recording-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    log(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
