"""Analytics benchmark: the daily figures' build and the dashboards, at the analytics issue's scale.

    .venv/bin/python bench/analytics.py                                   # 1,000,000 orders, 10,000,000 events
    .venv/bin/python bench/analytics.py --orders 50000 --events 500000   # a quick look (3 minutes)

The targets (the analytics issue): with 1,000,000 orders and 10,000,000 events on PostgreSQL,
every dashboard answers under 300 ms at p50 once the rollups exist, and rebuilding one day takes
under 10 s. (Recording an event's cost is bench/recording.py's.)

One command: a private PostgreSQL on a free loopback port and a throwaway var dir
(bench/results/var-analytics/), `migrate`, then a store written straight in SQL (psycopg,
`INSERT ... SELECT generate_series`, deterministic: every random draw is a hash of a row's id and
--seed): products in categories, customers with profiles, three years of paid orders ending
yesterday (their lines, timelines, promotions used and loyalty points) and the event log. It
prints:

1. how long `manage.py build_figures` takes over the three years, and `rollups.build_days(day, day)`
   for single days and one 31-day run (median, max; the slowest queries, with an EXPLAIN ANALYZE
   of the slowest);
2. every dashboard of `marketing.analytics.admin.DASHBOARDS` (read at run time, so new dashboards
   are measured as they appear), in the admin (session cookie) and at /api/v1/analytics/<name>/
   (token) when that exists, through gunicorn (DEBUG off), for 30, 90 and 365 days up to today,
   compared with the previous period and with the year before: the first request, p50 and p90;
3. the machine, the commit measured, row counts and table sizes; the report is also saved as
   bench/results/analytics-<time>.txt (with what was measured, when a step fails).

See bench/README.md ("Analytics") for what the data looks like and why.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from common import PYTHON, RESULTS, ROOT, Stack, free_port, load_average, log, percentile

TARGET_MS = 300
TARGET_REBUILD_S = 10
YEARS_DAYS = 3 * 365
PERIODS = (30, 90, 365)
COMPARES = ("previous", "year")
DOMAIN = "analytics.bench.test"
STAFF = f"staff@{DOMAIN}"

# -- the store's shape (all shares are of rows; see bench/README.md) ---------------------------------

DEPARTMENTS = {
    "Home": ["Kitchen", "Bedding", "Lighting", "Storage"],
    "Garden": ["Tools", "Plants", "Furniture", "Grills"],
    "Fashion": ["Women", "Men", "Shoes", "Bags"],
    "Sports": ["Running", "Cycling", "Yoga", "Camping"],
    "Electronics": ["Audio", "Phones", "Cameras", "Computers"],
    "Toys": ["Games", "Puzzles", "Outdoor toys", "Baby"],
    "Beauty": ["Skin care", "Make-up", "Hair", "Fragrance"],
    "Food": ["Coffee", "Tea", "Snacks", "Pantry"],
}
REGISTERED = 0.78  # orders placed logged in (the rest: guests, one email each, some coming back)
LINES = (0.55, 0.30, 0.15)  # orders of 1, 2 and 3 lines
QUANTITIES = (0.82, 0.14, 0.04)  # 1, 2, 3 units a line
PROMOTIONS = [  # (name, percent off, share of the orders that used a promotion)
    ("Welcome 10%", 10, 25), ("Newsletter 15%", 15, 20), ("Black Friday 20%", 20, 12), ("Spring sale 10%", 10, 10),
    ("Summer sale 15%", 15, 10), ("Members 5%", 5, 13), ("Bundle 20%", 20, 5), ("Clearance 25%", 25, 5),
]  # fmt: skip
PROMOTED = 0.18  # orders that used one
EXPRESS = 0.08
REFUNDED, PARTLY_REFUNDED = 0.03, 0.02
VISITED = 0.92  # orders of the event log's days placed by a visit it holds (the rest: apps, the admin, DNT)
MEMBERS = 0.35  # customers in the loyalty program
CONSENT = 0.40  # customers who allow their visits to be tied to them (Profile.analytics_consent)
LOGGED_IN = 0.18  # visits that bought nothing by a logged-in customer
UNTRACKED = 0.04  # visits from browsers that asked not to be tracked (page views without a visit)
# Visits that bought nothing: bounce, browse, add to cart, start checkout; then how many products.
KINDS = (0.45, 0.45, 0.065, 0.035)
VIEWED = (0.40, 0.30, 0.18, 0.12)  # 1 to 4 products viewed (visits past the bounce)
TWO_ADDS, REMOVES = 0.25, 0.15
LANDINGS = (0.35, 0.30, 0.35)  # the home page, /products/ (a list), a category (a list)
CONVERSION = 0.033
# (device, share of visits, how well it converts): buyers are drawn by share x conversion.
DEVICES = [("mobile", 56, 0.7), ("desktop", 37, 1.25), ("tablet", 7, 0.9)]
SOURCES = [  # (source, medium, campaign, share of visits, how well it converts)
    ("direct", "none", "", 31, 1.2), ("google", "organic", "", 29, 1.0), ("bing", "organic", "", 3, 1.0),
    ("newsletter", "email", "weekly-picks", 9, 1.8), ("instagram", "social", "", 9, 0.55),
    ("facebook", "social", "", 5, 0.6), ("google", "cpc", "brand-search", 7, 1.3),
    ("blog.cosyhome.example", "referral", "", 4, 0.9), ("pinterest", "social", "", 3, 0.5),
]  # fmt: skip
HOURS = (1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 5.5, 5.0, 4.8, 4.8, 5.0, 5.5, 6.5, 7.5, 8.0,
         7.0, 5.0, 3.0)  # fmt: skip
PLACES = [  # (country, region, city, share)
    ("US", "CA", "Los Angeles", 9), ("US", "CA", "San Francisco", 5), ("US", "NY", "New York", 9),
    ("US", "TX", "Houston", 5), ("US", "TX", "Austin", 3), ("US", "FL", "Miami", 4), ("US", "IL", "Chicago", 5),
    ("US", "WA", "Seattle", 3), ("US", "MA", "Boston", 3), ("US", "GA", "Atlanta", 3), ("US", "CO", "Denver", 2),
    ("US", "PA", "Philadelphia", 3), ("CA", "ON", "Toronto", 4), ("CA", "QC", "Montreal", 2),
    ("CA", "BC", "Vancouver", 2), ("GB", "England", "London", 6), ("GB", "England", "Manchester", 2),
    ("GB", "Scotland", "Edinburgh", 1), ("DE", "Berlin", "Berlin", 3), ("DE", "Bavaria", "Munich", 2),
    ("FR", "Île-de-France", "Paris", 3), ("FR", "Auvergne-Rhône-Alpes", "Lyon", 1),
    ("NL", "North Holland", "Amsterdam", 2),
    ("AU", "NSW", "Sydney", 2), ("AU", "VIC", "Melbourne", 2), ("IE", "Leinster", "Dublin", 1),
    ("ES", "Madrid", "Madrid", 1), ("IT", "Lombardy", "Milan", 1),
]  # fmt: skip
PROFILE_PLACE, PROFILE_BIRTHDAY, PROFILE_GENDER = 0.92, 0.85, 0.95  # profiles with each filled
GENDERS = (("female", 50), ("male", 46), ("nonbinary", 4))


def cumulative(weights) -> list[float]:
    """Bucket thresholds for SQL's width_bucket(u, thresholds): [0, w1, w1 + w2, ...] of the normalised weights."""
    total = float(sum(weights))
    out, running = [0.0], 0.0
    for w in list(weights)[:-1]:
        running += w / total
        out.append(round(running, 9))
    return out


def sql_array(values, cast: str) -> str:
    """An ARRAY literal of our own constants (numbers, or strings without quotes to escape)."""
    items = [("'" + str(v).replace("'", "''") + "'") if isinstance(v, str) else repr(v) for v in values]
    return f"ARRAY[{', '.join(items)}]::{cast}[]"


def fill(template: str, **consts) -> str:
    """Put the constants into SQL: `@name` is replaced by consts[name] (our own values, never input)."""
    return re.sub(r"@(\w+)", lambda m: str(consts[m.group(1)]), template)


# -- the days: orders per day, the event log's window ---------------------------------------------------


def black_friday(year: int) -> dt.date:
    first = dt.date(year, 11, 1)
    thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return thursday + dt.timedelta(weeks=3, days=1)


def day_weight(day: dt.date, progress: float, rng: random.Random) -> float:
    """How busy a day is: growth, the week, the seasons, the sales days, and noise."""
    trend = 0.7 + 0.6 * progress  # the last year sells about 1.6 times the first
    week = (1.0, 0.96, 0.97, 0.99, 1.03, 1.08, 1.12)[day.weekday()]
    season = 1 + 0.22 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 349) / 365.25)
    after_bf = (day - black_friday(day.year)).days
    peak = 1.0
    if after_bf == 0:
        peak = 3.2
    elif after_bf == 3:  # Cyber Monday
        peak = 2.4
    elif after_bf in (1, 2):
        peak = 1.8
    elif -6 <= after_bf < 0:
        peak = 1.3
    elif day.month == 12 and day.day <= 20:
        peak = 1.3
    elif (day.month, day.day) in ((12, 24), (12, 31)):
        peak = 0.7
    elif (day.month, day.day) in ((12, 25), (1, 1)):
        peak = 0.45
    elif day.month == 7 and 10 <= day.day <= 12:  # a summer sale
        peak = 1.5
    return trend * week * season * peak * rng.lognormvariate(0, 0.07)


def allocate(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights`, in whole numbers (largest remainders)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return counts


def mean(weights, values) -> float:
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def buying_visit_events() -> float:
    """Events of a visit that placed an order, its purchase aside: the landing page (and its list),
    each line's product page, view and add, the cart page, checkout, the order."""
    return 1 + (1 - LANDINGS[0]) + 3 * mean(LINES, (1, 2, 3)) + 3


def other_visit_events() -> float:
    """Events of a visit that bought nothing, on average (as the SQL below makes them)."""
    viewed = mean(VIEWED, (1, 2, 3, 4))
    adding = KINDS[2] + KINDS[3]
    return 1 + (1 - LANDINGS[0]) + (1 - KINDS[0]) * 2 * viewed + adding * (1 + TWO_ADDS + REMOVES) + KINDS[3] * 2


def plan(args, last: dt.date) -> dict:
    """Orders per day over three years ending `last`, and the event log's days.

    Every paid order has its purchase (and each refund its refund) in the log: what the analytics
    app's sweep makes of a store's history. The rest of --events are visits, at a believable
    conversion (about 3%): with the issue's 1,000,000 orders and 10,000,000 events that covers only
    the most recent weeks (about 150,000 events a day), which is the density a store selling 1,000
    orders a day would see, so a day's rebuild is measured on a real day's worth."""
    rng = random.Random(args.seed)
    first = last - dt.timedelta(days=YEARS_DAYS - 1)
    days = [first + dt.timedelta(days=n) for n in range(YEARS_DAYS)]
    orders = allocate(args.orders, [day_weight(d, n / YEARS_DAYS, rng) for n, d in enumerate(days)])
    budget = args.events - args.orders - round(args.orders * (REFUNDED + PARTLY_REFUNDED))
    per_order = VISITED * buying_visit_events() + (1 / CONVERSION - 1) * other_visit_events()
    window, spent = 0, 0.0
    while window < len(days) and spent < budget:
        window += 1
        spent += orders[-window] * per_order
    window_orders = sum(orders[-window:]) if window else 0
    others = budget - window_orders * VISITED * buying_visit_events()
    ratio = others / (window_orders * other_visit_events()) if window_orders and others > 0 else 0.0
    visits = [0] * len(days)
    for n in range(len(days) - window, len(days)):
        visits[n] = round(orders[n] * ratio * rng.uniform(0.9, 1.1))
    return {"first": first, "last": last, "days": days, "orders": orders, "visits": visits, "window": window}


# -- the benchmark -----------------------------------------------------------------------------------


class AnalyticsBench(Stack):
    def __init__(self, args):
        self.args = args
        # Not recording: the staff's logins in the setup steps would land in today's log, and the
        # dashboards' paths are untracked anyway (recording's cost is bench/recording.py's).
        env = {"ANALYTICS_RECORDING": "0"}
        if args.time_zone:
            env["ANALYTICS_TIME_ZONE"] = args.time_zone
        super().__init__(db="postgres", var_dir=RESULTS / "var-analytics", pg_port=free_port(), extra_env=env)
        self.report: list[str] = []
        self.facts: dict = {}

    def say(self, line: str = "") -> None:
        """A line of the report: printed now, saved at the end."""
        print(line, flush=True)
        self.report.append(line)

    def connect(self) -> psycopg.Connection:
        """The loader's connection: the superuser, so foreign-key triggers can be skipped during the load."""
        return psycopg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname="shop", autocommit=True)

    # -- 1. database -------------------------------------------------------------------------

    def prepare(self) -> None:
        shutil.rmtree(self.var_dir, ignore_errors=True)  # throwaway: no cache or media from a last run
        self.var_dir.mkdir(parents=True)
        log(f"var dir: {self.var_dir}")
        self.start_postgres()
        log("migrate")
        self.manage("migrate", "--noinput", "-v", "0")
        log("collectstatic")  # DEBUG off: the admin's pages need the manifest
        self.manage("collectstatic", "--noinput", "-v", "0")
        out = self.shell(
            "from django.conf import settings; import django; "
            "print(settings.ANALYTICS_TIME_ZONE, settings.SHOP_CURRENCY, django.get_version())"
        )
        tz, currency, version = out.split()[-3:]
        self.facts.update(tz=tz, currency=currency, django=version)
        with self.connect() as conn:
            self.facts["pg"] = conn.execute("SHOW server_version").fetchone()[0]

    def header(self, load: str) -> None:
        args, f = self.args, self.facts
        self.say(f"Analytics benchmark, {time.strftime('%Y-%m-%d %H:%M')}: {args.orders:,} orders, "
                 f"{args.events:,} events asked (--seed {args.seed})")  # fmt: skip
        self.say(f"Machine: {machine()}; load average {load} at the start")
        self.say(f"Code: {code_version()}")
        self.say(f"PostgreSQL {f['pg']} (fsync=off, otherwise its default settings), Python "
                 f"{platform.python_version()}, Django {f['django']}; store time zone {f['tz']}, "
                 f"currency {f['currency']}")  # fmt: skip

    # -- 2. data -----------------------------------------------------------------------------

    def generate(self) -> None:
        args = self.args
        tz = self.facts["tz"]
        today = dt.datetime.now(ZoneInfo(tz)).date()
        self.facts["today"] = today
        p = plan(args, today - dt.timedelta(days=1))
        self.facts["plan"] = p
        window_days = p["days"][-p["window"] :] if p["window"] else []
        log(
            f"data: {args.orders:,} orders from {p['first']} to {p['last']} ({tz}), "
            f"{args.customers:,} customers, {args.products:,} products; the event log's visits on "
            f"the last {p['window']} days"
            + (f" ({window_days[0]} to {window_days[-1]})" if window_days else " (none: --events too few)")
        )
        started = time.monotonic()
        with self.connect() as conn:
            loader = Loader(conn, args, p, tz=tz, currency=self.facts["currency"], today=today)
            loader.run()
        took = time.monotonic() - started
        self.facts["generate_s"] = took
        log(f"data generated in {took:.0f} s")
        say = self.say
        say("")
        say(f"Data: generated in {took / 60:.1f} min; orders paid from {p['first']} to {p['last']}, the event "
            f"log's visits on its last {p['window']} days")  # fmt: skip
        say("Rows, and sizes in MB (table, indexes, total)")
        with self.connect() as conn:
            for table in COUNTED:
                self.say_table(conn, table)
            names = conn.execute(
                "SELECT name, count(*) FROM analytics_event GROUP BY name ORDER BY count(*) DESC"
            ).fetchall()
            database = conn.execute("SELECT pg_database_size('shop')").fetchone()[0]
        say(f"  database: {database / 2**30:.1f} GB")
        say("  events by name: " + ", ".join(f"{name} {n:,}" for name, n in names))

    def say_table(self, conn, table: str) -> None:
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (our list of tables)
        line = f"  {table:28} {rows:>12,}"
        if table in SIZED:
            sizes = conn.execute(
                "SELECT pg_relation_size(%s), pg_indexes_size(%s), pg_total_relation_size(%s)", [table] * 3
            ).fetchone()
            line += "".join(f" {size / 2**20:8.0f}" for size in sizes)
        self.say(line)

    # -- 3. the daily figures ----------------------------------------------------------------

    def build_all(self) -> None:
        p = self.facts["plan"]
        log(f"manage.py build_figures --from {p['first']} --to {p['last']}")
        started = time.monotonic()
        process = subprocess.Popen(
            [str(PYTHON), "manage.py", "build_figures", "--from", str(p["first"]), "--to", str(p["last"])],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        said = []
        for line in process.stdout:
            print(f"    {line.rstrip()}", flush=True)
            if line.strip() and "days built" not in line:
                said.append(line.strip())  # the command's summary lines
        if process.wait() != 0:
            sys.exit("build_figures failed: see above")
        took = time.monotonic() - started
        with self.connect() as conn:  # as autovacuum would, after such a write: the dashboards' plans need it
            conn.execute("VACUUM ANALYZE analytics_dailyfigure")
            conn.execute("VACUUM ANALYZE analytics_builtday")
            self.say("")
            self.say(f"Full build: manage.py build_figures --from {p['first']} --to {p['last']}: {took:.0f} s wall "
                     f"({took / 60:.1f} min), the command's own summary:")  # fmt: skip
            for line in said:
                self.say(f"  {line}")
            self.say_table(conn, "analytics_dailyfigure")
            if p["window"]:  # what the dashboards show: the daily figures' totals over the event log's days
                rows = dict(conn.execute(
                    """SELECT measure, sum(value) FROM analytics_dailyfigure
                       WHERE dimension = '' AND day BETWEEN %s AND %s AND measure = ANY(%s) GROUP BY measure""",
                    [p["days"][-p["window"]], p["last"], FUNNEL],
                ).fetchall())  # fmt: skip
                v = [int(rows.get(m, 0)) for m in FUNNEL]
                if v[0]:
                    self.say(f"  the funnel over the event log's {p['window']} days: {v[0]:,} visits; viewed a "
                             f"product {v[1] / v[0]:.0%}, added {v[2] / v[0]:.1%}, checkout {v[3] / v[0]:.1%}, "
                             f"paid {v[4] / v[0]:.2%}")  # fmt: skip

    def rebuild_days(self) -> None:
        """build_days(day, day) for five days, timed in one process with their queries; then one run of
        31 days (a step of the full build)."""
        p = self.facts["plan"]
        days, orders = p["days"], p["orders"]
        window = days[-p["window"] :] if p["window"] else []
        busiest = max(range(len(days)), key=lambda n: orders[n])
        # The last day, the busiest (Black Friday), the event log's busiest, a day in the middle, a
        # year ago; then others until there are five different days.
        picks = [days[-1], days[busiest]]
        if window:
            visits = p["visits"]
            picks.append(days[max(range(len(days) - len(window), len(days)), key=lambda n: visits[n] + orders[n])])
        picks += [days[len(days) // 2], days[-365], days[30], days[-2], days[-7], days[-100]]
        picks = list(dict.fromkeys(picks))[:5]
        log(f"rebuilding single days: {', '.join(map(str, picks))}; then {days[-31]} to {days[-1]} in one run")
        r = self.django_json(
            "REBUILD", REBUILD_SCRIPT, days=[str(d) for d in picks], month=[str(days[-31]), str(days[-1])]
        )
        say = self.say
        times = [d["seconds"] for d in r["days"]]
        self.facts["rebuild_pass"] = max(times) < TARGET_REBUILD_S
        say("")
        say(f"Rebuilding one day (rollups.build_days(day, day), in-process): median {median(times):.2f} s, "
            f"max {max(times):.2f} s; target < {TARGET_REBUILD_S} s: "
            f"{'PASS' if self.facts['rebuild_pass'] else 'FAIL'}")  # fmt: skip
        say(
            f"  {'day':10} {'orders':>7} {'events':>8} {'s':>6} {'live s':>7} {'SQL':>4} {'figures':>8}  "
            "slowest queries (ms)"
        )
        for d in [*r["days"], r["month"]]:
            top = "; ".join(f"{q['ms']:.0f} {q['what']}" for q in d["top"][:4])
            say(f"  {d['day']:10} {d['orders']:>7,} {d['events']:>8,} {d['seconds']:>6.2f} {d['live']:>7.2f} "
                f"{d['queries']:>4} {d['figures']:>8,}  {top}")  # fmt: skip
        say(
            "  (the last row: the last 31 days in one run, as build_figures does each step; live s: "
            "rollups.figures_for_days alone, which is"
        )
        say(
            "   what a dashboard's first request pays for today at the end of such a day: today's live figures "
            "are kept 60 s)"
        )
        for explain in r["explain"]:
            say(f"  EXPLAIN ANALYZE of the slowest SELECT of {explain['day']} ({explain['ms']:.0f} ms):")
            say("    " + explain["sql"][:600])
            for line in explain["plan"]:
                say("    " + line)

    # -- 4. the dashboards -------------------------------------------------------------------

    def dashboards(self) -> None:
        setup = self.django_json("SETUP", SETUP_SCRIPT, staff=STAFF)
        self.facts["setup"] = setup
        log(f"dashboards: {', '.join(setup['dashboards'])}; API for {', '.join(setup['api']) or 'none'}")
        base = self.start_gunicorn(workers=2, log_path=RESULTS / "gunicorn-analytics.log")
        port = int(base.rsplit(":", 1)[1])
        today = self.facts["today"]
        rows = []
        for name in setup["dashboards"]:
            for kind in ("admin", "api"):
                path = setup["admin"][name] if kind == "admin" else setup["api"].get(name)
                if path is None:
                    continue
                for days in PERIODS:
                    for compare in COMPARES:
                        query = f"from={today - dt.timedelta(days=days - 1)}&to={today}&compare={compare}"
                        rows.append(self.measure(port, kind, name, days, compare, f"{path}?{query}"))
        self.stop_gunicorn()
        self.facts["dashboards"] = rows
        args, say = self.args, self.say
        say("")
        say(f"Dashboards through gunicorn (2 workers, DEBUG off), {args.requests} requests each after "
            f"{args.warmup} warm-up, one at a time; periods up to today ({today}); "
            f"target p50 < {TARGET_MS} ms")  # fmt: skip
        say(f"  {'dashboard':11} {'via':5} {'days':>4} {'compare':8} {'first':>8} {'p50':>8} {'p90':>8} "
            f"{'max':>8}  verdict")  # fmt: skip
        for row in rows:
            if row.get("error"):
                say(f"  {row['name']:11} {row['kind']:5} {row['days']:>4} {row['compare']:8}  {row['error']}")
                continue
            verdict = "PASS" if row["p50"] < TARGET_MS else "FAIL"
            say(f"  {row['name']:11} {row['kind']:5} {row['days']:>4} {row['compare']:8} {row['first']:>8.1f} "
                f"{row['p50']:>8.1f} {row['p90']:>8.1f} {row['max']:>8.1f}  {verdict}")  # fmt: skip
        say("  (first: the URL's first request; the run's very first request also works out today's live")
        say("   figures, again whenever their 60 s have passed: that shows in p90 and max)")

    def measure(self, port: int, kind: str, name: str, days: int, compare: str, url: str) -> dict:
        headers = {"Cookie": self.facts["setup"]["cookie"]} if kind == "admin" else {}
        if kind == "api":
            headers["Authorization"] = f"Token {self.facts['setup']['token']}"
        row = {"name": name, "kind": kind, "days": days, "compare": compare, "url": url}
        times, first = [], None
        for n in range(self.args.warmup + self.args.requests):
            started = time.perf_counter()
            status, body = fetch(port, url, headers)
            took = (time.perf_counter() - started) * 1000
            problem = f"answered {status}" if status != 200 else check_answer(kind, body)
            if problem:  # measured as what it is, and the run goes on (another dashboard may be fine)
                log(f"  {kind:5} {name:10} {days:3} days, {compare:8}: {problem}")
                return {**row, "error": f"ERROR: {problem}", "p50": math.inf}
            if n == 0:
                first = took
            if n >= self.args.warmup:
                times.append(took)
        times.sort()
        row.update(first=first, p50=percentile(times, 50), p90=percentile(times, 90), max=times[-1])
        log(f"  {kind:5} {name:10} {days:3} days, {compare:8}: first {first:7.1f} ms, p50 {row['p50']:7.1f}, "
            f"p90 {row['p90']:7.1f}")  # fmt: skip
        return row

    def profile(self) -> None:
        """Each dashboard's slowest URL again, in-process, with its SQL; EXPLAIN ANALYZE of the slowest query
        of those over target."""
        worst = {}
        for row in self.facts["dashboards"]:
            key = (row["name"], row["kind"])
            if not row.get("error") and (key not in worst or row["p50"] > worst[key]["p50"]):
                worst[key] = row
        log("profiling each dashboard's slowest period in-process (Django's test client)")
        profiles = self.django_json(
            "PROFILE",
            PROFILE_SCRIPT,
            staff=STAFF,
            token=self.facts["setup"]["token"],
            urls=[[r["name"], r["kind"], r["url"], r["p50"] >= TARGET_MS] for r in worst.values()],
        )
        say = self.say
        say("")
        say("In-process, each dashboard's slowest URL (Django's test client, after one unmeasured request):")
        for prof in profiles:
            if prof.get("error"):
                say(f"  {prof['name']} ({prof['kind']}) {prof['url']}: {prof['error']}")
                continue
            say(f"  {prof['name']} ({prof['kind']}) {prof['url']}: {prof['ms']:.0f} ms, "
                f"{prof['queries']} queries taking {prof['sql_ms']:.0f} ms")  # fmt: skip
            for q in prof["top"][:3]:
                say(f"      {q['ms']:7.1f} ms  {q['sql'][:400]}")
            if prof.get("plan"):
                say("    EXPLAIN ANALYZE of its slowest query:")
                for line in prof["plan"]:
                    say("      " + line)

    def summary(self, took: float) -> None:
        rows = self.facts.get("dashboards", [])
        over = [r for r in rows if r["p50"] >= TARGET_MS]
        self.say("")
        self.say(f"Whole run {took / 60:.1f} min; load average {load_average()} at the end. Dashboards over "
                 f"{TARGET_MS} ms at p50: {len(over)} of {len(rows)} "
                 f"({', '.join(sorted({r['name'] for r in over})) or 'none'}); "
                 f"rebuilding one day: {'PASS' if self.facts.get('rebuild_pass') else 'FAIL'}")  # fmt: skip

    # -- Django in a child process -----------------------------------------------------------

    def django_json(self, marker: str, script: str, **params) -> dict:
        """Run a script in `manage.py shell` with PARAMS set; the JSON it prints after `marker`."""
        text = self.shell(f"import json\nPARAMS = json.loads({json.dumps(params)!r})\n" + script)
        line = next((line for line in text.splitlines() if line.startswith(marker)), None)
        if line is None:
            sys.exit(f"the {marker.lower()} step printed no result:\n{text[-2000:]}")
        return json.loads(line[len(marker) :])

    def save(self) -> Path:
        out = RESULTS / f"analytics-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        out.write_text("\n".join(self.report) + "\n")
        return out


FUNNEL = ["visits", "visits_viewing_item", "visits_adding", "visits_checking_out", "visits_buying"]
COUNTED = ["catalog_product", "accounts_user", "accounts_profile", "orders_order", "orders_orderline",
           "orders_orderevent", "discounts_redemption", "loyalty_ledgerentry", "analytics_ordervisit",
           "analytics_event"]  # fmt: skip
SIZED = ["orders_order", "orders_orderline", "orders_orderevent", "analytics_ordervisit", "analytics_event",
         "analytics_dailyfigure"]  # fmt: skip


def fetch(port: int, url: str, headers: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_answer(kind: str, body: bytes) -> str | None:
    """What is wrong with a dashboard's answer: not the dashboard, or days of its period not built
    (it would be measuring zeros); None when it is right."""
    if kind == "api":
        missing = json.loads(body).get("missing_days")
        return f"{len(missing)} days not built, e.g. {missing[:3]}" if missing else None
    return None if b"Analytics" in body else "not the dashboard page"


def code_version() -> str:
    """The commit measured, and whether the working tree differs from it (other work in progress)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "log", "-1", "--format=%h %s"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    files = len(changed.stdout.splitlines())
    return f"{head[:100]}" + (f" (+ {files} files changed in the working tree)" if files else "")


def machine() -> str:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GB RAM"


# -- the loader: SQL ---------------------------------------------------------------------------------


class Loader:
    """Writes the store in SQL, in the order a store would have written it (ids and pages follow time)."""

    def __init__(self, conn, args, p: dict, *, tz: str, currency: str, today: dt.date):
        self.conn, self.args, self.p = conn, args, p
        self.today = today
        self.consts = {
            "tz": "'" + tz.replace("'", "''") + "'",
            "cur": f"'{currency}'",
            "P": args.products,
            "C": args.customers,
            "G": round(args.orders * (1 - REGISTERED) * 0.8),  # guests' emails: some come back
            "customers_at": f"'@{DOMAIN}'",
            "guests_at": f"'@mail.{DOMAIN}'",
            "today": f"'{today}'::date",
            "seed": args.seed,
        }
        self.indexes: list[tuple[str, str]] = []

    def sql(self, template: str, **extra):
        return self.conn.execute(fill(template, **self.consts, **extra))

    def timed(self, what: str, template: str, **extra) -> None:
        started = time.monotonic()
        cursor = self.sql(template, **extra)
        took = time.monotonic() - started
        rows = cursor.rowcount
        log(f"  {what}: {rows:,} rows in {took:.1f} s ({rows / max(took, 1e-6):,.0f} rows/s)")

    def run(self) -> None:
        self.setup()
        self.catalog()
        self.customers()
        self.promotions()
        self.orders()
        self.loyalty()
        self.events()
        self.finish()

    def setup(self) -> None:
        self.sql("SET session_replication_role = replica")  # no foreign-key triggers: the loader keeps them true
        self.sql("SET maintenance_work_mem = '1GB'")
        self.sql("SET work_mem = '256MB'")
        self.sql("DROP SCHEMA IF EXISTS bench CASCADE")
        self.sql("CREATE SCHEMA bench")
        # A uniform draw in [0, 1) for row `i` and purpose `k`: a hash, so the same seed makes the same store.
        self.sql("""CREATE FUNCTION bench.r(i bigint, k int) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
            $$ SELECT ((hashint8extended(i, @seed * 1000 + k) >> 11) & 9007199254740991)::float8
                      / 9007199254740992.0 $$""")
        # A moment of a store day, the hour drawn from the day's shape of traffic.
        self.sql(
            """CREATE FUNCTION bench.moment(d date, u1 float8, u2 float8) RETURNS timestamptz LANGUAGE sql STABLE AS
            $$ SELECT ((d + make_interval(secs => (width_bucket(u1, @hours) - 1) * 3600 + floor(u2 * 3600)))::timestamp
                       AT TIME ZONE @tz) $$""",
            hours=sql_array(cumulative(HOURS), "float8"),
        )
        aisles = [slug(a) for aisles in DEPARTMENTS.values() for a in aisles]
        self.sql(
            """CREATE FUNCTION bench.landing(u float8, u2 float8, OUT path text, OUT list text)
            LANGUAGE sql IMMUTABLE AS $$ SELECT CASE width_bucket(u, @landings) WHEN 1 THEN '/' WHEN 2 THEN '/products/'
                ELSE '/category/' || (@aisles)[1 + floor(u2 * @n)::int] || '/' END,
              CASE width_bucket(u, @landings) WHEN 1 THEN NULL WHEN 2 THEN 'all'
                ELSE (@aisles)[1 + floor(u2 * @n)::int] END $$""",
            landings=sql_array(cumulative(LANDINGS), "float8"),
            aisles=sql_array(aisles, "text"),
            n=len(aisles),
        )
        # Whether customer u allows their visits to be tied to them: the profile says so, and so do the events.
        self.sql(f"""CREATE FUNCTION bench.consents(u bigint) RETURNS bool LANGUAGE sql IMMUTABLE AS
            $$ SELECT bench.r(u, 50) < {CONSENT} $$""")
        p = self.p
        rows, first_id, first_visit = [], 1, 1
        for n, day in enumerate(p["days"]):
            rows.append((day, p["orders"][n], first_id, p["visits"][n], first_visit))
            first_id += p["orders"][n]
            first_visit += p["visits"][n]
        self.sql("CREATE UNLOGGED TABLE bench.days (day date PRIMARY KEY, n int, first_id bigint, visits int, "
                 "first_visit bigint)")  # fmt: skip
        with self.conn.cursor().copy("COPY bench.days FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self.drop_indexes()

    def drop_indexes(self) -> None:
        """Indexes that back no constraint are dropped during the load and built again after it (in bulk,
        much faster than row by row); the same definitions, from the catalog."""
        for table in LOADED:
            found = self.conn.execute(
                """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                   WHERE i.indrelid = %s::regclass
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
                [table],
            ).fetchall()
            for name, definition in found:
                self.conn.execute(f"DROP INDEX {name}")
                self.indexes.append((name, definition))

    def catalog(self) -> None:
        rng = random.Random(self.args.seed)
        categories, n = [], 1
        for department, aisles in DEPARTMENTS.items():
            parent = n
            categories.append((n, department, slug(department), "", slug(department), 0, None))
            n += 1
            for aisle in aisles:
                categories.append((n, aisle, slug(aisle), "", f"{slug(department)}/{slug(aisle)}", 1, parent))
                n += 1
        aisle_ids = [c[0] for c in categories if c[5] == 1]
        adjectives = ["Classic", "Cosy", "Bright", "Compact", "Deluxe", "Eco", "Nordic", "Urban", "Vintage", "Smart"]
        with self.conn.cursor().copy(
            "COPY catalog_category (id, name, slug, description, path, depth, parent_id) FROM STDIN"
        ) as copy:
            for row in categories:
                copy.write_row(row)
        with self.conn.cursor().copy(
            "COPY catalog_product (id, sku, slug, name, description, price, compare_at_price, stock, is_active, "
            "is_featured, rating_avg, rating_count, created_at, updated_at, category_id) FROM STDIN"
        ) as copy:
            created = dt.datetime.now(dt.UTC) - dt.timedelta(days=YEARS_DAYS + 30)
            for i in range(1, self.args.products + 1):
                category = aisle_ids[(i - 1) % len(aisle_ids)]
                name = categories[category - 1][1].rstrip("s")
                price = round(4.99 + 195 * rng.random() ** 2.5, 2)
                name = f"{rng.choice(adjectives)} {name} {i}"
                copy.write_row((i, f"AB-{i:05d}", f"product-{i}", name, "", f"{price:.2f}", None, 100, True, False,
                                None, 0, created, created, category))  # fmt: skip
        log(f"  catalog: {len(categories)} categories, {self.args.products:,} products")

    def customers(self) -> None:
        places = [p[3] for p in PLACES]
        self.sql("CREATE UNLOGGED TABLE bench.places (idx int PRIMARY KEY, country text, region text, city text)")
        with self.conn.cursor().copy("COPY bench.places FROM STDIN") as copy:
            for n, (country, region, city, _share) in enumerate(PLACES, 1):
                copy.write_row((n, country, region, city))
        consts = {"places": sql_array(cumulative(places), "float8")}
        self.timed(
            "customers",
            """INSERT INTO accounts_user (id, password, last_login, is_superuser, first_name, last_name, is_staff,
                   is_active, date_joined, email)
               SELECT i, '!', NULL, false, 'Customer', i::text, false, true,
                   (@today - (40 + floor(bench.r(i, 100) * 1400))::int)::timestamp AT TIME ZONE @tz,
                   'customer' || i || @customers_at
               FROM generate_series(1, @C) i""",
        )
        self.timed(
            "profiles",
            f"""INSERT INTO accounts_profile (user_id, birthday, gender, city, region, country, phone,
                   analytics_consent, analytics_consent_at, updated_at)
               SELECT i,
                   CASE WHEN bench.r(i, 101) < {PROFILE_BIRTHDAY}
                        THEN @today - (365.25 * (18 + 62 * power((bench.r(i, 102) + bench.r(i, 103)) / 2, 1.4))
                                       )::int END,
                   CASE WHEN bench.r(i, 104) < {PROFILE_GENDER}
                        THEN ({sql_array([g for g, _w in GENDERS], "text")})[width_bucket(bench.r(i, 105),
                             {sql_array(cumulative([w for _g, w in GENDERS]), "float8")})] ELSE '' END,
                   CASE WHEN placed THEN pl.city ELSE '' END, CASE WHEN placed THEN pl.region ELSE '' END,
                   CASE WHEN placed THEN pl.country ELSE '' END,
                   '',
                   bench.consents(i), CASE WHEN bench.consents(i) THEN now() END, now()
               FROM (SELECT i, bench.r(i, 107) < {PROFILE_PLACE} AS placed,
                            width_bucket(bench.r(i, 108), @places) AS place FROM generate_series(1, @C) i) u
               JOIN bench.places pl ON pl.idx = u.place""",
            **consts,
        )
        self.consts["places"] = consts["places"]

    def promotions(self) -> None:
        started = dt.datetime.now(dt.UTC) - dt.timedelta(days=YEARS_DAYS + 30)
        with self.conn.cursor().copy(
            "COPY discounts_promotion (id, name, kind, value, buy_quantity, get_quantity, scope, exclude_on_sale, "
            "is_active, starts_at, ends_at, min_subtotal, min_quantity, first_order_only, segment, requires_code, "
            "stackable, priority, usage_limit, usage_limit_per_customer, max_discount, times_used, created_at, "
            "updated_at) FROM STDIN"
        ) as copy:
            for n, (name, percent, _share) in enumerate(PROMOTIONS, 1):
                copy.write_row((n, name, "percentage", percent, 0, 0, "order", False, False, started, None, None,
                                None, False, "", False, False, 0, None, None, None, 0, started, started))  # fmt: skip

    def orders(self) -> None:
        """Orders in chunks of days, in time order: each chunk's order rows (their draws first, in
        bench.o), lines, timeline, promotions used and the visits that placed them."""
        rates = sql_array([pct / 100 for _n, pct, _s in PROMOTIONS], "numeric")
        self.sql(
            f"""CREATE UNLOGGED TABLE bench.o AS
            SELECT s.*, s.paid_at - interval '40 seconds' AS placed_at,
                CASE WHEN bench.r(id, 3) < {REGISTERED} THEN 1 + floor(@C * power(bench.r(id, 4), 1.8))::bigint END
                    AS user_id,
                1 + width_bucket(bench.r(id, 5), {sql_array(cumulative(LINES)[1:], "float8")}) AS nlines,
                CASE WHEN bench.r(id, 6) < {PROMOTED}
                     THEN width_bucket(bench.r(id, 7), {sql_array(cumulative([s for *_x, s in PROMOTIONS]), "float8")})
                     END AS promo,
                bench.r(id, 8) < {EXPRESS} AS express,
                CASE WHEN bench.r(id, 9) < {REFUNDED} AND refund_at < @today::timestamp AT TIME ZONE @tz THEN 'full'
                     WHEN bench.r(id, 9) < {REFUNDED + PARTLY_REFUNDED}
                          AND refund_at < @today::timestamp AT TIME ZONE @tz THEN 'partial' END AS refund,
                day >= @window AND bench.r(id, 11) < {VISITED} AS visited
            FROM (SELECT id, day, paid_at,
                         paid_at + make_interval(secs => (2 + 38 * bench.r(id, 10)) * 86400) AS refund_at
                  FROM (SELECT d.first_id + k - 1 AS id, d.day,
                               bench.moment(d.day, bench.r(d.first_id + k - 1, 1), bench.r(d.first_id + k - 1, 2))
                                   AS paid_at
                        FROM bench.days d, generate_series(1, d.n) k) x) s
            ORDER BY id""",
            window=self.window_literal(),
        )
        self.sql("ALTER TABLE bench.o ADD PRIMARY KEY (id)")
        self.sql("""ALTER TABLE bench.o ADD COLUMN refund_day date""")
        self.sql("UPDATE bench.o SET refund_day = (refund_at AT TIME ZONE @tz)::date WHERE refund IS NOT NULL")
        self.sql("CREATE INDEX ON bench.o (refund_day) WHERE refund IS NOT NULL")
        # The lines: distinct products (steps of up to a third of the catalog), the first one drawn by popularity.
        self.sql(
            f"""CREATE UNLOGGED TABLE bench.l AS
            SELECT o.id AS order_id, x.j, p.id AS product_id, p.sku, p.name, p.price, x.q AS quantity,
                   p.price * x.q AS subtotal,
                   CASE WHEN o.promo IS NULL THEN 0 ELSE round(p.price * x.q * ({rates})[o.promo], 2) END AS discount
            FROM bench.o o
            CROSS JOIN LATERAL (
                SELECT j, 1 + (floor(@P * power(bench.r(o.id, 20), 2.2))::bigint
                               + CASE j WHEN 1 THEN 0 WHEN 2 THEN s2 ELSE s2 + s3 END) % @P AS pid,
                       1 + width_bucket(bench.r(o.id * 4 + j, 23), {sql_array(cumulative(QUANTITIES)[1:], "float8")})
                           AS q
                FROM generate_series(1, o.nlines) j,
                     LATERAL (SELECT 1 + floor(bench.r(o.id, 21) * (@P / 3))::bigint AS s2,
                                     1 + floor(bench.r(o.id, 22) * (@P / 3))::bigint AS s3) s
            ) x
            JOIN catalog_product p ON p.id = x.pid
            ORDER BY o.id, x.j"""
        )
        self.sql("CREATE INDEX ON bench.l (order_id)")
        days, orders = self.p["days"], self.p["orders"]
        total, done, started = sum(orders), 0, time.monotonic()
        lines = events = 0
        for first, last in chunks(orders, 100_000):
            low, high = self.first_id(first), self.first_id(last) + orders[last] - 1
            if high < low:
                continue
            lines += self.sql(ORDER_LINES, low=low, high=high).rowcount
            self.sql(ORDERS, low=low, high=high)
            events += self.sql(TIMELINE, low=low, high=high).rowcount
            self.sql(REDEMPTIONS, low=low, high=high)
            self.sql(ORDER_VISITS, low=low, high=high, **self.visit_draws(buying=True))
            done += high - low + 1
            took = time.monotonic() - started
            log(f"  orders: {done:,}/{total:,} to {days[last]} ({lines:,} lines, {events:,} timeline events), "
                f"{done / took:,.0f} orders/s")  # fmt: skip

    def loyalty(self) -> None:
        self.timed(
            "loyalty members",
            f"""INSERT INTO loyalty_account (user_id, balance, tier_since, referral_code, created_at, tier_id)
               SELECT u, 0, NULL, 'B' || lpad(to_hex(u), 10, '0'), now(), NULL
               FROM generate_series(1, @C) u WHERE bench.r(u, 60) < {MEMBERS}""",
        )
        self.timed(
            "loyalty ledger (points earned by members' orders)",
            """INSERT INTO loyalty_ledgerentry (kind, reason, points, balance_after, reference, available_at,
                   expires_at, note, data, created_at, account_id, actor_id, order_id)
               SELECT 'earn', 'order', pts, sum(pts) OVER (PARTITION BY user_id ORDER BY paid_at, id), '',
                   paid_at + interval '14 days', paid_at + interval '365 days', '', '{}', paid_at, user_id, NULL, id
               FROM (SELECT o.id, o.user_id, o.paid_at, greatest(1, floor(o.total))::int AS pts
                     FROM orders_order o JOIN loyalty_account a ON a.user_id = o.user_id) x
               ORDER BY paid_at""",
        )
        self.sql("""UPDATE loyalty_account a SET balance = s.points
                    FROM (SELECT account_id, sum(points) AS points FROM loyalty_ledgerentry GROUP BY 1) s
                    WHERE s.account_id = a.user_id""")  # fmt: skip

    def events(self) -> None:
        """The event log in chunks of days, in time order: purchases, refunds, the buying visits and the others."""
        p = self.p
        # Visits that bought nothing (none without a window: the chunks below read the table all the same).
        self.sql(
            f"""CREATE UNLOGGED TABLE bench.v AS
            SELECT id, day, start_at,
                CASE WHEN bench.r(id, 39) >= {UNTRACKED} THEN md5('v' || @seed || '-' || id)::uuid END AS visit,
                (@devices)[width_bucket(bench.r(id, 37), @device_weights)] AS device,
                width_bucket(bench.r(id, 38), @source_weights) AS src,
                CASE WHEN bench.r(id, 40) < {LOGGED_IN} AND bench.r(id, 39) >= {UNTRACKED}
                     AND bench.consents(1 + floor(@C * power(bench.r(id, 41), 1.8))::bigint)
                     THEN 1 + floor(@C * power(bench.r(id, 41), 1.8))::bigint END AS customer_id,
                kind, np,
                CASE WHEN kind >= 3 THEN least(np, 1 + (bench.r(id, 33) < {TWO_ADDS})::int) ELSE 0 END AS na,
                kind >= 3 AND bench.r(id, 34) < {REMOVES} AS removes,
                kind = 4 AS checkout
            FROM (SELECT id, day, bench.moment(day, bench.r(id, 35), bench.r(id, 36)) AS start_at, kind,
                         CASE WHEN kind = 1 THEN 0
                              ELSE width_bucket(bench.r(id, 32), {sql_array(cumulative(VIEWED), "float8")}) END
                             AS np
                  FROM (SELECT d.first_visit + k - 1 AS id, d.day,
                               width_bucket(bench.r(d.first_visit + k - 1, 31),
                                            {sql_array(cumulative(KINDS), "float8")}) AS kind
                        FROM bench.days d, generate_series(1, d.visits) k WHERE d.visits > 0) x) y""",
            **self.visit_draws(buying=False),
        )
        self.sql("CREATE INDEX ON bench.v (day)")
        days, orders, visits = p["days"], p["orders"], p["visits"]
        weights = [orders[n] * 1.1 + visits[n] * other_visit_events() for n in range(len(days))]
        total, done, started = 0, 0, time.monotonic()
        window = self.window_literal()
        for first, last in chunks(weights, 400_000):
            low, high = self.first_id(first), self.first_id(last) + orders[last] - 1
            done += self.sql(
                EVENTS,
                low=low,
                high=high,
                first=f"'{days[first]}'::date",
                last=f"'{days[last]}'::date",
                window=window,
                sources=sql_array([s[0] for s in SOURCES], "text"),
                media=sql_array([s[1] for s in SOURCES], "text"),
                campaigns=sql_array([s[2] for s in SOURCES], "text"),
            ).rowcount
            total = done
            took = time.monotonic() - started
            log(f"  events: {total:,} to {days[last]}, {total / took:,.0f} rows/s")

    def visit_draws(self, *, buying: bool) -> dict:
        """Device and source draws: buyers lean to what converts, the others away from it."""

        def weights(share, converts):
            return share * converts if buying else share / converts

        return {
            "devices": sql_array([d[0] for d in DEVICES], "text"),
            "device_weights": sql_array(cumulative([weights(d[1], d[2]) for d in DEVICES]), "float8"),
            "sources": sql_array([s[0] for s in SOURCES], "text"),
            "media": sql_array([s[1] for s in SOURCES], "text"),
            "campaigns": sql_array([s[2] for s in SOURCES], "text"),
            "source_weights": sql_array(cumulative([weights(s[3], s[4]) for s in SOURCES]), "float8"),
        }

    def window_literal(self) -> str:
        p = self.p
        return f"'{p['days'][-p['window']] if p['window'] else self.today}'::date"

    def first_id(self, n: int) -> int:
        return 1 + sum(self.p["orders"][:n])

    def finish(self) -> None:
        for table, column in (("accounts_user", "id"), ("catalog_category", "id"), ("catalog_product", "id"),
                              ("orders_order", "id"), ("discounts_promotion", "id")):  # fmt: skip
            self.sql(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                     f"(SELECT max({column}) FROM {table}))")  # fmt: skip
        self.sql("UPDATE discounts_promotion p SET times_used = (SELECT count(*) FROM discounts_redemption r "
                 "WHERE r.promotion_id = p.id)")  # fmt: skip
        self.sql("DROP SCHEMA bench CASCADE")
        self.sql("RESET session_replication_role")
        self.sql("SET max_parallel_maintenance_workers = 2")
        started = time.monotonic()
        for name, definition in self.indexes:
            t = time.monotonic()
            self.conn.execute(definition)
            log(f"  index {name}: {time.monotonic() - t:.1f} s")
        log(f"  {len(self.indexes)} indexes built in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        self.sql("VACUUM ANALYZE")
        log(f"  VACUUM ANALYZE: {time.monotonic() - started:.0f} s (a bulk load has no statistics yet)")


# Tables whose non-constraint indexes are built after the load.
LOADED = ["accounts_profile", "orders_order", "orders_orderline", "orders_orderevent", "discounts_redemption",
          "loyalty_ledgerentry", "analytics_ordervisit", "analytics_event"]  # fmt: skip


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def chunks(weights: list[float], size: float) -> list[tuple[int, int]]:
    """Consecutive index ranges (first, last) whose weights add up to about `size` each."""
    out, start, acc = [], 0, 0.0
    for n, w in enumerate(weights):
        acc += w
        if acc >= size:
            out.append((start, n))
            start, acc = n + 1, 0.0
    if start < len(weights):
        out.append((start, len(weights) - 1))
    return out


ORDER_LINES = """
INSERT INTO orders_orderline (sku, name, unit_price, quantity, subtotal, discount, order_id, product_id)
SELECT sku, name, price, quantity, subtotal, discount, order_id, product_id
FROM bench.l WHERE order_id BETWEEN @low AND @high ORDER BY order_id, j"""

ORDERS = """
INSERT INTO orders_order (id, number, email, status, currency, subtotal, discount_total, shipping_total, total,
    amount_refunded, shipping_method, shipping_name, shipping_line1, shipping_line2, shipping_city, shipping_region,
    shipping_postal_code, shipping_country, shipping_phone, carrier, tracking_number, idempotency_scope,
    idempotency_key, cart_token, placed_at, paid_at, expires_at, updated_at, user_id)
SELECT o.id, 'AB' || lpad(o.id::text, 9, '0'),
    CASE WHEN o.user_id IS NOT NULL THEN 'customer' || o.user_id || @customers_at
         ELSE 'guest' || floor(@G * power(bench.r(o.id, 12), 1.3))::bigint || @guests_at END,
    CASE WHEN o.refund = 'full' THEN 'refunded'
         WHEN o.paid_at > now() - interval '2 days' THEN 'paid'
         WHEN o.paid_at > now() - interval '6 days' THEN 'shipped' ELSE 'delivered' END,
    @cur, s.subtotal, s.discount, t.shipping, t.total,
    CASE o.refund WHEN 'full' THEN t.total WHEN 'partial' THEN greatest(0.01, round(t.total * 0.4, 2)) ELSE 0 END,
    CASE WHEN o.express THEN 'express' ELSE 'standard' END,
    'Customer ' || coalesce(o.user_id, o.id), (1 + o.id % 400) || ' Market Street', '', pl.city, pl.region,
    lpad((o.id % 99999)::text, 5, '0'), pl.country, '', '', '',
    CASE WHEN o.user_id IS NOT NULL THEN 'user:' || o.user_id ELSE 'cart:' || md5('c' || o.id) END, '', NULL,
    o.placed_at, o.paid_at, NULL, o.paid_at + interval '3 days', o.user_id
FROM bench.o o
JOIN (SELECT order_id, sum(subtotal) AS subtotal, sum(discount) AS discount FROM bench.l
      WHERE order_id BETWEEN @low AND @high GROUP BY order_id) s ON s.order_id = o.id
CROSS JOIN LATERAL (
    SELECT x.shipping, s.subtotal - s.discount + x.shipping AS total
    FROM (SELECT CASE WHEN o.express THEN 12.99 WHEN s.subtotal - s.discount >= 50 THEN 0 ELSE 4.99 END AS shipping) x
) t
JOIN bench.places pl ON pl.idx = width_bucket(bench.r(coalesce(o.user_id, o.id), 108), @places)
WHERE o.id BETWEEN @low AND @high
ORDER BY o.id"""

# What orders.services writes on an order's timeline: placed, paid, shipped, delivered, and refunds
# with their amount (what the refund figures read).
TIMELINE = """
INSERT INTO orders_orderevent (kind, status, message, data, created_at, actor_id, order_id)
SELECT e.kind, e.status, '', e.data, e.at, NULL, o.id
FROM orders_order o JOIN bench.o b ON b.id = o.id
CROSS JOIN LATERAL (VALUES
    ('placed', 'pending_payment', '{}'::jsonb, o.placed_at),
    ('paid', 'paid', '{}'::jsonb, o.paid_at),
    ('shipped', 'shipped', '{}'::jsonb, o.paid_at + interval '1 day'),
    ('delivered', 'delivered', '{}'::jsonb, o.paid_at + interval '4 days'),
    (CASE b.refund WHEN 'full' THEN 'refunded' ELSE 'partially_refunded' END,
     CASE b.refund WHEN 'full' THEN 'refunded' ELSE 'delivered' END,
     jsonb_build_object('amount', o.amount_refunded::text, 'reference', 're_bench_' || o.id),
     CASE WHEN b.refund IS NOT NULL THEN b.refund_at END)
) e(kind, status, data, at)
WHERE o.id BETWEEN @low AND @high AND e.at IS NOT NULL AND e.at < now()
ORDER BY e.at"""

REDEMPTIONS = """
INSERT INTO discounts_redemption (amount, currency, status, created_at, released_at, code_id, customer_id, order_id,
    promotion_id)
SELECT o.discount_total, o.currency, 'active', o.placed_at, NULL, NULL, o.user_id, o.id, b.promo
FROM orders_order o JOIN bench.o b ON b.id = o.id
WHERE o.id BETWEEN @low AND @high AND b.promo IS NOT NULL"""

ORDER_VISITS = """
INSERT INTO analytics_ordervisit (order_id, visit, device, source, medium, campaign, customer_id)
SELECT id, md5('o' || @seed || '-' || id)::uuid,
    (@devices)[width_bucket(bench.r(id, 45), @device_weights)],
    (@sources)[src], (@media)[src], (@campaigns)[src],
    CASE WHEN user_id IS NOT NULL AND bench.consents(user_id) THEN user_id END
FROM (SELECT id, user_id, width_bucket(bench.r(id, 46), @source_weights) AS src FROM bench.o
      WHERE id BETWEEN @low AND @high AND visited) x"""

# One chunk of days of the event log, in time order. The purchase of every order paid those days
# (with the visit that placed it, if any), the refunds made those days, the visits that placed
# orders (landing page, each line's product page, view and add, cart, checkout, order) and the
# visits that bought nothing (bench.v: a landing page, then by their kind product pages and views,
# adds, a removal, the cart and checkout). A row's day is its moment's store day.
EVENTS = """
INSERT INTO analytics_event (name, at, day, visit, customer_id, product_id, order_id, quantity, value, currency,
    device, source, medium, campaign, path, data)
SELECT name, at, (at AT TIME ZONE @tz)::date, visit, customer_id, product_id, order_id, quantity, value,
    CASE WHEN value IS NULL THEN '' ELSE @cur END, device, source, medium, campaign, path, data
FROM (
    SELECT 'purchase' AS name, o.paid_at AS at, ov.visit, ov.customer_id, NULL::bigint AS product_id,
        o.id AS order_id, NULL::int AS quantity, o.total AS value, coalesce(ov.device, 'other') AS device,
        coalesce(ov.source, 'direct') AS source, coalesce(ov.medium, 'none') AS medium,
        coalesce(ov.campaign, '') AS campaign, '' AS path,
        jsonb_build_object('subtotal', o.subtotal::text, 'discount', o.discount_total::text,
                           'shipping', o.shipping_total::text) AS data
    FROM orders_order o LEFT JOIN analytics_ordervisit ov ON ov.order_id = o.id
    WHERE o.id BETWEEN @low AND @high
  UNION ALL
    SELECT 'refund', b.refund_at, ov.visit, ov.customer_id, NULL, o.id, NULL, o.amount_refunded,
        coalesce(ov.device, 'other'), coalesce(ov.source, 'direct'), coalesce(ov.medium, 'none'),
        coalesce(ov.campaign, ''), '', jsonb_build_object('reference', 're_bench_' || o.id)
    FROM bench.o b JOIN orders_order o ON o.id = b.id LEFT JOIN analytics_ordervisit ov ON ov.order_id = b.id
    WHERE b.refund IS NOT NULL AND b.refund_day BETWEEN @first AND @last
  UNION ALL
    SELECT e.name, o.placed_at - make_interval(secs => (2 * b.nlines + 3 - e.k) * 40 - e.sub * 2),
        ov.visit, ov.customer_id, e.product_id, CASE WHEN e.name = 'place_order' THEN o.id END, e.quantity, e.value,
        ov.device, ov.source, ov.medium, ov.campaign, e.path, e.data
    FROM bench.o b JOIN orders_order o ON o.id = b.id JOIN analytics_ordervisit ov ON ov.order_id = b.id
    CROSS JOIN LATERAL bench.landing(bench.r(b.id, 43), bench.r(b.id, 44)) land
    CROSS JOIN LATERAL (
        SELECT 0 AS k, 0 AS sub, 'page_view' AS name, NULL::bigint AS product_id, NULL::int AS quantity,
            NULL::numeric AS value, land.path AS path, '{}'::jsonb AS data
        UNION ALL SELECT 0, 1, 'view_item_list', NULL, NULL, NULL, land.path, jsonb_build_object('list', land.list)
            WHERE land.list IS NOT NULL
        UNION ALL SELECT 2 * l.j - 1, s.sub, CASE s.sub WHEN 0 THEN 'page_view' ELSE 'view_item' END,
            CASE WHEN s.sub = 1 THEN l.product_id END, NULL, NULL, '/product/product-' || l.product_id || '/', '{}'
            FROM bench.l l, (VALUES (0), (1)) s(sub) WHERE l.order_id = b.id
        UNION ALL SELECT 2 * l.j, 0, 'add_to_cart', l.product_id, l.quantity, l.subtotal, '/cart/add/', '{}'
            FROM bench.l l WHERE l.order_id = b.id
        UNION ALL SELECT 2 * b.nlines + 1, 0, 'page_view', NULL, NULL, NULL, '/cart/', '{}'
        UNION ALL SELECT 2 * b.nlines + 2, 0, 'begin_checkout', NULL, NULL, o.total, '/checkout/', '{}'
        UNION ALL SELECT 2 * b.nlines + 3, 0, 'place_order', NULL, NULL, o.total, '/checkout/', '{}'
    ) e
    WHERE b.id BETWEEN @low AND @high AND b.visited
  UNION ALL
    SELECT e.name, v.start_at + make_interval(secs => e.k * 40 + e.sub * 2 + floor(bench.r(v.id * 16 + e.k, 42) * 20)),
        v.visit, v.customer_id, e.product_id, NULL, e.quantity, e.quantity * p.price, v.device,
        (@sources)[v.src], (@media)[v.src], (@campaigns)[v.src], e.path, e.data
    FROM bench.v v
    CROSS JOIN LATERAL bench.landing(bench.r(v.id, 43), bench.r(v.id, 44)) land
    CROSS JOIN LATERAL (
        SELECT 0 AS k, 0 AS sub, 'page_view' AS name, NULL::bigint AS product_id, NULL::int AS quantity,
            land.path AS path, '{}'::jsonb AS data
        UNION ALL SELECT 0, 1, 'view_item_list', NULL, NULL, land.path, jsonb_build_object('list', land.list)
            WHERE land.list IS NOT NULL
        UNION ALL SELECT 2 * i - 1, s.sub, CASE s.sub WHEN 0 THEN 'page_view' ELSE 'view_item' END,
            CASE WHEN s.sub = 1 THEN pid END, NULL, '/product/product-' || pid || '/', '{}'
            FROM generate_series(1, v.np) i,
                 LATERAL (SELECT 1 + floor(@P * power(bench.r(v.id * 8 + i, 30), 2.2))::bigint AS pid) x,
                 (VALUES (0), (1)) s(sub)
        UNION ALL SELECT 2 * v.np + i, 0, 'add_to_cart', 1 + floor(@P * power(bench.r(v.id * 8 + i, 30), 2.2))::bigint,
            1, '/cart/add/', '{}' FROM generate_series(1, v.na) i
        UNION ALL SELECT 2 * v.np + v.na + 1, 0, 'remove_from_cart',
            1 + floor(@P * power(bench.r(v.id * 8 + 1, 30), 2.2))::bigint, 1, '/cart/', '{}' WHERE v.removes
        UNION ALL SELECT 2 * v.np + v.na + 2, 0, 'page_view', NULL, NULL, '/cart/', '{}' WHERE v.checkout
        UNION ALL SELECT 2 * v.np + v.na + 3, 0, 'begin_checkout', NULL, NULL, '/checkout/', '{}' WHERE v.checkout
    ) e
    LEFT JOIN catalog_product p ON p.id = e.product_id AND e.quantity IS NOT NULL
    WHERE v.day BETWEEN @first AND @last
) x
ORDER BY at"""


# -- what runs in manage.py shell ---------------------------------------------------------------------

# The single-day rebuilds: each timed with its SQL; then EXPLAIN ANALYZE of the slowest SELECT.
REBUILD_SCRIPT = r"""
import datetime as dt, json, re, time
from django.db import connection
from marketing.analytics import rollups
from marketing.analytics.models import Event
from shop.orders.models import Order

def what(sql):  # a short name for a query: its verb, table and what it groups by
    clean = sql.replace('"', "")
    table = re.search(r"(?:FROM|INTO|UPDATE) (\w+)", clean)
    label = clean.split(None, 1)[0] + " " + (table.group(1) if table else "?")
    group = re.search(r"GROUP BY (.*?)(?: ORDER BY|$)", clean)
    if group:
        aliases = re.findall(r" AS (\w+)", clean.split(" FROM ", 1)[0])
        parts = [p.strip() for p in group.group(1).split(",")]
        names = [aliases[int(p) - 1] if p.isdigit() and int(p) <= len(aliases) else p.split(".")[-1] for p in parts]
        label += " by " + ", ".join(names)[:40]
    return label

def timed(first, last):
    queries = []
    def wrapper(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(((time.perf_counter() - t) * 1000, sql, params))
    with connection.execute_wrapper(wrapper):
        t = time.perf_counter()
        figures = rollups.build_days(first, last)
        seconds = time.perf_counter() - t
    t = time.perf_counter()
    rollups.figures_for_days(first, last)
    live = time.perf_counter() - t
    start, end = rollups.day_window(first)[0], rollups.day_window(last)[1]
    top = sorted(queries, key=lambda q: -q[0])
    row = {
        "day": str(first) if first == last else f"{first.month:02}-{first.day:02}..{last.month:02}-{last.day:02}",
        "seconds": seconds, "live": live, "queries": len(queries), "figures": figures,
        "orders": Order.objects.filter(paid_at__gte=start, paid_at__lt=end).count(),
        "events": Event.objects.filter(day__gte=first, day__lte=last).count(),
        "top": [{"ms": ms, "what": what(sql)} for ms, sql, _p in top[:5]],
    }
    select = next((q for q in top if q[1].lstrip().upper().startswith("SELECT")), None)
    return row, select

def explain(select, day):
    ms, sql, params = select
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    return {"day": day, "ms": ms, "sql": sql, "plan": plan}

out = {"days": [], "explain": []}
slowest = None
for text in PARAMS["days"]:
    day = dt.date.fromisoformat(text)
    row, select = timed(day, day)
    out["days"].append(row)
    if select and (slowest is None or select[0] > slowest[0][0]):
        slowest = (select, text)
if slowest:
    out["explain"].append(explain(*slowest))
first, last = (dt.date.fromisoformat(d) for d in PARAMS["month"])
out["month"], select = timed(first, last)
if select:
    out["explain"].append(explain(select, out["month"]["day"]))
print("REBUILD" + json.dumps(out, default=str))
"""

# The staff member who opens the dashboards (staff, "Can view dashboard" only), their session
# cookie and API token; the dashboards and their URLs as the code has them now.
SETUP_SCRIPT = r"""
import json
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from rest_framework.authtoken.models import Token
from marketing.analytics.admin import DASHBOARDS
from shop.accounts.models import User

staff, _ = User.objects.get_or_create(email=PARAMS["staff"], defaults={"is_staff": True})
staff.user_permissions.add(Permission.objects.get(content_type__app_label="analytics", codename="view_dashboard"))
client = Client()
client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
token, _ = Token.objects.get_or_create(user=staff)
api = {}
for name in DASHBOARDS:
    try:
        resolve(f"/api/v1/analytics/{name}/")
        api[name] = f"/api/v1/analytics/{name}/"
    except Resolver404:
        pass
print("SETUP" + json.dumps({
    "dashboards": list(DASHBOARDS),
    "admin": {name: reverse(f"admin:analytics_dashboard_{name}") for name in DASHBOARDS},
    "api": api,
    "cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
    "token": token.key,
}))
"""

# In-process: each URL once unmeasured, then once with its SQL timed; EXPLAIN ANALYZE of the slowest
# SELECT for the URLs over target.
PROFILE_SCRIPT = r"""
import json, time
from django.db import connection
from django.test import Client
from shop.accounts.models import User

staff = User.objects.get(email=PARAMS["staff"])
client = Client()
client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
out = []
def profile(name, kind, url, explain):
    extra = {"HTTP_AUTHORIZATION": "Token " + PARAMS["token"]} if kind == "api" else {}
    client.get(url, **extra)
    queries = []
    def wrapper(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(((time.perf_counter() - t) * 1000, sql, params))
    with connection.execute_wrapper(wrapper):
        t = time.perf_counter()
        response = client.get(url, **extra)
        ms = (time.perf_counter() - t) * 1000
    if response.status_code != 200:
        return {"name": name, "kind": kind, "url": url, "error": f"answered {response.status_code}"}
    top = sorted(queries, key=lambda q: -q[0])
    row = {"name": name, "kind": kind, "url": url, "ms": ms, "queries": len(queries),
           "sql_ms": sum(q[0] for q in queries), "top": [{"ms": q[0], "sql": q[1]} for q in top[:3]]}
    if explain and top and top[0][1].lstrip().upper().startswith("SELECT"):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + top[0][1], top[0][2])
            row["plan"] = [r[0] for r in cursor.fetchall()]
    return row

for name, kind, url, explain in PARAMS["urls"]:
    try:
        out.append(profile(name, kind, url, explain))
    except Exception as exc:  # another dashboard may still be measured (the code may be mid-change)
        out.append({"name": name, "kind": kind, "url": url, "error": repr(exc)[:300]})
print("PROFILE" + json.dumps(out, default=str))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="paid orders over 3 years (default 1,000,000)")
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the log (default 10,000,000)")
    parser.add_argument("--customers", type=int, default=200_000, help="registered customers (default 200,000)")
    parser.add_argument("--products", type=int, default=1_000, help="products (default 1,000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per dashboard URL (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests before them (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="the data's seed (default 1)")
    parser.add_argument("--time-zone", help="ANALYTICS_TIME_ZONE for the run (default: the settings')")
    args = parser.parse_args()
    if args.orders < 1000 or args.events < args.orders or args.customers < 100 or args.products < 10:
        sys.exit("--orders takes 1,000 or more, --events at least as many as --orders (each paid order has its "
                 "purchase), --customers 100 or more, --products 10 or more")  # fmt: skip
    if not 1 <= args.requests <= 1000 or not 1 <= args.warmup <= 100:
        sys.exit("--requests takes 1 to 1000, --warmup 1 to 100")
    if args.time_zone:
        try:
            ZoneInfo(args.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            sys.exit(f"--time-zone: {args.time_zone!r} is not a time zone (e.g. Europe/Paris)")
    RESULTS.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    bench = AnalyticsBench(args)
    started = time.monotonic()
    try:
        load = load_average()
        bench.prepare()
        bench.header(load)
        bench.generate()
        bench.build_all()
        bench.rebuild_days()
        bench.dashboards()
        bench.profile()
        bench.summary(time.monotonic() - started)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.stop_gunicorn()
        bench.stop_postgres()
        if bench.report:  # what was measured, even when a later step failed
            log(f"saved {bench.save().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
