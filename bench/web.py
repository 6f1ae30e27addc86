"""Web benchmark: the storefront's busiest pages against the machine's ceiling.

    .venv/bin/python bench/web.py [--db sqlite|postgres] [--duration 10] [--connections 16]

One command: sets up a throwaway var dir under bench/results/, migrates, seeds
10,000 products (once per var dir), collects static files, starts gunicorn
(2 workers, DEBUG off) on a free loopback port, and runs `wrk` against a
trivial 24-item view from the product table (the ceiling) and each page. It
prints requests/s, p50 and p99 for each, the ratio of each page to the ceiling,
and the SQL queries one request to each page takes. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from statistics import median

from common import RESULTS, ROOT, Stack, log

WRK = shutil.which("wrk") or "/usr/bin/wrk"
TARGET = 0.5  # every page should reach at least half the ceiling's requests/s
PAGES = ("list", "product", "api")
SEED_SCALE = 50  # 10,000 products, 25,000 customers
SEED_PRODUCTS = 200 * SEED_SCALE
PG_PORT = 5440


class Bench(Stack):
    def __init__(self, args):
        self.args = args
        super().__init__(
            db=args.db,
            var_dir=Path(args.var_dir or RESULTS / f"var-{args.db}"),
            pg_port=PG_PORT,
            extra_env={"BENCH_VIEWS": "1"},
        )

    # -- database and static files ---------------------------------------

    def prepare(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log(f"var dir: {self.var_dir}")
        log("migrate")
        self.manage("migrate", "--noinput", "-v", "0")
        count = int(
            self.manage(
                "shell", "-c", "from shop.catalog.models import Product; print(Product.objects.count())", capture=True
            ).split()[-1]
        )
        if count >= SEED_PRODUCTS:
            log(f"already seeded ({count:,} products): skipping seed_demo")
        else:
            log(f"seed_demo --scale {SEED_SCALE} ({count:,} products so far)")
            started = time.monotonic()
            self.manage("seed_demo", "--scale", str(SEED_SCALE))
            log(f"seeded in {time.monotonic() - started:.0f}s")
        if self.args.db == "postgres":
            # A fresh bulk load has no statistics and no visibility map (so COUNT(*)
            # cannot use an index-only scan); autovacuum would fix both in production.
            log("VACUUM ANALYZE")
            self.psql("VACUUM ANALYZE")
        log("collectstatic")
        self.manage("collectstatic", "--noinput", "-v", "0")

    def facts(self) -> dict:
        """A product slug to fetch, and the SQL queries one anonymous request to each page takes."""
        script = r"""
import json
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from shop.catalog.models import Product
# A typical product: active, in stock, with reviews (the page shows them), fixed across runs.
products = Product.objects.active().order_by("id").only("slug")
product = products.filter(stock__gt=0, rating_count__gt=0).first() or products.first()
urls = {"ceiling": "/bench/ceiling/", "list": "/products/", "product": product.get_absolute_url(),
        "api": "/api/v1/products/"}
client = Client()
out = {"urls": urls, "queries": {}, "sql": {}}
for name, url in urls.items():
    client.get(url)  # warm: first-request work is not what we count
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    out["queries"][name] = len(ctx.captured_queries)
    out["sql"][name] = [q["sql"] for q in ctx.captured_queries]
print("FACTS" + json.dumps(out))
"""
        text = self.manage("shell", "-c", script, capture=True)
        line = next(line for line in text.splitlines() if line.startswith("FACTS"))
        return json.loads(line[len("FACTS") :])

    # -- measuring ---------------------------------------------------------

    @staticmethod
    def check(url: str) -> None:
        for _ in range(20):  # both workers load templates, open their connection
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status != 200:
                    sys.exit(f"{url} answered {response.status}")
                response.read()

    def wrk(self, url: str, duration: int) -> dict:
        cmd = [WRK, "-t2", f"-c{self.args.connections}", f"-d{duration}s", "--latency", "--timeout", "10s", url]
        done = subprocess.run(cmd, text=True, capture_output=True, timeout=duration + 60)
        if done.returncode:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        return parse_wrk(done.stdout)

    def run(self) -> list[dict]:
        """Interleaved rounds: each page is measured right after the ceiling, and the ratio of that
        pair is kept. On a shared 2-core machine the load drifts; adjacent pairs cancel most of it."""
        base = self.start_gunicorn(workers=2, log_path=RESULTS / f"gunicorn-{self.args.db}.log")
        facts = self.facts_cache
        url = {key: base + facts["urls"][key] for key in ("ceiling", *PAGES)}
        for key in ("ceiling", *PAGES):
            self.check(url[key])
            if self.args.warmup > 0:
                self.wrk(url[key], self.args.warmup)
        samples = {key: [] for key in ("ceiling", *PAGES)}
        ratios = {key: [] for key in PAGES}
        for number in range(1, self.args.rounds + 1):
            for key in PAGES:
                log(f"round {number}/{self.args.rounds}: ceiling, then {facts['urls'][key]}")
                ceiling, page = self.wrk(url["ceiling"], self.args.duration), self.wrk(url[key], self.args.duration)
                samples["ceiling"].append(ceiling)
                samples[key].append(page)
                ratios[key].append(page["rps"] / ceiling["rps"])
        rows = []
        for key in ("ceiling", *PAGES):
            runs = samples[key]
            rows.append(
                {
                    "label": key,
                    "key": key,
                    "path": facts["urls"][key],
                    "queries": facts["queries"][key],
                    "rps": median(r["rps"] for r in runs),
                    "p50_ms": median(r["p50_ms"] for r in runs),
                    "p99_ms": median(r["p99_ms"] for r in runs),
                    "non_2xx": sum(r["non_2xx"] for r in runs),
                    "socket_errors": " ".join(r["socket_errors"] for r in runs if r["socket_errors"]),
                    "ratio": 1.0 if key == "ceiling" else median(ratios[key]),
                    "ratios": [round(x, 3) for x in ratios.get(key, [])],
                    "ceiling_rps": [r["rps"] for r in runs],
                }
            )
        return rows


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def parse_wrk(output: str) -> dict:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (rps and p50 and p99):
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:(.*)", output)
    total = re.search(r"(\d+) requests in", output)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": to_ms(p50.group(1)),
        "p99_ms": to_ms(p99.group(1)),
        "requests": int(total.group(1)) if total else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def report(rows: list[dict], args) -> bool:
    print()
    print(
        f"Bazaar web benchmark: {args.db}, gunicorn 2 workers, DEBUG off, wrk -t2 -c{args.connections}, "
        f"{args.rounds} rounds of {args.duration}s per URL, {SEED_PRODUCTS:,} products"
    )
    header = f"{'page':<10} {'url':<44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'SQL':>4}  verdict"
    print(header)
    print("-" * len(header))
    all_pass = True
    for r in rows:
        if r["key"] == "ceiling":
            verdict = "(ceiling)"
        else:
            ok = r["ratio"] >= TARGET
            all_pass &= ok
            verdict = ("PASS" if ok else f"BELOW target ({TARGET})") + f"  rounds: {', '.join(map(str, r['ratios']))}"
        if r["non_2xx"] or r["socket_errors"]:
            verdict += f"  [non-2xx: {r['non_2xx']} {r['socket_errors']}]"
        path = r["path"] if len(r["path"]) <= 44 else r["path"][:41] + "..."
        print(
            f"{r['label']:<10} {path:<44} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['ratio']:>6.2f} {r['queries']:>4}  {verdict}"
        )
    print(
        "\nreq/s, p50 and p99 are medians over the rounds; ratio = the median of (page req/s / ceiling req/s "
        "measured just before it); SQL = queries for one anonymous request after a first one (Django test client)."
    )
    print("Result:", "every page reaches the target." if all_pass else f"some pages are below {TARGET} of the ceiling.")
    return all_pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per URL and round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured wrk before each URL (default 2)")
    parser.add_argument("--var-dir", help="throwaway var dir (default bench/results/var-<db>)")
    parser.add_argument("--show-sql", action="store_true", help="also print each page's SQL")
    args = parser.parse_args()
    if not Path(WRK).exists():
        sys.exit("wrk is not installed: apt-get install -y wrk")
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60 or not 1 <= args.connections <= 1000:
        sys.exit("--duration takes 1 to 600 seconds, --connections 1 to 1000")
    RESULTS.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    bench = Bench(args)
    try:
        if args.db == "postgres":
            bench.start_postgres()
        bench.prepare()
        bench.facts_cache = bench.facts()
        if args.show_sql:
            for name, queries in bench.facts_cache["sql"].items():
                print(f"\n{name}: {bench.facts_cache['urls'][name]}")
                for sql in queries:
                    print("   ", sql[:300])
        rows = bench.run()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.stop_gunicorn()
        bench.stop_postgres()
    ok = report(rows, args)
    out = RESULTS / f"web-{args.db}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    print(f"Saved: {out.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
