"""The shopping assistant's replies, end to end, in-process: what a message costs.

    .venv/bin/python bench/assistant.py                   # 2,000 products (seed_demo --scale 10), 30 rounds
    .venv/bin/python bench/assistant.py --scale 1 --rounds 10     # 200 products: a quick look
    .venv/bin/python bench/assistant.py --var-dir /tmp/somewhere  # another throwaway var dir

A throwaway var dir, bench/results/var-assistant/ (SQLite, the folder cache): migrate, then
`seed_demo --scale N` when it holds no products (2,000 products with their sizes and colours, 5,000
customers, their orders and points: about 2 minutes, once), and the demo's FAQ entries and synonyms
(marketing/assistant/demo.py). Then, in this process, with the store's production settings (DEBUG
off), scripted conversations, each in a new conversation, as the demo shopper (a customer with
orders and points) or a guest: a search with a colour and a price, refinements ("cheaper", "in
blue", "show more", "only in stock"), questions about a product shown ("is the first one in
stock?", "how much is it?"), adding it to the cart and confirming (an option as offered, or "yes"),
the cart's total, points, order tracking (a customer's, and a guest's by number then email), store
questions the FAQ answers, and messages it does not understand. Every message is timed through
`marketing.assistant.dialogue.respond` (reading, the dialogue, its database reads and writes,
recording both turns) with its SQL counted, and then `understanding.understand` alone on the same
text and context. Before the rounds, the cold first reply: the cache emptied, so the first message
builds the catalog's and the assistant's vocabularies.

Prints p50/p95/max per kind of message and overall, the queries per reply, and the target (issue
17: a reply under 50 ms at p50); saves everything as bench/results/assistant-<time>.json. The exit
status is 0 when the target is met. See bench/README.md, "Assistant benchmark".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from common import RESULTS, ROOT, Stack, load_average, log, percentile

sys.path.insert(0, str(ROOT))

TARGET_P50_MS = 50.0
COLOURS = ["red", "blue", "black", "green", "white", "navy", "beige", "grey"]
SEARCHES = [
    "{colour} dress under {price}", "{colour} sneakers", "wireless headphones under {price}",
    "a {colour} jacket", "linen shirt under {price}", "cheap headphones", "{colour} tee shirt", "yoga mat",
    "tea kettle under {price}", "bluetooth speaker", "ankle boots in {colour}", "a rucksack for hiking",
]  # fmt: skip
REFINES = ["cheaper", "only in stock", "show more", "in {colour}", "anything under {price}?"]
FAQ = [
    "how long does shipping take?", "how much is delivery", "what's your return policy",
    "can I pay with paypal?", "how do discount codes work", "when do points expire", "do you offer gift wrapping?",
    "I want to change my order", "what are your opening hours", "how long do refunds take",
]  # fmt: skip
UNKNOWN = ["do you price match", "what's the weather like", "asdf qwer", "can you recommend a good film"]
KINDS = ["search", "refine", "product", "add", "confirm", "cart", "points", "track", "faq", "unknown"]


def prepare(var_dir: Path, scale: int) -> None:
    """The throwaway store, then Django set up in this process with the same environment."""
    stack = Stack(db="sqlite", var_dir=var_dir, pg_port=0)
    stack.var_dir.mkdir(parents=True, exist_ok=True)
    log(f"var dir: {stack.var_dir}")
    stack.manage("migrate", "--noinput", "-v", "0")
    count = int(stack.shell("from shop.catalog.models import Product; print(Product.objects.count())").split()[-1])
    if count:
        log(f"already seeded ({count:,} products)")
    else:
        log(f"seed_demo --scale {scale} (about {12 * scale} s)")
        stack.manage("seed_demo", "--scale", str(scale))
    os.environ.update(stack.env)
    import django

    django.setup()


def scripts(rng: random.Random, guest_order: tuple[str, str]) -> list[tuple[bool, list[tuple[str, str]]]]:
    """One round: (as the customer?, [(kind, message)]). "?" answers what the assistant just asked."""

    def fill(text: str) -> str:
        return text.format(colour=rng.choice(COLOURS), price=rng.choice([30, 50, 80, 100, 150]))

    number, email = guest_order
    return [
        (True, [("search", fill(rng.choice(SEARCHES))), *[("refine", fill(r)) for r in rng.sample(REFINES, 3)],
                ("product", "is the first one in stock?"), ("product", "how much is it?"),
                ("add", "add it to my cart"), ("confirm", "?"), ("confirm", "?"), ("cart", "what's my total?")]),
        (True, [("search", fill(rng.choice(SEARCHES))), ("product", "tell me about the second one"),
                ("add", "add two of those"), ("confirm", "?"), ("confirm", "?"), ("cart", "show my cart")]),
        (True, [("points", "how many points do I have?"), ("points", "what are points worth?"),
                ("track", "where is my order?")]),
        (False, [("faq", q) for q in rng.sample(FAQ, 3)] + [("unknown", rng.choice(UNKNOWN))]),
        (False, [("track", "where is my order?"), ("track", number), ("track", email)]),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=10, help="seed_demo's scale when the var dir is empty (10)")
    parser.add_argument("--rounds", type=int, default=30, help="rounds of every script (default 30)")
    parser.add_argument("--var-dir", default=str(ROOT / "bench" / "results" / "var-assistant"))
    args = parser.parse_args()
    prepare(Path(args.var_dir), args.scale)

    from django.contrib.auth.models import AnonymousUser
    from django.core.cache import cache
    from django.db import connection

    from marketing.assistant import demo, dialogue, understanding, vocabulary
    from marketing.assistant.models import Conversation
    from shop.accounts.models import User
    from shop.cart.models import Cart
    from shop.catalog.models import Product, Variant
    from shop.orders.models import Order

    log(f"FAQ entries: {demo.faq_seed()}, synonyms: {demo.synonyms_seed()}")
    member = User.objects.get(email="shopper@example.com")
    guest = AnonymousUser()
    order = Order.objects.filter(user=None).order_by("-placed_at").first() or Order.objects.order_by("-placed_at")[0]
    store = {"products": Product.objects.active().count(), "variants": Variant.objects.count(),
             "orders": Order.objects.count(), "load": load_average()}  # fmt: skip
    log(f"{store['products']:,} active products, {store['variants']:,} variants, {store['orders']:,} orders")

    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    def reply(conversation, text, user):
        queries.clear()
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            answer = dialogue.respond(conversation, text, user=user)
            elapsed = (time.perf_counter() - started) * 1000
        return answer, elapsed, len(queries)

    # The first reply of a new process with nothing cached (imports included); then, the modules
    # loaded, the cold reply again: the cache emptied, so it builds the catalog's vocabulary and the
    # assistant's, as after a deploy or a catalog change.
    cache.clear()
    _first, first_ms, _sql = reply(Conversation.objects.create(), "red dress under 80", guest)
    cache.clear()
    vocabulary._latest.clear()
    cold, cold_ms, cold_sql = reply(Conversation.objects.create(), "red dress under 80", guest)
    started = time.perf_counter()
    vocabulary.build()
    build_ms = (time.perf_counter() - started) * 1000
    log(f"first reply of the process: {first_ms:.0f} ms; cold reply: {cold_ms:.0f} ms, {cold_sql} queries")

    rng = random.Random(17)
    times, sql, reads, intents = defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list)
    for n in range(args.rounds):
        for as_member, script in scripts(rng, (order.number, order.email)):
            user = member if as_member else guest
            Cart.objects.filter(user=member).delete()  # each round adds to an empty cart
            conversation = Conversation.objects.create(user=member if as_member else None)
            answer = None
            for kind, text in script:
                if text == "?":  # an option as offered, else a yes; nothing asked: nothing to send
                    conversation.refresh_from_db(fields=["context"])
                    pending = (conversation.context or {}).get("pending") or {}
                    if not pending:
                        continue
                    offered = pending.get("kind") != "add" and answer is not None and answer.quick_replies
                    text = answer.quick_replies[0] if offered else "yes"
                conversation.refresh_from_db(fields=["context"])
                context = dict(conversation.context or {})
                answer, elapsed, n_sql = reply(conversation, text, user)
                times[kind].append(elapsed)
                sql[kind].append(n_sql)
                intents[kind].append(answer.intent)
                started = time.perf_counter()
                understanding.understand(text, context)
                reads[kind].append((time.perf_counter() - started) * 1000)
        if (n + 1) % 10 == 0 or n + 1 == args.rounds:
            log(f"round {n + 1}/{args.rounds}")

    def row(name, values, counts, read):
        values, read = sorted(values), sorted(read)
        return {
            "kind": name, "replies": len(values), "p50": statistics.median(values), "p95": percentile(values, 95),
            "max": values[-1], "sql_mean": statistics.mean(counts), "sql_max": max(counts),
            "understand_p50": statistics.median(read), "understand_p95": percentile(read, 95),
        }  # fmt: skip

    rows = [row(k, times[k], sql[k], reads[k]) for k in KINDS if times[k]]
    everything = row(
        "all",
        [t for k in KINDS for t in times[k]],
        [q for k in KINDS for q in sql[k]],
        [t for k in KINDS for t in reads[k]],
    )
    print()
    print(f"Store: {store['products']:,} products, {store['variants']:,} variants; load average {store['load']}")
    print(f"First reply of a new process: {first_ms:.0f} ms (imports and empty caches). Cold reply (caches "
          f"emptied): {cold_ms:.0f} ms, {cold_sql} queries ({cold.intent}); the assistant's vocabulary built "
          f"alone: {build_ms:.0f} ms")  # fmt: skip
    print()
    print("kind | replies | p50 ms | p95 ms | max ms | SQL mean | SQL max | understand p50 ms | p95 ms")
    print("--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---:")
    for r in [*rows, everything]:
        times_ms = f"{r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f}"
        reading = f"{r['understand_p50']:.2f} | {r['understand_p95']:.2f}"
        print(f"{r['kind']} | {r['replies']} | {times_ms} | {r['sql_mean']:.1f} | {r['sql_max']} | {reading}")
    met = everything["p50"] < TARGET_P50_MS
    verdict = "PASS" if met else "FAIL"
    print(f"\nTarget: a reply under {TARGET_P50_MS:.0f} ms at p50: {everything['p50']:.1f} ms, {verdict}")
    odd = {k: sorted(set(v)) for k, v in intents.items()}
    print("Intents answered per kind: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in odd.items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"assistant-{time.strftime('%Y%m%d-%H%M%S')}.json"
    result = {"store": store, "first_ms": first_ms, "cold_ms": cold_ms, "cold_sql": cold_sql, "build_ms": build_ms,
              "rows": rows, "all": everything, "intents": odd, "target_p50_ms": TARGET_P50_MS, "met": met}  # fmt: skip
    path.write_text(json.dumps(result, indent=2))
    log(f"saved {path.relative_to(ROOT)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
