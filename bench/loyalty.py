"""Loyalty benchmark: the account pages, checkout with points, and the expiry job at scale.

    .venv/bin/python bench/loyalty.py [--db sqlite|postgres] [--members 10000] [--entries 100000]

One command: sets up a throwaway var dir under bench/results/ (and, with
--db postgres, a private PostgreSQL on a free loopback port), migrates, seeds a
small demo store, then writes a loyalty ledger straight through the models:
members with a long history (orders, redemptions, expiries) for the pages and
the checkout, and --members members holding --entries ledger entries whose lots
expire over the coming months (a quarter of them already due). It prints:

1. /account/ and /account/points/: SQL queries per request (Django's test
   client) and p50/p95/p99 latency (gunicorn, 2 workers, DEBUG off, wrk).
2. Checkout: loyalty.services.cart_points_set and shop.orders.checkout.checkout_place
   in-process, with and without points on the cart: SQL per checkout and p50/p95.
3. loyalty.services.points_expire over the whole ledger, twice (the second run
   must write nothing), and services.expiry_notices_queue, twice: wall time,
   SQL, rows written and the process's peak memory. Then the same on a copy of
   the database with batched prototypes of both jobs (defined below, for the
   comparison only), checking that they write the same rows as the services.

See bench/README.md. The Django side of each step runs in a child process
(`bench/loyalty.py step <name>`), with the throwaway var dir's environment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from common import PYTHON, RESULTS, ROOT, Stack, free_port, log

WRK = shutil.which("wrk") or "/usr/bin/wrk"
SEED_SCALE = 1  # the demo store: 200 products, 500 customers (seconds)
DOMAIN = "loyalty.bench.test"
# Who looks at the pages: a customer who never joined (the pages without loyalty's share), a new
# member, and one with a long history (--history entries).
PAGE_MEMBERS = ("none", "short", "long")
BUYER = f"buyer@{DOMAIN}"
# Lots live 365 days: over a 580-day history, with the bulk members' redemptions (oldest lots first),
# about a quarter of the lots are past their date with points left, some partly used.
HISTORY_DAYS = 580
BULK_REDEEM = (0.15, 0.2, 0.6)
EXPIRY_DAYS, PENDING_DAYS = 365, 14
REDEEM_POINTS = 1000  # on each checkout with points (10.00 at 100 points per unit)
ADDRESS = {"name": "Bench Buyer", "line1": "1 Load St", "city": "Testville", "postal_code": "12345", "country": "US"}
STEP_MARK = "STEP-RESULT"
# Expiry runs on copies of the database, for comparison with the services as they are.
VARIANTS = {"batched": "prototypes of both jobs in batches of 500 accounts"}

# wrk prints its own percentiles without p95; this prints the ones we report, in ms.
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("LATENCY %d %d %.3f %.3f %.3f %.3f\\n", summary.requests, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


# --- the outer process: stack, steps, report ----------------------------------------------------


class LoyaltyBench(Stack):
    def __init__(self, args):
        self.args = args
        super().__init__(
            db=args.db,
            var_dir=Path(args.var_dir or RESULTS / f"var-loyalty-{args.db}"),
            pg_port=free_port() if args.db == "postgres" else 0,
            extra_env={"BENCH_VIEWS": "1"},  # the ceiling view (bench/web.py), the reference row
        )

    def prepare(self) -> None:
        if self.db == "sqlite":  # a new database each run: the expiry job must find the same backlog
            for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
                (self.var_dir / name).unlink(missing_ok=True)
        shutil.rmtree(self.var_dir / "celery", ignore_errors=True)  # reminders queued by the last run
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log(f"var dir: {self.var_dir}")
        log("migrate")
        self.manage("migrate", "--noinput", "-v", "0")
        log(f"seed_demo --scale {SEED_SCALE}, without loyalty's seeder (the ledger is this bench's own)")
        self.step("store")

    def step(self, name: str, env: dict | None = None, **params) -> dict:
        """Run one Django-side step in a child process; its JSON result."""
        done = subprocess.run(
            [str(PYTHON), str(Path(__file__).resolve()), "step", name, json.dumps(params)],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            check=True,
            text=True,
            stdout=subprocess.PIPE,
        )
        line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith(STEP_MARK))
        return json.loads(line[len(STEP_MARK) :])

    def database_copy(self, name: str) -> dict[str, str]:
        """A copy of the database as it is now, for a variant's run; the environment that points at it."""
        if self.db == "postgres":
            self.psql(
                "SET client_min_messages TO warning",
                f"DROP DATABASE IF EXISTS shop_{name}",
                f"CREATE DATABASE shop_{name} TEMPLATE shop OWNER shop",
                database="postgres",
            )
            return {"DATABASE_URL": self.env["DATABASE_URL"].rsplit("/", 1)[0] + f"/shop_{name}"}
        import sqlite3

        var_dir = self.var_dir.with_name(f"{self.var_dir.name}-{name}")
        shutil.rmtree(var_dir, ignore_errors=True)
        var_dir.mkdir(parents=True)
        source, target = sqlite3.connect(self.var_dir / "db.sqlite3"), sqlite3.connect(var_dir / "db.sqlite3")
        with target:
            source.backup(target)
        source.close()
        target.close()
        return {"BAZAAR_VAR_DIR": str(var_dir)}

    def latency(self, facts: dict) -> list[dict]:
        """wrk against each page with each member's session cookie, rounds interleaved."""
        base = self.start_gunicorn(workers=2, log_path=RESULTS / f"gunicorn-loyalty-{self.db}.log")
        script = RESULTS / "loyalty-wrk.lua"
        script.write_text(WRK_SCRIPT)
        targets = [("ceiling", "/bench/ceiling/", "")]
        targets += [(member, path, facts["cookies"][member]) for path in facts["paths"] for member in facts["cookies"]]
        host, port = base.removeprefix("http://").split(":")
        for _member, path, cookie in targets:
            status = get_status(host, int(port), path, cookie)
            if status != 200:
                sys.exit(f"{path} answered {status} with the bench member's session")
            if self.args.warmup:
                self.wrk(base + path, cookie, script, self.args.warmup)
        samples: dict[tuple, list[dict]] = {(m, p): [] for m, p, _c in targets}
        for number in range(1, self.args.rounds + 1):
            log(f"latency round {number}/{self.args.rounds}: {len(targets)} URLs x {self.args.duration}s")
            for member, path, cookie in targets:
                samples[(member, path)].append(self.wrk(base + path, cookie, script, self.args.duration))
        self.stop_gunicorn()
        rows = []
        for (member, path), runs in samples.items():
            rows.append(
                {
                    "path": path,
                    "member": member,
                    "queries": facts["queries"].get(f"{member} {path}", facts["queries"].get(path)),
                    "requests": sum(r["requests"] for r in runs),
                    "non_2xx": sum(r["non_2xx"] for r in runs),
                    "rps": round(median(r["rps"] for r in runs), 1),
                    **{k: round(median(r[k] for r in runs), 2) for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")},
                }
            )
        return rows

    def wrk(self, url: str, cookie: str, script: Path, duration: int) -> dict:
        conns = self.args.connections
        cmd = [WRK, "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "-s", str(script), url]
        if cookie:
            cmd[1:1] = ["-H", f"Cookie: {cookie}"]
        done = subprocess.run(cmd, text=True, capture_output=True, timeout=duration + 60)
        found = re.search(r"^LATENCY (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)", done.stdout, re.M)
        if done.returncode or not found:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        requests, non_2xx, p50, p95, p99, mean = found.groups()
        return {
            "requests": int(requests),
            "non_2xx": int(non_2xx),
            "rps": int(requests) / duration,
            "p50_ms": float(p50),
            "p95_ms": float(p95),
            "p99_ms": float(p99),
            "mean_ms": float(mean),
        }


def get_status(host: str, port: int, path: str, cookie: str) -> int:
    """One GET without following redirects (a lost session must not pass for the login page)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def machine() -> str:
    cpu = "?"
    try:
        names = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = f"{names[0].strip()}" if names else "?"
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu})"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def report(args, result: dict) -> None:
    seed, facts, pages, checkout, expiry = (result[k] for k in ("seed", "facts", "pages", "checkout", "expiry"))
    print()
    print(
        f"Bazaar loyalty benchmark: {args.db}, {result['machine']}; load average before/after: "
        f"{result['load_average'][0]} / {result['load_average'][1]}"
    )
    print(
        f"Ledger: {seed['entries']:,} entries and {seed['lot_uses']:,} lot uses, {seed['accounts']:,} members "
        f"(bulk: {seed['bulk_members']:,} members, {seed['bulk_entries']:,} entries); "
        f"page members: {', '.join(f'{k} {v}' for k, v in seed['page_members'].items())} entries"
    )

    if pages:
        print(
            f"\n1. Account pages: gunicorn 2 workers, DEBUG off, wrk -c{args.connections}, "
            f"{args.rounds} rounds x {args.duration}s per URL (medians)"
        )
        header = (
            f"{'page':<18} {'member':<12} {'SQL':>4} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
            f" {'requests':>9}"
        )
        print(header)
        print("-" * len(header))
        for r in pages:
            member = "-" if r["member"] == "ceiling" else f"{r['member']} ({seed['page_members'].get(r['member'])})"
            flag = f"  non-2xx: {r['non_2xx']}" if r["non_2xx"] else ""
            print(
                f"{r['path']:<18} {member:<12} {r['queries'] if r['queries'] is not None else '':>4} {r['rps']:>7.1f} "
                f"{r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['requests']:>9}{flag}"
            )
        for note in facts["notes"]:
            print(f"  note: {note}")

    print(
        f"\n2. Checkout (in-process, checkout_place, 2 lines, member with {seed['page_members']['buyer']} entries, "
        f"{checkout['n']} of each, interleaved)"
    )
    header = f"{'phase':<36} {'SQL':>4} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    print(header)
    print("-" * len(header))
    for key, label in (
        ("plain", "checkout_place, no points"),
        ("points", f"checkout_place, {REDEEM_POINTS:,} points"),
        ("set", "cart_points_set (before it)"),
    ):
        r = checkout[key]
        print(f"{label:<36} {r['queries']:>4} {r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['max_ms']:>7.2f}")
    print(
        f"  lots held by the buyer at the end: {checkout['lots_at_end']}, ledger entries {checkout['entries_at_end']}"
    )

    b = expiry["before"]
    print(
        f"\n3. Expiry: {b['due_lots']:,} lots past their date ({b['due_share']:.0%} of the lots; "
        f"{b['partly_used_due_lots']:,} of them partly used) in {b['due_accounts']:,} accounts, "
        f"{b['due_points']:,} points; {b['coming_lots']:,} lots in {b['coming_accounts']:,} accounts expire within "
        f"the reminder period.\n   services.due_accounts() returns {b['due_accounts_ids']:,} ids "
        f"in {b['due_accounts_query_s']:.2f}s."
    )
    header = (
        f"{'run':<36} {'seconds':>8} {'SQL':>8} {'written':>8} {'lot uses':>9} {'ms/acct':>8} {'peak RSS MB':>12}"
        f" {'enqueue s':>10}"
    )
    print(header)
    print("-" * len(header))
    variants = [result["expiry"], *result.get("variants", [])]
    for variant in variants:
        for r in variant["runs"]:
            print(
                f"{r['label']:<36} {r['seconds']:>8.2f} {r['queries']:>8,} {r['written']:>8,} {r['lot_uses']:>9,} "
                f"{r['ms_per_account']:>8.2f} {r['peak_rss_mb']:>12.0f} {r['enqueue_seconds']:>10.2f}"
            )
    for variant in variants:
        failed = [k for k, v in variant["checks"].items() if not v]
        print(f"  checks ({variant['variant']}): {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
        if variant is not expiry:
            same = {k: v == expiry["digest"][k] for k, v in variant["digest"].items()}
            print(f"    same rows as the services: {', '.join(f'{k}: {v}' for k, v in same.items())}")
    for variant in variants:
        for label, counts in variant["sql_by_kind"].items():
            print(f"  SQL of {label}: {', '.join(f'{k} {v:,}' for k, v in counts.items())}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--members", type=int, default=10_000, help="members holding the bulk ledger (10,000)")
    parser.add_argument("--entries", type=int, default=100_000, help="ledger entries among them (100,000)")
    parser.add_argument("--history", type=int, default=500, help="ledger entries of the page and checkout members")
    parser.add_argument("--checkouts", type=int, default=100, help="checkouts with and without points (100 each)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per URL and round (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved wrk rounds (default 3)")
    parser.add_argument("--connections", type=int, default=1, help="wrk connections (default 1: no queueing)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured wrk per URL (default 1)")
    parser.add_argument("--no-pages", action="store_true", help="skip the page latency (gunicorn, wrk)")
    parser.add_argument(
        "--no-variants", action="store_true", help="skip the expiry run with the batched prototypes (on a copy)"
    )
    parser.add_argument("--var-dir", help="throwaway var dir (default bench/results/var-loyalty-<db>)")
    parser.add_argument("--show-sql", action="store_true", help="print the SQL of each page and of one checkout")
    args = parser.parse_args()
    if not args.no_pages and not Path(WRK).exists():
        sys.exit("wrk is not installed: apt-get install -y wrk (or --no-pages)")
    if args.members < 1 or args.entries < args.members or args.history < 10 or args.checkouts < 1:
        sys.exit("--entries must be at least --members; --history at least 10; --checkouts at least 1")
    RESULTS.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    bench = LoyaltyBench(args)
    result = {"args": vars(args), "machine": machine(), "load_average": [load_average(), None]}
    try:
        if args.db == "postgres":
            bench.start_postgres()
        bench.prepare()
        log(f"seeding the ledger: {args.members:,} members, {args.entries:,} entries, page members")
        started = time.monotonic()
        result["seed"] = bench.step("seed", members=args.members, entries=args.entries, history=args.history)
        log(f"seeded in {time.monotonic() - started:.0f}s")
        if args.db == "postgres":
            log("VACUUM ANALYZE")  # a fresh bulk load has no statistics; autovacuum would provide them
            bench.psql("VACUUM ANALYZE")
        log("collectstatic")  # DEBUG is off: pages need the manifest, for the SQL counts too
        bench.manage("collectstatic", "--noinput", "-v", "0")
        log("counting the SQL of each page (Django test client)")
        result["facts"] = bench.step("facts")
        if args.show_sql:
            for name, queries in result["facts"]["sql"].items():
                print(f"\n{name}: {len(queries)} queries")
                for i, sql in enumerate(queries, 1):
                    print(f"  {i:>2}. {sql[:300]}")
        result["pages"] = [] if args.no_pages else bench.latency(result["facts"])
        log(f"checkout: {args.checkouts} with points, {args.checkouts} without")
        result["checkout"] = bench.step("checkout", n=args.checkouts, show_sql=args.show_sql)
        if args.show_sql:
            for name, queries in result["checkout"]["sql"].items():
                print(f"\ncheckout {name}: {len(queries)} queries")
                for i, sql in enumerate(queries, 1):
                    print(f"  {i:>2}. {sql[:300]}")
        now = dt.datetime.now(dt.UTC).isoformat()  # one `now` for every run: the same backlog
        copies = {} if args.no_variants else {name: bench.database_copy(name) for name in VARIANTS}
        log("expiry: points_expire twice, expiry_notices_queue twice")
        result["expiry"] = bench.step("expiry", now=now)
        result["variants"] = []
        for name, env in copies.items():
            log(f"expiry again on a copy of the database: {VARIANTS[name]}")
            result["variants"].append(bench.step("expiry", env=env, now=now, variant=name))
        result["load_average"][1] = load_average()
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.stop_gunicorn()
        bench.stop_postgres()
    report(args, result)
    out = RESULTS / f"loyalty-{args.db}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"Saved: {out.relative_to(ROOT)}")
    checks = [ok for variant in [result["expiry"], *result["variants"]] for ok in variant["checks"].values()]
    return 0 if all(checks) else 1


# --- the Django side: one function per step, run in a child process -----------------------------


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


class Queries:
    """Counts the statements a block sends (connection.execute_wrapper: cheap enough to leave on while
    timing, unlike CaptureQueriesContext), by verb, and keeps their SQL when asked."""

    def __init__(self, keep: bool = False):
        self.count = 0
        self.kinds: Counter = Counter()
        self.keep = keep
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        self.kinds[sql.lstrip().split(None, 1)[0].upper()] += 1
        if self.keep:
            self.sql.append(sql)
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(q):  # nearest rank
        return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]

    return {"p50_ms": round(at(50), 2), "p95_ms": round(at(95), 2), "max_ms": round(ordered[-1], 2)}


# -- seeding ----------------------------------------------------------------------------------------


@dataclass
class Row:
    """One ledger entry to write: `uses` and `order` point into the same member's history."""

    at: dt.datetime
    kind: str
    reason: str
    points: int
    available_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    uses: list[tuple[int, int]] = field(default_factory=list)
    order: int | None = None
    reference: str = ""
    data: dict = field(default_factory=dict)


def simulate(
    rng: random.Random, count: int, *, now, expire: bool, earn=(50, 800), orders=False, redeem=(0.3, 0.2, 1.0)
) -> list[Row]:
    """A member's history as the services would have written it: a sign-up reward, then purchases that
    earn points (pending for 14 days, expiring after 365) and sometimes redeem some first, oldest expiry
    first. With expire, the hourly job ran too (lots past their date written off as they fall due);
    without, nothing has been expired yet: the backlog the expiry benchmark clears. redeem: the chance
    that a purchase spends points (when 500 are spendable), and the share of them it spends (low, high)."""
    start = now - dt.timedelta(days=HISTORY_DAYS)
    span = (now - dt.timedelta(hours=1) - start).total_seconds()
    times = sorted(start + dt.timedelta(seconds=rng.random() * span) for _ in range(count))
    rows: list[Row] = []
    left: dict[int, int] = {}  # lot index -> points left
    purchase = 0

    def lot(at, points, reason, pending, **extra):
        available = at + dt.timedelta(days=PENDING_DAYS) if pending else at
        rows.append(Row(at, "earn", reason, points, available, at + dt.timedelta(days=EXPIRY_DAYS), **extra))
        left[len(rows) - 1] = points

    def debit(at, kind, reason, indexes, points, **extra):
        uses, wanted = [], points
        for i in indexes:
            n = min(left[i], wanted)
            if n:
                uses.append((i, n))
                left[i] -= n
                wanted -= n
        rows.append(Row(at, kind, reason, -points, uses=uses, **extra))

    lot(times[0], 100, "signup", False, reference="signup")
    for at in times[1:]:
        if len(rows) >= count:
            break
        if expire:
            due = [i for i, n in left.items() if n and rows[i].expires_at <= at]
            if due:
                debit(at, "expire", "expiry", due, sum(left[i] for i in due), data={"lots": len(due)})
                if len(rows) >= count:
                    break
        spendable = sorted(
            (i for i, n in left.items() if n and rows[i].available_at <= at < rows[i].expires_at),
            key=lambda i: (rows[i].expires_at, i),
        )
        have = sum(left[i] for i in spendable)
        purchase += 1
        if have >= 500 and rng.random() < redeem[0]:
            points = max(500, int(have * rng.uniform(*redeem[1:])) // 100 * 100)
            debit(at, "redeem", "order", spendable, points, order=purchase if orders else None)
            if len(rows) >= count:
                break
        lot(at, rng.randint(*earn), "order", True, order=purchase if orders else None, data={"tier": ""})
    return rows


def write_members(specs: list[tuple[str, list[Row]]]) -> tuple[int, int]:
    """Users, accounts, orders (for histories that have them), entries and lot uses, in bulk."""
    from loyalty.models import Account, LedgerEntry, LotUse
    from shop.accounts.models import User
    from shop.orders.models import Order

    users = User.objects.bulk_create([User(email=email, password="!", first_name="Bench") for email, _r in specs])
    balances = [sum(r.points for r in rows) for _e, rows in specs]
    Account.objects.bulk_create([Account(user=u, balance=b) for u, b in zip(users, balances, strict=True)])
    orders: dict[tuple[int, int], Order] = {}
    for user, (_email, rows) in zip(users, specs, strict=True):
        for row in rows:
            if row.order is not None and (user.pk, row.order) not in orders and row.kind == "earn":
                total = round(row.points / 5, 2)
                orders[(user.pk, row.order)] = Order(
                    user=user, email=user.email, status="delivered", currency="USD", subtotal=total, total=total,
                    shipping_method="standard", shipping_name="Bench", shipping_line1="1 Load St",
                    shipping_city="Testville", shipping_postal_code="12345", shipping_country="US",
                    idempotency_scope="bench-loyalty", idempotency_key=f"{user.pk}-{row.order}",
                    placed_at=row.at, paid_at=row.at,
                )  # fmt: skip
    Order.objects.bulk_create(orders.values(), batch_size=2000)
    entries, written = [], []
    for user, (_email, rows) in zip(users, specs, strict=True):
        balance = 0
        for row in rows:
            balance += row.points
            order = orders.get((user.pk, row.order)) if row.order is not None else None
            entries.append(
                LedgerEntry(
                    account_id=user.pk, kind=row.kind, reason=row.reason, points=row.points, balance_after=balance,
                    order=order, reference=row.reference, available_at=row.available_at, expires_at=row.expires_at,
                    data=row.data, created_at=row.at,
                )
            )  # fmt: skip
        written.append(len(rows))
    LedgerEntry.objects.bulk_create(entries, batch_size=2000)
    uses, offset = [], 0
    for (_email, rows), n in zip(specs, written, strict=True):
        for k, row in enumerate(rows):
            uses += [
                LotUse(entry_id=entries[offset + k].pk, lot_id=entries[offset + i].pk, points=p) for i, p in row.uses
            ]
        offset += n
    LotUse.objects.bulk_create(uses, batch_size=5000)
    return len(entries), len(uses)


def spread(rng: random.Random, members: int, entries: int) -> list[int]:
    """Entries per member: the average, moved around so members hold from 2 to about twice the average."""
    base, extra = divmod(entries, members)
    counts = [base + (1 if i < extra else 0) for i in range(members)]
    high = 2 * base + 1
    for _ in range(members * 3):
        i, j = rng.randrange(members), rng.randrange(members)
        if counts[i] > 2 and counts[j] < high:
            counts[i] -= 1
            counts[j] += 1
    return counts


def step_seed(members: int, entries: int, history: int) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from loyalty.models import Account, LedgerEntry, LotUse

    rng = random.Random(5)
    now = timezone.now()
    specs = [
        (f"none@{DOMAIN}", None),
        (f"short@{DOMAIN}", simulate(rng, 5, now=now, expire=True, orders=True)),
        (f"long@{DOMAIN}", simulate(rng, history, now=now, expire=True, orders=True)),
        # Enough points for every checkout with points: bigger baskets, the same history shape.
        (BUYER, simulate(rng, history, now=now, expire=True, orders=True, earn=(2000, 8000), redeem=(0.3, 0.1, 0.3))),
    ]
    from shop.accounts.models import User

    User.objects.create(email=specs[0][0], password="!", first_name="Bench")  # a customer, not yet a member
    with transaction.atomic():
        write_members([(e, rows) for e, rows in specs[1:]])
    counts = spread(rng, members, entries)
    bulk_entries = 0
    for chunk in range(0, members, 1000):
        batch = [
            (f"m{n:05d}@{DOMAIN}", simulate(rng, counts[n], now=now, expire=False, redeem=BULK_REDEEM))
            for n in range(chunk, min(members, chunk + 1000))
        ]
        with transaction.atomic():
            bulk_entries += write_members(batch)[0]
    return {
        "entries": LedgerEntry.objects.count(),
        "lot_uses": LotUse.objects.count(),
        "accounts": Account.objects.count(),
        "bulk_members": members,
        "bulk_entries": bulk_entries,
        "page_members": {
            "none": 0,
            **{
                email.split("@")[0]: LedgerEntry.objects.filter(account__user__email=email).count()
                for email, _r in specs[1:]
            },
        },
    }


# -- pages --------------------------------------------------------------------------------------------


def step_facts() -> dict:
    """SQL per request of each page, for each page member (a second request: the first warms caches),
    and a session cookie per member for wrk."""
    from django.conf import settings
    from django.test import Client

    from shop.accounts.models import User

    paths = ["/account/", "/account/points/"]
    out = {"paths": paths, "cookies": {}, "queries": {}, "sql": {}, "notes": []}
    anonymous = Client()
    anonymous.get("/bench/ceiling/")
    with Queries() as queries:
        anonymous.get("/bench/ceiling/")
    out["queries"]["/bench/ceiling/"] = queries.count
    for member in PAGE_MEMBERS:
        client = Client()
        client.force_login(User.objects.get(email=f"{member}@{DOMAIN}"))
        out["cookies"][member] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        for path in paths:
            client.get(path)
            with Queries(keep=True) as queries:
                response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code} for {member}")
            out["queries"][f"{member} {path}"] = queries.count
            out["sql"][f"{member} {path}"] = queries.sql
            body = response.content
            if path == "/account/" and b"loyalty" not in body.lower() and member == "long":
                out["notes"].append("/account/ shows no loyalty panel yet (SHOP_ACCOUNT_PANELS not rendered)")
            repeated = Counter(re.sub(r"\b\d+\b", "N", sql) for sql in queries.sql)
            same = [(n, sql) for sql, n in repeated.items() if n > 2]
            for n, sql in same:
                out["notes"].append(f"{member} {path}: the same query {n} times (N+1?): {sql[:160]}")
    out["notes"] = sorted(set(out["notes"]))
    return out


# -- checkout -------------------------------------------------------------------------------------


def step_checkout(n: int, show_sql: bool = False) -> dict:
    """checkout_place with and without points, interleaved so drift hits both alike."""
    from django.conf import settings
    from django.db.models import Count

    from loyalty import services
    from loyalty.models import Kind, LedgerEntry
    from shop.accounts.models import User
    from shop.cart.models import Cart
    from shop.cart.services import cart_add
    from shop.catalog.models import Product
    from shop.catalog.services import products_set_stock
    from shop.orders.checkout import ShippingAddress, checkout_place

    # One buyer places every order of the run and pays none: the limits against hoarding would stop it.
    settings.SHOP_MAX_OPEN_ORDERS = 0
    user = User.objects.get(email=BUYER)
    # Added by product, so each with a single variant (one in sizes and colours would ask which); their
    # stock set through the service, so that each variant's and its product's stay in step.
    chosen = Product.objects.filter(is_active=True, price__gte=15).annotate(n=Count("variants")).filter(n=1)
    products_set_stock(product_ids=list(chosen.order_by("id").values_list("pk", flat=True)[:20]), stock=1_000_000)
    products = list(chosen.filter(stock=1_000_000).order_by("id"))  # no checkout fails for stock
    cart, _created = Cart.objects.get_or_create(user=user)
    address = ShippingAddress(**ADDRESS)
    rng = random.Random(7)
    times: dict[str, list[float]] = {"plain": [], "points": [], "set": []}
    counts: dict[str, list[int]] = {"plain": [], "points": [], "set": []}
    sql: dict[str, list[str]] = {}

    def one(phase: str, measure: bool) -> None:
        for product in rng.sample(products, 2):
            cart_add(cart=cart, product=product, quantity=1)
        if phase == "points":
            with Queries(keep=show_sql) as queries:
                started = time.perf_counter()
                services.cart_points_set(cart=cart, user=user, points=REDEEM_POINTS)
                elapsed = time.perf_counter() - started
            if measure:
                times["set"].append(elapsed * 1000)
                counts["set"].append(queries.count)
                sql.setdefault("cart_points_set", queries.sql)
        with Queries(keep=show_sql) as queries:
            started = time.perf_counter()
            order, _created = checkout_place(
                cart=cart,
                user=user,
                email=user.email,
                address=address,
                shipping_method="standard",
                idempotency_key=str(uuid.uuid4()),
            )
            elapsed = time.perf_counter() - started
        redeemed = LedgerEntry.objects.filter(order=order, kind=Kind.REDEEM).values_list("points", flat=True).first()
        if (redeemed == -REDEEM_POINTS) != (phase == "points"):
            raise SystemExit(f"checkout {phase}: points redeemed {redeemed}, expected the {phase} case")
        if measure:
            times[phase].append(elapsed * 1000)
            counts[phase].append(queries.count)
            sql.setdefault(phase, queries.sql)

    for i in range(5):  # warm-up: first-call work (imports, caches, connection) is not what we count
        one("points" if i % 2 else "plain", False)
    for i in range(n):
        for phase in ("plain", "points") if i % 2 else ("points", "plain"):
            one(phase, True)
    out = {"n": n, "sql": sql if show_sql else {}}
    for key in times:
        out[key] = {"queries": int(median(counts[key])), "queries_max": max(counts[key]), **percentiles(times[key])}
    out["lots_at_end"] = len(services.lots(user.pk))
    out["entries_at_end"] = LedgerEntry.objects.filter(account_id=user.pk).count()
    return out


# -- expiry -------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def step_expiry(now: str, variant: str = "services") -> dict:
    """The expiry job and the reminders, twice each, at one fixed `now` (the variants, on copies of the
    database, use the same one, so all find the same backlog)."""
    from django.db.models import F, Sum
    from django.db.models.functions import Coalesce

    from loyalty import services
    from loyalty.models import Account, ExpiryNotice, Kind, LedgerEntry, LotUse
    from loyalty.program import current

    now = dt.datetime.fromisoformat(now)
    horizon = now + dt.timedelta(days=current().program.expiry_reminder_days)
    open_lots = (
        LedgerEntry.objects.filter(points__gt=0)
        .annotate(used=Coalesce(Sum("uses__points"), 0))
        .filter(used__lt=F("points"))
    )
    due = list(open_lots.filter(expires_at__lte=now).values_list("account_id", "points", "used"))
    due_accounts = len({account_id for account_id, _p, _u in due})
    positive = LedgerEntry.objects.filter(points__gt=0).count()
    started = time.perf_counter()
    batched = variant == "batched"
    iterations = len(list((prototype_due_accounts if batched else services.due_accounts)(now=now)))
    due_query_s = time.perf_counter() - started
    before = {
        "due_lots": len(due),
        "partly_used_due_lots": sum(1 for _a, _p, used in due if used),
        "due_points": sum(points - used for _a, points, used in due),
        "due_accounts": due_accounts,
        "due_accounts_ids": iterations,  # the ids the job loops over
        "due_share": len(due) / positive if positive else 0,
        "due_accounts_query_s": round(due_query_s, 3),
    }
    coming = list(open_lots.filter(expires_at__gt=now, expires_at__lte=horizon).values_list("account_id", flat=True))
    before["coming_lots"], before["coming_accounts"] = len(coming), len(set(coming))
    runs, sql_by_kind = [], {}

    enqueued = {"n": 0, "seconds": 0.0}
    from loyalty.services import reminders

    enqueue = reminders._enqueue_notice

    def timed_enqueue(notice_id: int) -> None:  # both versions send each reminder's task through here
        started = time.perf_counter()
        enqueue(notice_id)
        enqueued["n"] += 1
        enqueued["seconds"] += time.perf_counter() - started

    reminders._enqueue_notice = timed_enqueue  # where the job looks it up

    def run(label: str, job, written_model, accounts: int) -> None:
        entries_before, uses_before = written_model.objects.count(), LotUse.objects.count()
        rss_before = peak_rss_mb()
        enqueued.update(n=0, seconds=0.0)
        with Queries() as queries:
            started = time.perf_counter()
            job(now=now)
            seconds = time.perf_counter() - started
        written = written_model.objects.count() - entries_before
        runs.append(
            {
                "label": label,
                "seconds": round(seconds, 3),
                "queries": queries.count,
                "written": written,
                "lot_uses": LotUse.objects.count() - uses_before,
                "ms_per_account": round(seconds * 1000 / accounts, 3) if accounts else 0.0,
                "peak_rss_mb": peak_rss_mb(),
                "peak_rss_before_mb": rss_before,
                "tasks_enqueued": enqueued["n"],
                "enqueue_seconds": round(enqueued["seconds"], 3),
            }
        )
        sql_by_kind[label] = dict(queries.kinds.most_common())

    if batched:
        expire, notices, name = prototype_points_expire, prototype_expiry_notices_queue, "batched "
    else:
        expire, notices, name = services.points_expire, services.expiry_notices_queue, ""
    run(f"{name}points_expire, 1st", expire, LedgerEntry, due_accounts)
    run(f"{name}points_expire, 2nd", expire, LedgerEntry, 0)
    run(f"{name}expiry_notices_queue, 1st", notices, ExpiryNotice, before["coming_accounts"])
    run(f"{name}expiry_notices_queue, 2nd", notices, ExpiryNotice, before["coming_accounts"])

    mismatched = Account.objects.annotate(total=Coalesce(Sum("entries__points"), 0)).exclude(total=F("balance")).count()
    expired = LedgerEntry.objects.filter(kind=Kind.EXPIRE, created_at=now).order_by("account_id")
    notices_written = ExpiryNotice.objects.filter(created_at__gte=now).order_by("account_id")
    checks = {
        "1st expiry wrote one entry per due account": runs[0]["written"] == due_accounts,
        "2nd expiry wrote nothing": runs[1]["written"] == 0 and runs[1]["lot_uses"] == 0,
        "nothing past its date left": not open_lots.filter(expires_at__lte=now).exists(),
        "every balance == its ledger's sum": mismatched == 0,
        "expired points == due points": -(expired.aggregate(n=Sum("points"))["n"] or 0) == before["due_points"],
        "2nd reminder run wrote nothing": runs[3]["written"] == 0,
    }
    # What was written, to compare a variant's work with the services', row for row.
    digest = {
        "expired": hash_rows(expired.values_list("account_id", "points", "balance_after", "data")),
        "lot_uses": hash_rows(
            LotUse.objects.filter(entry__in=expired).order_by("lot_id").values_list("lot_id", "points")
        ),
        "notices": hash_rows(notices_written.values_list("account_id", "points", "first_expiry", "covers_until")),
    }
    return {
        "variant": variant,
        "now": now.isoformat(),
        "before": before,
        "runs": runs,
        "checks": checks,
        "sql_by_kind": sql_by_kind,
        "digest": digest,
    }


def hash_rows(rows) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(list(rows), default=str).encode()).hexdigest()[:16]


# -- prototypes of a faster expiry job (for the report: the real ones belong to loyalty.services) ------


def open_lots_query(**filters):
    """Lots with points left, without GROUP BY over every column of the entry: a correlated sum."""
    from django.db.models import F, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce

    from loyalty.models import LedgerEntry, LotUse

    used = LotUse.objects.filter(lot=OuterRef("pk")).order_by().values("lot").annotate(n=Sum("points")).values("n")
    return (
        LedgerEntry.objects.filter(points__gt=0, **filters)
        .annotate(used=Coalesce(Subquery(used), 0))
        .filter(used__lt=F("points"))
    )


def prototype_due_accounts(*, now):
    """Accounts with lots past their date and points left, once each: .order_by() keeps the model's default
    ordering (-created_at, -id) out of the SELECT DISTINCT, which would make it one row per lot."""
    return open_lots_query(expires_at__lte=now).order_by().values_list("account_id", flat=True).distinct()


def prototype_points_expire(*, now, batch: int = 500) -> int:
    """services.points_expire in batches: per 500 accounts, lock them (in id order), read their due lots
    again under the lock, and write the entries, lot uses and balances in bulk: a dozen statements per
    batch instead of about 6 per account. Same rows as the service (one entry per account, data.lots)."""
    from collections import defaultdict

    from django.db import transaction
    from django.db.models import OuterRef, Subquery

    from loyalty.models import Account, Kind, LedgerEntry, LotUse, Reason
    from loyalty.program import current

    if not current().program.is_active:
        return 0  # paused: balances are kept as they are
    ids = sorted(prototype_due_accounts(now=now))
    expired = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with transaction.atomic():
            accounts = Account.objects.select_for_update().filter(pk__in=chunk).order_by("pk").only("pk", "balance")
            accounts = {account.pk: account for account in accounts}
            due = open_lots_query(account_id__in=chunk, expires_at__lte=now).order_by(
                "account_id", "expires_at", "created_at", "id"
            )
            lots = defaultdict(list)
            for pk, account_id, points, used in due.values_list("pk", "account_id", "points", "used"):
                lots[account_id].append((pk, points - used))
            entries = []
            for account_id, held in lots.items():
                account = accounts[account_id]
                account.balance -= sum(n for _pk, n in held)
                entries.append(
                    LedgerEntry(
                        account_id=account_id,
                        kind=Kind.EXPIRE,
                        reason=Reason.EXPIRY,
                        points=-sum(n for _pk, n in held),
                        balance_after=account.balance,
                        created_at=now,
                        data={"lots": len(held)},
                    )
                )
            LedgerEntry.objects.bulk_create(entries)
            uses = [
                LotUse(entry=entry, lot_id=pk, points=n)
                for entry, held in zip(entries, lots.values(), strict=True)
                for pk, n in held
            ]
            LotUse.objects.bulk_create(uses)
            # Each balance becomes its new entry's balance_after: one UPDATE (bulk_update's CASE costs more).
            after = LedgerEntry.objects.filter(pk__in=[e.pk for e in entries], account_id=OuterRef("pk"))
            Account.objects.filter(pk__in=list(lots)).update(balance=Subquery(after.values("balance_after")[:1]))
            expired += len(entries)
    return expired


def prototype_expiry_notices_queue(*, now, batch: int = 500) -> int:
    """services.expiry_notices_queue in batches, with its candidates read once per account (.order_by())
    and only where a lot in the period is not yet covered by the account's last reminder (so a run with
    nothing new to say is one query). Per batch: lock the accounts, read their last reminders and their
    lots up to the new reminder's cover date under the lock, write the reminders in bulk, enqueue each on
    commit as the service does. Same rows as the service."""
    from collections import defaultdict

    from django.db import transaction
    from django.db.models import Exists, Max, OuterRef

    from loyalty.models import Account, ExpiryNotice
    from loyalty.program import current
    from loyalty.services import reminders

    program = current().program
    days = program.expiry_reminder_days
    if not days or not program.is_active:
        return 0
    horizon, covers_until = now + dt.timedelta(days=days), now + dt.timedelta(days=2 * days)
    # A lot expiring within the period that the account's last reminder did not cover.
    covered = ExpiryNotice.objects.filter(account_id=OuterRef("account_id"), covers_until__gte=OuterRef("expires_at"))
    due_soon = open_lots_query(expires_at__gt=now, expires_at__lte=horizon).filter(~Exists(covered))
    ids = sorted(due_soon.order_by().values_list("account_id", flat=True).distinct())
    queued = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with transaction.atomic():
            list(Account.objects.select_for_update().filter(pk__in=chunk).order_by("pk").values_list("pk"))
            last = dict(
                ExpiryNotice.objects.filter(account_id__in=chunk)
                .values("account_id")
                .annotate(until=Max("covers_until"))
                .values_list("account_id", "until")
            )
            # As the service: once a lot within the period is news, announce all up to covers_until.
            coming = defaultdict(list)
            rows = open_lots_query(account_id__in=chunk, expires_at__gt=now, expires_at__lte=covers_until)
            for account_id, expires_at, points, used in rows.values_list("account_id", "expires_at", "points", "used"):
                if max(now, last.get(account_id) or now) < expires_at:
                    coming[account_id].append((expires_at, points - used))
            notices = ExpiryNotice.objects.bulk_create(
                ExpiryNotice(
                    account_id=account_id,
                    points=sum(n for _e, n in held),
                    first_expiry=min(e for e, _n in held),
                    covers_until=covers_until,
                )
                for account_id, held in coming.items()
                if min(e for e, _n in held) <= horizon
            )
            for notice in notices:
                transaction.on_commit(lambda pk=notice.pk: reminders._enqueue_notice(pk))
            queued += len(notices)
    return queued


def step_store() -> dict:
    from django.conf import settings
    from django.core.management import call_command

    settings.DEMO_SEEDERS = [path for path in settings.DEMO_SEEDERS if not path.startswith("loyalty.")]
    call_command("seed_demo", "--scale", str(SEED_SCALE))
    return {}


STEPS = {"store": step_store, "seed": step_seed, "facts": step_facts, "checkout": step_checkout, "expiry": step_expiry}


def run_step(name: str, params: str) -> None:
    django_setup()
    result = STEPS[name](**json.loads(params))
    print(STEP_MARK + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "step":
        run_step(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main())
