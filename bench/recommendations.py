"""Recommendations benchmark: the build at the store's scale, and shelves under load.

    .venv/bin/python bench/recommendations.py [--db sqlite|postgres]
                                              [--products 10000 --orders 100000 --events 1000000]
                                              [--small] [--skip-load] [--no-http]

One command: a throwaway var dir under bench/results/ (a new SQLite database, or with
--db postgres a private PostgreSQL on 127.0.0.1:5460 thrown away at the end), migrate, then
a store written straight through the ORM's connection, fast: --products products in a
category tree (10 departments of 5 aisles), 2.5 customers a product, --orders paid orders of
1 to 4 lines and --events product views and cart additions in visits. Customers have tastes
(two or three favourite aisles), so neighbours mean something. Then:

1. The build (marketing.recommendations.build.build) in a fresh process, so its peak memory is
   its own: rows read, seconds per phase (its progress lines, timed), total seconds, peak RSS.
2. Shelves in-process with a warm cache (for_product, trending, for_cart with 3 products):
   p50/p90/p99 over 2,000 calls each, in microseconds, and their SQL (none, when warm).
3. Shelves under load: gunicorn (2 sync workers, DEBUG off, DB_CONN_MAX_AGE=60) on a port of
   127.0.0.1:8260-8269, `wrk -t2 -c16 -d8s --latency` on the API shelves (a Lua script rotating
   through 200 products for the product shelves), trending and for_you (anonymous: empty); then
   the home page and a product page, cached, against the web benchmark's ceiling.

--small: 1,000 products, 10,000 orders, 100,000 events (about a minute). See bench/README.md.
The Django side of each step runs in a child process (`bench/recommendations.py step <name>`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from common import GUNICORN, PYTHON, RESULTS, ROOT, Stack, load_average, log, wait_for

WRK = shutil.which("wrk") or "/usr/bin/wrk"
PG_PORT = 5460
PORTS = range(8260, 8270)  # gunicorn's port: the first free one
WORKERS = 2
STEP_MARK = "STEP-RESULT"
DOMAIN = "recs.bench.test"
DEPARTMENTS, AISLES = 10, 5
CUSTOMERS_PER_PRODUCT = 2.5
HISTORY_DAYS = 365  # orders over the last year (RECOMMENDATIONS_HISTORY_DAYS is 365)
EVENT_DAYS = 90  # visits over the last quarter
SAMPLE = 200  # products the product shelves are measured on
CALLS = 2_000  # in-process calls per shelf
TARGET = {"build_s": 60.0, "shelf_p50_ms": 10.0, "page_ratio": 0.5}
SMALL = {"products": 1_000, "orders": 10_000, "events": 100_000}

# Rotates through the sample's shelves (each wrk thread has its own Lua state and counter).
WRK_ROTATE = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


# --- the outer process: stack, steps, report ----------------------------------------------------


class RecommendationsBench(Stack):
    def __init__(self, args):
        self.args = args
        super().__init__(
            db=args.db,
            var_dir=Path(args.var_dir or RESULTS / f"var-recommendations-{args.db}"),
            pg_port=PG_PORT,
            # The ceiling view; no event log writes under load; one cache key prefix for every version built.
            extra_env={"BENCH_VIEWS": "1", "ANALYTICS_RECORDING": "0", "RELEASE": "bench-recommendations"},
        )

    def prepare(self) -> None:
        if not self.args.skip_load:
            for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
                (self.var_dir / name).unlink(missing_ok=True)
            shutil.rmtree(self.var_dir / "cache", ignore_errors=True)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log(f"var dir: {self.var_dir}")
        log("migrate")
        self.manage("migrate", "--noinput", "-v", "0")
        log("collectstatic")  # DEBUG is off: the pages need the manifest
        self.manage("collectstatic", "--noinput", "-v", "0")

    def step(self, name: str, *, code: Path = ROOT, **params) -> dict:
        """Run one Django-side step in a child process (its progress on stderr, live); its JSON result.
        `code`: the store's code it imports (another checkout's, for the build of another version)."""
        done = subprocess.run(
            [str(PYTHON), str(Path(__file__).resolve()), "step", name, json.dumps(params)],
            cwd=code,
            env={**self.env, "BENCH_CODE": str(code)},
            check=True,
            text=True,
            stdout=subprocess.PIPE,
        )
        line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith(STEP_MARK))
        return json.loads(line[len(STEP_MARK) :])

    def start_server(self) -> str:
        """gunicorn on the first free port of PORTS; its base URL once /healthz answers."""
        port = next((p for p in PORTS if port_free(p)), None)
        if port is None:
            sys.exit(f"no free port in {PORTS.start}-{PORTS.stop - 1}")
        base = f"http://127.0.0.1:{port}"
        log_path = RESULTS / f"gunicorn-recommendations-{self.db}.log"
        log(f"starting gunicorn ({WORKERS} workers) on {base}")
        with open(log_path, "w") as gunicorn_log:
            self.gunicorn = subprocess.Popen(
                [str(GUNICORN), "config.wsgi", "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
                 "--log-level", "warning"],
                cwd=ROOT, env=self.env, stdout=gunicorn_log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_for(f"{base}/healthz", self.gunicorn, "gunicorn")
        deadline = time.monotonic() + 30
        while len(self.gunicorn_workers()) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.1)
        return base

    def load_test(self, facts: dict) -> list[dict]:
        base = self.start_server()
        script = RESULTS / "recommendations-rotate-{kind}.lua"
        targets = []
        for kind in ("bought_together", "viewed_together"):
            paths = [f"/api/v1/products/{slug}/recommendations/?kind={kind}" for slug in facts["slugs"]]
            path = Path(str(script).format(kind=kind))
            path.write_text(WRK_ROTATE % ", ".join(json.dumps(p) for p in paths))
            targets.append((f"API {kind}", paths[0], path, f"{len(paths)} products"))
        targets += [
            ("API trending", "/api/v1/recommendations/?kind=trending", None, ""),
            ("API for_you", "/api/v1/recommendations/?kind=for_you", None, "anonymous: empty"),
        ]
        rows = []
        for label, path, lua, note in targets:
            body = fetch(base + path)
            shown = len(json.loads(body)["results"])
            if lua is not None:  # every product of the rotation answers
                for rotated in re.findall(r'"(/api/[^"]+)"', lua.read_text()):
                    fetch(base + rotated)
            self.wrk(base + path, 1, lua)  # warm-up, unmeasured
            rows.append({"label": label, "path": path, "note": note, "shown": shown, **self.measured(base, path, lua)})
            log(f"{label}: p50 {rows[-1]['p50_ms']:.1f} ms, {rows[-1]['rps']:.0f} req/s")
            # One connection per worker: the shelf's own time, without the queue.
            alone = self.measured(base, path, lua, connections=WORKERS, duration=max(2, self.args.duration // 2))
            rows.append({"label": f"{label}, c{WORKERS}", "path": path, "note": note, "shown": shown, **alone})
        # Pages with shelves, cached, each right after the ceiling (the web benchmark's ratio).
        pages = [("ceiling", "/bench/ceiling/"), ("home", "/"), ("product", f"/product/{facts['page_slug']}/")]
        ceiling = None
        for label, path in pages:
            if label != "ceiling":
                ceiling = self.measured(base, "/bench/ceiling/", None)
            fetch(base + path)
            self.wrk(base + path, 1, None)
            row = {"label": label, "path": path, "note": "", "shown": None, **self.measured(base, path, None)}
            row["ratio"] = round(row["rps"] / ceiling["rps"], 2) if ceiling else 1.0
            rows.append(row)
            log(f"{label}: {row['rps']:.0f} req/s, ratio {row['ratio']:.2f}")
        self.stop_gunicorn()
        return rows

    def measured(self, base: str, path: str, lua: Path | None, *, connections: int = 16, duration: int = 0) -> dict:
        """One wrk run, with gunicorn's CPU per request over it (read from /proc once it is idle)."""
        cpu = self.gunicorn_cpu()
        result = self.wrk(base + path, duration or self.args.duration, lua, connections=connections)
        time.sleep(0.3)  # the requests in flight when wrk stopped
        result["cpu_ms"] = round((self.gunicorn_cpu() - cpu) * 1000 / max(1, result["requests"] + connections), 2)
        return result

    def wrk(self, url: str, duration: int, lua: Path | None, *, connections: int = 16) -> dict:
        cmd = [WRK, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s", url]
        if lua is not None:
            cmd[1:1] = ["-s", str(lua)]
        done = subprocess.run(cmd, text=True, capture_output=True, timeout=duration + 60)
        if done.returncode:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        return parse_wrk(done.stdout)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def fetch(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        if response.status != 200:
            sys.exit(f"{url} answered {response.status}")
        return response.read()


def to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> dict:
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+([\d.]+\w+)", output, re.M))
    requests = re.search(r"(\d+) requests in", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.+)", output)
    if not (latency and requests and rps):
        raise RuntimeError(f"unexpected wrk output: {output}")
    return {
        "requests": int(requests.group(1)),
        "rps": float(rps.group(1)),
        **{f"p{q}_ms": round(to_ms(latency[q]), 2) for q in ("50", "90", "99")},
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "ABOVE target"


def report_build(name: str, built: dict) -> bool:
    print(f"\n1. Build of {name} (fresh process; target under {TARGET['build_s']:.0f} s)")
    print(f"{'phase':<58} {'s':>7} {'RSS MiB':>8}")
    print("-" * 75)
    for phase in built["phases"]:
        print(f"{phase['label'][:58]:<58} {phase['seconds']:>7.1f} {phase['rss_mib']:>8.0f}")
    build_ok = built["status"] == "done" and built["seconds"] < TARGET["build_s"]
    print(
        f"{'total (Build.seconds)':<58} {built['seconds']:>7.1f}   {verdict(build_ok)}\n"
        f"rows read {built['interactions']:,}; {built['neighbour_rows']:,} neighbour lists "
        f"({built['products_with_neighbours']:,} products), {built['rankings']:,} rankings; peak RSS "
        f"{built['peak_rss_mib']:.0f} MiB (Build.peak_memory_mib {built['peak_memory_mib']}), of which Django and "
        f"the store before the build {built['rss_before_mib']:.0f} MiB"
    )
    return build_ok


def report(args, result: dict) -> bool:
    data, built, shelves = result["data"], result["build"], result["shelves"]
    ok = True
    print()
    print(
        f"Bazaar recommendations benchmark: {args.db}, {os.cpu_count()} cores; load average before/after: "
        f"{result['load_average'][0]} / {result['load_average'][1]}"
    )
    print(
        f"Store: {data['products']:,} products in {data['categories']} categories, {data['customers']:,} customers, "
        f"{data['orders']:,} paid orders with {data['lines']:,} lines, {data['events']:,} events "
        f"({data['visits']:,} visits)" + (f"; written in {data['seconds']:.0f} s" if data.get("seconds") else "")
    )
    for name, one in (("this checkout", built), (result.get("build_other", {}).get("code"), result.get("build_other"))):
        if one:
            ok &= report_build(name, one)
    print(f"\n2. Shelves in-process, warm cache ({CALLS:,} calls each; µs)")
    print(f"{'shelf':<30} {'p50':>7} {'p90':>7} {'p99':>7} {'SQL':>4} {'cache keys':>10} {'trips':>6} {'shown':>6}")
    print("-" * 84)
    for row in shelves["inprocess"]:
        print(
            f"{row['label']:<30} {row['p50_us']:>7.0f} {row['p90_us']:>7.0f} {row['p99_us']:>7.0f} "
            f"{row['queries']:>4} {row['cache_keys']:>10.0f} {row['cache_trips']:>6.1f} {row['shown']:>6.1f}"
        )
    print(
        "  SQL: statements over all the timed calls; cache keys and trips: what one call reads from the shared "
        "cache (a get_many is one trip; the folder cache opens a file per key)."
    )
    if result.get("http"):
        print(
            f"\n3. Under load: gunicorn {WORKERS} workers, DEBUG off, wrk -t2 -c16 -d{args.duration}s "
            f"(target p50 under {TARGET['shelf_p50_ms']:.0f} ms; pages: ratio to the ceiling at least "
            f"{TARGET['page_ratio']})"
        )
        header = (
            f"{'what':<22} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'CPU ms':>7} {'shown':>6}  verdict"
        )
        print(header)
        print("-" * len(header))
        for row in result["http"]:
            if row["label"].startswith("API"):
                good = row["p50_ms"] < TARGET["shelf_p50_ms"]
                judged = verdict(good)
            elif row["label"] == "ceiling":
                good, judged = True, "(ceiling)"
            else:
                good = row["ratio"] >= TARGET["page_ratio"]
                judged = f"ratio {row['ratio']:.2f} {'PASS' if good else 'BELOW target'}"
            bad = row["non_2xx"] or row["socket_errors"]
            good = good and not bad
            ok &= good
            shown = "" if row["shown"] is None else row["shown"]
            problems = f"  non-2xx {row['non_2xx']} {row['socket_errors']}" if bad else ""
            print(
                f"{row['label']:<22} {row['rps']:>7.0f} {row['p50_ms']:>7.1f} {row['p90_ms']:>7.1f} "
                f"{row['p99_ms']:>7.1f} {row['cpu_ms']:>7.2f} {shown:>6}  {judged}{problems}  {row['note']}"
            )
        print(
            f"  With 16 connections on {WORKERS} workers, p50 is mostly queueing (about 16 / req/s); the rows "
            f"'c{WORKERS}' are the same URLs with one connection per worker (no queue), for half the time. "
            "CPU ms: the workers' CPU per request."
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", action="store_true", help="1,000 products, 10,000 orders, 100,000 events")
    parser.add_argument("--skip-load", action="store_true", help="SQLite: keep the var dir's store from a last run")
    parser.add_argument("--no-http", action="store_true", help="skip gunicorn and wrk")
    parser.add_argument("--duration", type=int, default=8, help="seconds of wrk per URL (default 8)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--build-code", help="also time the build of another checkout of the store (e.g. an earlier commit), first"
    )
    parser.add_argument("--var-dir", help="throwaway var dir (default bench/results/var-recommendations-<db>)")
    args = parser.parse_args()
    if args.small:
        for key, value in SMALL.items():
            setattr(args, key, value)
    if args.skip_load and args.db == "postgres":
        sys.exit("--skip-load needs --db sqlite: the PostgreSQL database is new each run")
    if not args.no_http and not Path(WRK).exists():
        sys.exit("wrk is not installed: apt-get install -y wrk (or --no-http)")
    if args.products < DEPARTMENTS * AISLES or args.orders < 1 or args.events < 0:
        sys.exit(f"--products must be at least {DEPARTMENTS * AISLES}, --orders at least 1")
    RESULTS.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    bench = RecommendationsBench(args)
    result = {"args": vars(args), "load_average": [load_average(), None]}
    try:
        if args.db == "postgres":
            bench.start_postgres()
        bench.prepare()
        if args.skip_load:
            log("--skip-load: counting the store already there")
            result["data"] = bench.step("count")
        else:
            log(f"writing the store: {args.products:,} products, {args.orders:,} orders, {args.events:,} events")
            result["data"] = bench.step(
                "load", products=args.products, orders=args.orders, events=args.events, seed=args.seed
            )
        if args.db == "postgres":
            log("VACUUM ANALYZE")  # a fresh bulk load has no statistics; autovacuum would provide them
            bench.psql("VACUUM ANALYZE")
        if args.build_code:  # first, so that the shelves are measured on this checkout's tables
            log(f"the build of {args.build_code}, in a fresh process")
            result["build_other"] = {"code": args.build_code, **bench.step("build", code=Path(args.build_code))}
        log("the build, in a fresh process")
        result["build"] = bench.step("build")
        log(f"built in {result['build']['seconds']:.1f} s, peak RSS {result['build']['peak_rss_mib']:.0f} MiB")
        log(f"shelves in-process: {CALLS:,} calls each, warm cache")
        result["shelves"] = bench.step("shelves", seed=args.seed)
        if not args.no_http:
            result["http"] = bench.load_test(result["shelves"])
        result["load_average"][1] = load_average()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.stop_gunicorn()
        bench.stop_postgres()
    ok = report(args, result)
    out = RESULTS / f"recommendations-{args.db}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"Saved: {out.relative_to(ROOT)}")
    return 0 if ok else 1


# --- the Django side: one function per step, run in a child process -----------------------------


def django_setup() -> None:
    sys.path.insert(0, os.environ.get("BENCH_CODE", str(ROOT)))
    import django

    django.setup()


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}]   {message}", file=sys.stderr, flush=True)


def rss_mib() -> float:
    """This process's resident memory now (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Drawer:
    """Weighted draws by bisection over cumulative weights (random.choices re-sums them each call)."""

    def __init__(self, rng: random.Random, items: list, weights: list[float]):
        from itertools import accumulate

        self.rng, self.items, self.cumulative = rng, items, list(accumulate(weights))

    def __call__(self):
        from bisect import bisect

        return self.items[bisect(self.cumulative, self.rng.random() * self.cumulative[-1])]


class Store:
    """What the writer knows of the store it made: aisles, products by aisle, customers' tastes."""

    def __init__(self, rng: random.Random, aisles: list[int], by_aisle: dict[int, list[int]], customers: list[int]):
        self.rng = rng
        self.aisles = aisles
        # Within an aisle a few products sell most (Zipf-like), so best-sellers and long tails both exist.
        self.in_aisle = {
            a: Drawer(rng, ids, [1 / (r + 1) ** 0.9 for r in range(len(ids))]) for a, ids in by_aisle.items()
        }
        self.any_aisle = Drawer(rng, aisles, [len(by_aisle[a]) for a in aisles])
        self.customers = customers
        self.buyer = Drawer(rng, customers, [rng.paretovariate(1.4) for _ in customers])
        self.tastes: dict[int, list[int]] = {c: self.taste() for c in customers}

    def taste(self) -> list[int]:
        """Two or three favourite aisles, mostly in one department."""
        first = self.rng.choice(self.aisles)
        department = self.aisles.index(first) // AISLES
        near = self.aisles[department * AISLES : (department + 1) * AISLES]
        picks = [first, self.rng.choice(near)]
        if self.rng.random() < 0.5:
            picks.append(self.rng.choice(self.aisles))
        return picks

    def product(self, taste: list[int]) -> int:
        aisle = self.rng.choice(taste) if self.rng.random() < 0.85 else self.any_aisle()
        return self.in_aisle[aisle]()


def step_load(products: int, orders: int, events: int, seed: int) -> dict:
    started = time.monotonic()
    rng = random.Random(seed)
    store = write_catalog(rng, products)
    progress(
        f"{products:,} products and {len(store.customers):,} customers written ({time.monotonic() - started:.0f} s)"
    )
    lines = write_orders(store, orders)
    progress(f"{orders:,} orders with {lines:,} lines written ({time.monotonic() - started:.0f} s)")
    visits = write_events(store, events)
    progress(f"{events:,} events in {visits:,} visits written ({time.monotonic() - started:.0f} s)")
    return {**step_count(), "seconds": round(time.monotonic() - started, 1)}


def step_count() -> dict:
    from django.db.models import Count

    from marketing.analytics.models import Event
    from shop.accounts.models import User
    from shop.catalog.models import Category, Product
    from shop.orders.models import Order, OrderLine

    return {
        "products": Product.objects.count(),
        "categories": Category.objects.count(),
        "customers": User.objects.filter(email__endswith=f"@{DOMAIN}").count(),
        "orders": Order.objects.filter(paid_at__isnull=False).count(),
        "lines": OrderLine.objects.count(),
        "events": Event.objects.count(),
        "visits": Event.objects.aggregate(n=Count("visit", distinct=True))["n"],
    }


def write_catalog(rng: random.Random, n: int) -> Store:
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from shop.accounts.models import User
    from shop.catalog.models import Category, Product
    from shop.catalog.services import variants_create_defaults

    now = timezone.now()
    words = ["Linen", "Wool", "Oak", "Steel", "Silk", "Cotton", "Glass", "Leather", "Bamboo", "Copper"]
    things = ["Shirt", "Lamp", "Bowl", "Chair", "Scarf", "Mug", "Boot", "Pan", "Desk", "Towel", "Kettle", "Rug"]
    brands = [f"Maker {chr(65 + i)}" for i in range(40)]
    with transaction.atomic():
        aisles = []
        for d in range(DEPARTMENTS):
            department = Category(name=f"Department {d}", slug=f"rb-dept-{d}")
            department.save()
            for a in range(AISLES):
                aisle = Category(name=f"Aisle {d}.{a}", slug=f"rb-aisle-{d}-{a}", parent=department)
                aisle.save()
                aisles.append(aisle.pk)
        rows = []
        for i in range(n):
            aisle = aisles[i % len(aisles)]
            rows.append(
                Product(
                    sku=f"RB-{i:06d}", slug=f"rb-{i:06d}", name=f"{rng.choice(words)} {rng.choice(things)} {i}",
                    brand=rng.choice(brands), category_id=aisle, price=Decimal(rng.randint(300, 20000)) / 100,
                    stock=0 if rng.random() < 0.04 else rng.randint(5, 500), is_active=rng.random() > 0.02,
                    is_consumable=rng.random() < 0.05, created_at=now - dt_days(rng.random() * 700),
                )
            )  # fmt: skip
        Product.objects.bulk_create(rows, batch_size=2000)
        # Each its default variant, as Product.save() would make it (its stock is the product's).
        variants_create_defaults(product_ids=[p.pk for p in rows])
        users = [User(email=f"c{i:06d}@{DOMAIN}", password="!", first_name="Bench") for i in range(int(n * 2.5))]
        User.objects.bulk_create(users, batch_size=2000)
    by_aisle: dict[int, list[int]] = {a: [] for a in aisles}
    for pk, aisle in Product.objects.filter(sku__startswith="RB-").order_by("pk").values_list("pk", "category_id"):
        by_aisle[aisle].append(pk)
    for ids in by_aisle.values():
        rng.shuffle(ids)  # popularity rank, not id order
    customers = list(User.objects.filter(email__endswith=f"@{DOMAIN}").order_by("pk").values_list("pk", flat=True))
    return Store(rng, aisles, by_aisle, customers)


def dt_days(days: float):
    import datetime as dt

    return dt.timedelta(days=days)


def write_orders(store: Store, n: int, chunk: int = 10_000) -> int:
    """Paid orders of 1 to 4 lines over the last year, more of them lately, by customers with tastes
    (a tenth by guests, who buy anything)."""
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from shop.catalog.models import Product, Variant
    from shop.orders.models import Order, OrderLine

    rng, now = store.rng, timezone.now()
    prices = dict(Product.objects.filter(sku__startswith="RB-").values_list("pk", "price"))
    variants = dict(Variant.objects.filter(product__sku__startswith="RB-").values_list("product_id", "pk"))
    written = 0
    for start in range(0, n, chunk):
        orders, baskets = [], []
        for i in range(start, min(n, start + chunk)):
            guest = rng.random() < 0.1
            user = None if guest else store.buyer()
            taste = store.taste() if guest else store.tastes[user]
            basket = {}
            for _ in range(rng.choices((1, 2, 3, 4), (45, 30, 15, 10))[0]):
                basket[store.product(taste)] = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            subtotal = sum(prices[pk] * q for pk, q in basket.items())
            placed = now - dt_days(HISTORY_DAYS * rng.random() ** 1.3)
            orders.append(
                Order(
                    number=f"RB{i:09d}", user_id=user, email=f"guest{i}@{DOMAIN}" if guest else f"c{user}@{DOMAIN}",
                    status="delivered", currency="USD", subtotal=subtotal, total=subtotal, shipping_method="standard",
                    shipping_name="Bench", shipping_line1="1 Load St", shipping_city="Testville",
                    shipping_postal_code="12345", shipping_country="US", idempotency_scope="bench-recommendations",
                    idempotency_key=f"rb-{i}", placed_at=placed, paid_at=placed + dt_days(0.001),
                )
            )  # fmt: skip
            baskets.append(basket)
        with transaction.atomic():
            Order.objects.bulk_create(orders, batch_size=2000)
            lines = [
                OrderLine(order_id=order.pk, product_id=pk, variant_id=variants[pk], sku=f"RB-{pk}",
                          name="Bench product", unit_price=prices[pk], quantity=q, subtotal=prices[pk] * q,
                          discount=Decimal(0))
                for order, basket in zip(orders, baskets, strict=True)
                for pk, q in basket.items()
            ]  # fmt: skip
            OrderLine.objects.bulk_create(lines, batch_size=5000)
        written += len(lines)
        progress(f"orders: {min(n, start + chunk):,} of {n:,} ({written:,} lines)")
    return written


EVENT_COLUMNS = ["name", "at", "day", "visit", "customer_id", "product_id", "currency", "device", "source", "medium",
                 "campaign", "path", "data"]  # fmt: skip


def write_events(store: Store, n: int, chunk: int = 50_000) -> int:
    """Visits of 1 to about 12 product views, some followed by an add to cart, over the last EVENT_DAYS:
    a third by customers (half of them named, as with consent), the rest anonymous visitors with tastes
    of their own. Raw INSERTs through the ORM's connection (COPY on PostgreSQL), values prepared as the
    ORM prepares them."""
    from django.db import connection, transaction
    from django.utils import timezone

    from marketing.analytics.models import Event
    from marketing.analytics.recorder import store_day

    rng, now = store.rng, timezone.now()
    quote = connection.ops.quote_name
    table, columns = quote(Event._meta.db_table), [Event._meta.get_field(c).column for c in EVENT_COLUMNS]
    postgres = connection.vendor == "postgresql"
    if postgres:
        prepare = (lambda v: v, lambda v: v, lambda v: v, "{}")
    else:
        ops, visit_field = connection.ops, Event._meta.get_field("visit")
        prepare = (
            ops.adapt_datetimefield_value,
            ops.adapt_datefield_value,
            lambda v: visit_field.get_db_prep_save(v, connection),
            Event._meta.get_field("data").get_db_prep_save({}, connection),
        )
    at_of, day_of, visit_of, data = prepare
    insert = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (the model's own table and columns, quoted)
        table, ", ".join(quote(c) for c in columns), ", ".join(["%s"] * len(columns))
    )
    rows, written, visits = [], 0, 0

    def flush():
        nonlocal rows, written
        with transaction.atomic():
            if postgres:
                with (
                    connection.cursor() as cursor,
                    cursor.cursor.copy(f"COPY {table} ({', '.join(quote(c) for c in columns)}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
            else:
                with connection.cursor() as cursor:
                    cursor.executemany(insert, rows)
        written += len(rows)
        rows = []
        progress(f"events: {written:,} of {n:,}")

    while written + len(rows) < n:
        visits += 1
        customer = store.buyer() if rng.random() < 1 / 3 else None
        taste = store.tastes[customer] if customer else store.taste()
        named = customer if customer and rng.random() < 0.5 else None
        visit, device = uuid.UUID(int=rng.getrandbits(128)), rng.choice(("mobile", "desktop", "tablet"))
        at = now - dt_days(EVENT_DAYS * rng.random())
        for _ in range(min(12, 1 + int(rng.expovariate(1 / 4)))):
            product = store.product(taste)
            names = ["view_item", "add_to_cart"] if rng.random() < 0.15 else ["view_item"]
            for name in names:
                path = f"/product/rb-{product}/"
                rows.append([name, at_of(at), day_of(store_day(at)), visit_of(visit), named, product, "", device,
                             "direct", "none", "", path, data])  # fmt: skip
                at += dt_days(rng.randint(15, 140) / 86400)
        if len(rows) >= chunk:
            flush()
    rows = rows[: n - written]
    flush()
    return visits


def step_build() -> dict:
    """The build as the scheduled job runs it, its progress lines timed, with this process's memory."""
    from marketing.recommendations import build
    from marketing.recommendations.models import Neighbours, Ranking

    rss_before = rss_mib()
    phases, started = [], time.monotonic()
    last = [started]

    def timed(message: str) -> None:
        now = time.monotonic()
        phases.append({"label": message, "seconds": round(now - last[0], 2), "rss_mib": round(rss_mib(), 1)})
        last[0] = now
        progress(f"build [{now - started:6.1f} s, RSS {rss_mib():.0f} MiB] {message}")

    record = build.build(progress=timed)
    phases.append({"label": "the rest (the Build row)", "seconds": round(time.monotonic() - last[0], 2),
                   "rss_mib": round(rss_mib(), 1)})  # fmt: skip
    return {
        "status": record.status,
        "seconds": float(record.seconds),
        "wall_seconds": round(time.monotonic() - started, 2),
        "interactions": record.interactions,
        "products_with_neighbours": record.products,
        "peak_memory_mib": float(record.peak_memory_mib),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_before_mib": round(rss_before, 1),
        "phases": phases,
        "neighbour_rows": Neighbours.objects.count(),
        "rankings": Ranking.objects.count(),
    }


class CacheReads:
    """Counts what a block reads from the shared cache: keys, and round trips (a get_many is one,
    whatever its keys; Django's file cache still opens one file per key)."""

    def __init__(self):
        from django.core.cache import cache

        self.backend = type(cache._connections[cache._alias])
        self.keys = self.trips = 0
        self.inside = False

    def __enter__(self):
        get, get_many = self.backend.get, self.backend.get_many
        self.saved = (get, get_many)

        def counted_get(backend, key, *args, **kwargs):
            if not self.inside:
                self.keys += 1
                self.trips += 1
            return get(backend, key, *args, **kwargs)

        def counted_get_many(backend, keys, *args, **kwargs):
            keys = list(keys)
            self.keys += len(keys)
            self.trips += 1
            self.inside = True
            try:
                return get_many(backend, keys, *args, **kwargs)
            finally:
                self.inside = False

        self.backend.get, self.backend.get_many = counted_get, counted_get_many
        return self

    def __exit__(self, *exc):
        self.backend.get, self.backend.get_many = self.saved


class Queries:
    """Counts the statements sent (connection.execute_wrapper)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def step_shelves(seed: int) -> dict:
    """The sample of products (spread over the catalog), and each shelf in-process with a warm cache."""
    from django.db import connection

    from marketing.recommendations import shelves
    from marketing.recommendations.models import Neighbours, Shelf
    from shop.catalog.models import Product

    rng = random.Random(seed)
    active = list(Product.objects.active().in_stock().order_by("pk").values_list("pk", "slug"))
    step = max(1, len(active) // SAMPLE)
    sample = active[::step][:SAMPLE]
    ids = [pk for pk, _slug in sample]
    with_neighbours = dict(
        Neighbours.objects.filter(product_id__in=ids, table="bought").values_list("product_id", "table")
    )
    page = next((pk, slug) for pk, slug in sample if pk in with_neighbours)
    table_reasons = {"bought_with", "viewed_with", "goes_with", "because_carted"}
    calls = {
        "for_product bought_together": lambda i: shelves.for_product(Shelf.BOUGHT_TOGETHER, ids[i % len(ids)]),
        "for_product viewed_together": lambda i: shelves.for_product(Shelf.VIEWED_TOGETHER, ids[i % len(ids)]),
        "trending": lambda i: shelves.trending(),
        "for_cart, 3 products": lambda i: shelves.for_cart([ids[(i * 3 + k) % len(ids)] for k in range(3)]),
    }
    rows = []
    for label, call in calls.items():
        for i in range(len(ids)):  # warm: every product's rows and facts in the cache
            call(i)
        times, shown, from_tables, queries = [], 0, 0, Queries()
        with connection.execute_wrapper(queries):
            for i in range(CALLS):
                tick = time.perf_counter_ns()
                result = call(i)
                times.append((time.perf_counter_ns() - tick) / 1000)
                shown += len(result.picks)
                from_tables += sum(1 for pick in result.picks if pick.reason in table_reasons | {"trending"})
        with CacheReads() as reads:  # apart from the timed calls: counting costs a little
            for i in range(len(ids)):
                call(i)
        times.sort()

        def at(q, times=times):
            return round(times[min(len(times), max(1, math.ceil(q / 100 * len(times)))) - 1], 1)

        rows.append({"label": label, "p50_us": at(50), "p90_us": at(90), "p99_us": at(99), "queries": queries.count,
                     "cache_keys": reads.keys / len(ids), "cache_trips": reads.trips / len(ids),
                     "shown": shown / CALLS, "from_tables": from_tables / max(1, shown)})  # fmt: skip
        progress(f"{label}: p50 {at(50):.0f} µs, {queries.count} queries in {CALLS:,} calls")
    rng.shuffle(sample)
    return {
        "slugs": [slug for _pk, slug in sample],
        "sample_with_bought_neighbours": len(with_neighbours),
        "page_slug": page[1],
        "inprocess": rows,
    }


STEPS = {"load": step_load, "count": step_count, "build": step_build, "shelves": step_shelves}


def run_step(name: str, params: str) -> None:
    django_setup()
    result = STEPS[name](**json.loads(params))
    print(STEP_MARK + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "step":
        run_step(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main())
