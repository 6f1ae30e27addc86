"""Campaigns benchmark: time and memory to build and send a campaign to 100,000 recipients.

    .venv/bin/python bench/campaigns.py                       # SQLite, about 100,000 recipients
    .venv/bin/python bench/campaigns.py --db postgres         # a private PostgreSQL on 127.0.0.1:5470-5479
    .venv/bin/python bench/campaigns.py --quick               # about 10,000 recipients: a quick look

One command: a throwaway var dir under bench/results/ (and, with --db postgres, a
private PostgreSQL, thrown away at the end), `migrate`, then, each step in a child
process of its own (so that its peak memory is its own):

1. seed: customers with profiles (90% in the US or Canada), email consent for 80% of
   them, orders for a third (a few big spenders), 1% of the consenting addresses
   suppressed; a segment "country in US,CA and total spent at most 5,000" (a rule that
   reads the orders) and a campaign with content A. Customers are written in bulk,
   enough of them for --recipients to be listed.
2. list: the segment's size and reach queries, `campaign_start`, then
   `services.campaign_list_chunk` in a loop, as the `list_recipients` task chain runs
   it; the tasks' `.delay` collects what would be enqueued (after commit, as in
   production) instead of calling Celery.
3. send: `services.batch_send` over every batch the listing queued, with Django's
   locmem email backend (each message rendered to MIME; the outbox emptied after
   each batch). One batch runs under CaptureQueriesContext, another under tracemalloc;
   both are left out of the per-batch times.
4. results: `services.variant_figures` on the finished campaign.

Prints a table and saves everything as bench/results/campaigns-<db>-<time>.json.
See bench/README.md ("Campaigns benchmark").
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from common import PYTHON, RESULTS, ROOT, Stack, load_average, log, percentile

DOMAIN = "campaigns.bench.test"
STEP_MARK = "STEP-RESULT"
PG_PORTS = range(5470, 5480)
# Who is a recipient: in the US or Canada, email consent, not a big spender (the segment's
# rule that reads the orders). The seed writes enough customers for --recipients of them.
NORTH_AMERICA, CONSENT, MODEST = 0.90, 0.80, 0.99
BUYERS, SUPPRESSED = 0.33, 0.01


# --- the outer process: stack, steps, report ----------------------------------------------------


def pick_pg_port() -> int:
    for port in PG_PORTS:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    sys.exit(f"No free port in 127.0.0.1:{PG_PORTS.start}-{PG_PORTS.stop - 1} for PostgreSQL")


class CampaignsBench(Stack):
    def __init__(self, args):
        super().__init__(
            db=args.db,
            var_dir=Path(args.var_dir or RESULTS / f"var-campaigns-{args.db}"),
            pg_port=pick_pg_port() if args.db == "postgres" else 0,
        )

    def prepare(self) -> None:
        for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
            (self.var_dir / name).unlink(missing_ok=True)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log(f"var dir: {self.var_dir}")
        log("migrate")
        self.manage("migrate", "--noinput", "-v", "0")

    def step(self, name: str, **params) -> dict:
        """Run one Django-side step in a child process (its progress on stderr); its JSON result."""
        done = subprocess.run(
            [str(PYTHON), str(Path(__file__).resolve()), "step", name, json.dumps(params)],
            cwd=ROOT,
            env=self.env,
            check=True,
            text=True,
            stdout=subprocess.PIPE,
        )
        line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith(STEP_MARK))
        return json.loads(line[len(STEP_MARK) :])


def machine() -> str:
    try:
        names = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 1024**2
        return f"{os.cpu_count()} cores ({names[0].strip() if names else '?'}), {memory:.0f} GB"
    except (OSError, AttributeError):
        return f"{os.cpu_count()} cores"


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True)
    return done.stdout.strip() or "?"


def report(args, result: dict) -> None:
    seed, listing, sending, figures = (result[k] for k in ("seed", "list", "send", "results"))
    print()
    print(
        f"Bazaar campaigns benchmark: {args.db} ({result['database']}), {result['machine']}, at {result['commit']}; "
        f"load average before/after: {result['load_average'][0]} / {result['load_average'][1]}"
    )
    print(
        f"Seeded in {seed['seconds']:.0f}s: {seed['customers']:,} customers, {seed['consents']:,} with email "
        f"consent, {seed['orders']:,} orders, {seed['suppressions']:,} suppressed addresses."
    )
    print(f"Segment: {seed['segment']}")
    rows = [
        ("segment size: members(segment).count()", f"{listing['size']:,} customers", listing["size_ms"]),
        ("reach: members with email consent, count()", f"{listing['reach']:,} customers", listing["reach_ms"]),
    ]
    print(f"\n1. Segment queries (ms: first run, then the median of {len(listing['size_ms']) - 1} more)")
    for label, what, runs in rows:
        print(f"   {label:<46} {what:>18}  {runs[0]:>8.1f} ms, then {statistics.median(runs[1:]):>8.1f} ms")

    c = listing["chunks"]
    print(
        f"\n2. Listing: {listing['listed']:,} recipients in {c['n']} chunks of {listing['chunk_size']:,} "
        f"(campaign_list_chunk), {c['total_s']:.1f} s in all ({listing['listed'] / c['total_s']:,.0f} recipients/s)"
    )
    print(
        f"   per chunk: p50 {c['p50_ms']:.0f} ms, p90 {c['p90_ms']:.0f}, max {c['max_ms']:.0f} "
        f"(first {c['first_ms']:.0f}, last {c['last_ms']:.0f}); SQL per chunk {c['sql_per_chunk']}"
    )
    print(f"   batches queued on commit: {listing['batches']} (of up to {listing['batch_size']} messages)")
    print(
        f"   memory: peak RSS {listing['rss_before_mb']:.0f} MB before, {listing['rss_peak_mb']:.0f} MB after; "
        f"tracemalloc peak over one chunk {listing['tracemalloc_chunk_mb']:.1f} MB"
    )

    b = sending["batches"]
    print(
        f"\n3. Sending: {sending['messages']:,} messages in {b['n']} batches (batch_send, locmem email), "
        f"{sending['total_s']:.1f} s in all: {sending['per_second']:.0f} messages/s"
    )
    print(f"   outcomes: {', '.join(f'{k} {v:,}' for k, v in sending['outcomes'].items())}")
    print(
        f"   per batch of {sending['batch_size']}: p50 {b['p50_s']:.2f} s, p90 {b['p90_s']:.2f}, max {b['max_s']:.2f}"
        f" (first {b['first_s']:.2f}, last {b['last_s']:.2f}); {b['ms_per_message']:.2f} ms per message"
    )
    q = sending["captured"]
    print(
        f"   SQL: {sending['sql_per_message']:.1f} statements per message over the whole send; "
        f"in batch {q['batch']} (CaptureQueriesContext): {q['queries']:,} for {q['messages']} messages, "
        f"{q['per_message']:.1f} each, {q['ms_in_sql']:.0f} ms of {q['batch_ms']:.0f} in the database"
    )
    for shape, n in q["shapes"][:14]:
        print(f"     {n / q['messages']:>5.2f} × {shape[:120]}")
    print(
        f"   memory: peak RSS {sending['rss_before_mb']:.0f} MB before, {sending['rss_peak_mb']:.0f} MB after; "
        f"tracemalloc peak over one batch {sending['tracemalloc_batch_mb']:.1f} MB; "
        f"emails rendered {sending['emails']:,} ({sending['email_kb']:.1f} KB each)"
    )

    print(
        f"\n4. Results: variant_figures() on {figures['messages']:,} messages: {figures['ms'][0]:.0f} ms first, "
        f"then {statistics.median(figures['ms'][1:]):.0f} ms; campaign status '{figures['status']}'"
    )
    print(f"   {figures['figures']}")
    print(f"\nWall time: {result['wall_s'] / 60:.1f} min (seed {seed['seconds']:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--recipients", type=int, default=100_000, help="recipients to list and send to (100,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 recipients")
    parser.add_argument("--var-dir", help="throwaway var dir (default bench/results/var-campaigns-<db>)")
    args = parser.parse_args()
    if args.quick:
        args.recipients = 10_000
    if args.recipients < 2000:
        sys.exit("--recipients must be at least 2,000")
    RESULTS.mkdir(parents=True, exist_ok=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    bench = CampaignsBench(args)
    started = time.monotonic()
    result = {"args": vars(args), "machine": machine(), "commit": commit(), "load_average": [load_average(), None]}
    batches_file = RESULTS / f"campaigns-{args.db}-batches.json"
    try:
        if args.db == "postgres":
            bench.start_postgres()
        bench.prepare()
        log(f"seeding customers for {args.recipients:,} recipients")
        result["seed"] = bench.step("seed", recipients=args.recipients)
        if args.db == "postgres":
            log("VACUUM ANALYZE")  # a fresh bulk load has no statistics; autovacuum would provide them
            bench.psql("VACUUM ANALYZE")
        log("listing the recipients")
        result["list"] = bench.step("list", campaign=result["seed"]["campaign"], batches_file=str(batches_file))
        result["database"] = result["list"].pop("database")
        log(f"sending {result['list']['listed']:,} messages")
        result["send"] = bench.step("send", batches_file=str(batches_file))
        log("results")
        result["results"] = bench.step("results", campaign=result["seed"]["campaign"])
        result["load_average"][1] = load_average()
        result["wall_s"] = round(time.monotonic() - started, 1)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        bench.stop_postgres()
        batches_file.unlink(missing_ok=True)
    report(args, result)
    out = RESULTS / f"campaigns-{args.db}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"Saved: {out.relative_to(ROOT)}")
    sent = result["send"]["outcomes"].get("sent", 0)
    return 0 if result["results"]["status"] == "sent" and sent else 1


# --- the Django side: one function per step, run in a child process -----------------------------


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}]   {message}", file=sys.stderr, flush=True)


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


class Queries:
    """Counts the statements a block sends (connection.execute_wrapper: cheap enough to leave on)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)


def collect_enqueued() -> dict[str, list]:
    """The tasks' `.delay`, replaced: what the services enqueue (on commit) is collected, not sent."""
    from marketing.campaigns import tasks

    enqueued: dict[str, list] = {"listing": [], "batches": []}
    tasks.list_recipients.delay = lambda **kw: enqueued["listing"].append(kw["campaign_id"])
    tasks.send_batch.delay = lambda **kw: enqueued["batches"].append(kw["message_ids"])
    return enqueued


def step_seed(recipients: int) -> dict:
    """Customers, profiles, consents, orders and suppressions in bulk; the segment and the campaign."""
    import datetime as dt
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from marketing.campaigns.models import Campaign, Segment, SegmentRule, Suppression, Variant
    from shop.accounts.models import Consent, Profile, User
    from shop.orders.models import Order

    started = time.perf_counter()
    rng = random.Random(7)
    now = timezone.now()
    customers = math.ceil(recipients / (NORTH_AMERICA * CONSENT * MODEST))
    others = ["GB", "DE", "FR", "MX", "AU"]
    cities = {"US": ["Austin", "Boston", "Denver", "Portland"], "CA": ["Toronto", "Montreal", "Vancouver"]}
    chunk = 5000
    counts = Counter()
    for start in range(0, customers, chunk):
        with transaction.atomic():
            users = User.objects.bulk_create(
                User(
                    email=f"c{n:06d}@{DOMAIN}",
                    password="!",
                    first_name=rng.choice(["Ada", "Grace", "Alan", "Linus", "Joan", "Ken", ""]),
                    last_name="Bench",
                    date_joined=now - dt.timedelta(days=rng.randint(1, 1500)),
                )
                for n in range(start, min(customers, start + chunk))
            )
            profiles, consents, orders, suppressed = [], [], [], []
            for user in users:
                country = rng.choice(["US", "US", "CA"]) if rng.random() < NORTH_AMERICA else rng.choice(others)
                city = rng.choice(cities.get(country, ["Elsewhere"]))
                profiles.append(Profile(user=user, country=country, city=city))
                if rng.random() < CONSENT:
                    consents.append(Consent(user=user, channel="email", given=True, changed_at=user.date_joined))
                    if rng.random() < SUPPRESSED:
                        suppressed.append(Suppression(channel="email", address=user.email, reason="bounced"))
                elif rng.random() < 0.25:  # asked, said no
                    consents.append(Consent(user=user, channel="email", given=False, changed_at=user.date_joined))
                big = rng.random() > MODEST
                for k in range(1 if big else rng.choice([1, 1, 2, 3]) if rng.random() < BUYERS else 0):
                    total = Decimal("6000.00") if big else Decimal(rng.randint(2000, 30000)) / 100
                    at = now - dt.timedelta(days=rng.randint(1, 700), seconds=rng.randint(0, 86399))
                    orders.append(
                        Order(
                            user=user, email=user.email, status="delivered", currency="USD", subtotal=total,
                            total=total, shipping_method="standard", shipping_name="Bench", shipping_line1="1 Load St",
                            shipping_city="Testville", shipping_postal_code="12345", shipping_country=country,
                            idempotency_scope="bench-campaigns", idempotency_key=f"{user.pk}-{k}",
                            placed_at=at, paid_at=at,
                        )
                    )  # fmt: skip
            Profile.objects.bulk_create(profiles)
            Consent.objects.bulk_create(consents)
            Order.objects.bulk_create(orders, batch_size=1000)
            Suppression.objects.bulk_create(suppressed)
        counts.update(customers=len(users), orders=len(orders), suppressions=len(suppressed))
        counts.update(consents=sum(c.given for c in consents))
        progress(f"{counts['customers']:,} of {customers:,} customers, {counts['orders']:,} orders")

    segment = Segment.objects.create(name="North America, not big spenders", key="bench-north-america")
    rules = [("country", "in", "US,CA"), ("total_spend", "lte", "5000")]
    for position, (field, operator, value) in enumerate(rules):
        SegmentRule.objects.create(segment=segment, field=field, operator=operator, value=value, position=position)
    campaign = Campaign.objects.create(name="Spring sale", segment=segment)
    Variant.objects.create(
        campaign=campaign,
        key="a",
        subject="{{ first_name }}, spring is here",
        preheader="New arrivals and {{ points }} points waiting",
        body_html=(
            "<h1>Spring is here, {{ first_name }}.</h1><p>New linen, new boots, and your "
            "{{ points }} points ({{ points_value }}) to spend.</p>"
            '<p><a href="/products/">Shop the new arrivals</a> · <a href="/account/points/">Your points</a> · '
            '<a href="https://example.org/journal/spring?x=1&amp;y=2">Read the journal</a></p>'
        ),
    )
    return {
        **counts,
        "seconds": round(time.perf_counter() - started, 1),
        "segment": f"{segment.name}: " + " and ".join(" ".join(rule) for rule in rules),
        "campaign": campaign.pk,
    }


def timed(fn, runs: int = 4) -> tuple[object, list[float]]:
    times, value = [], None
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        times.append(round((time.perf_counter() - started) * 1000, 1))
    return value, times


def step_list(campaign: int, batches_file: str) -> dict:
    import tracemalloc

    from django.conf import settings
    from django.db import connection
    from django.db.models import Exists, OuterRef

    from marketing.campaigns import segments, services
    from marketing.campaigns.models import Campaign, Message
    from shop.accounts.models import Consent

    enqueued = collect_enqueued()
    rss_before = peak_rss_mb()
    c = Campaign.objects.select_related("segment").get(pk=campaign)
    size, size_ms = timed(lambda: segments.members(c.segment).count())
    consenting = Consent.objects.filter(user=OuterRef("pk"), channel="email", given=True)
    reach, reach_ms = timed(lambda: segments.members(c.segment).filter(Exists(consenting)).count())
    progress(f"segment: {size:,} members ({size_ms[0]:.0f} ms), {reach:,} with consent ({reach_ms[0]:.0f} ms)")

    services.campaign_start(campaign=c)
    assert enqueued["listing"] == [campaign], enqueued
    chunk_ms, chunk_sql, traced_mb, more, n = [], [], 0.0, True, 0
    total_started = time.perf_counter()
    while more:
        n += 1
        if n == 2:  # one chunk under tracemalloc, left out of the times
            tracemalloc.start()
            more = services.campaign_list_chunk(campaign_id=campaign)
            traced_mb = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            continue
        with Queries() as queries:
            started = time.perf_counter()
            more = services.campaign_list_chunk(campaign_id=campaign)
            chunk_ms.append((time.perf_counter() - started) * 1000)
        chunk_sql.append(queries.count)
        if n % 10 == 0 or not more:
            progress(f"chunk {n}: {len(enqueued['batches']):,} batches queued, last {chunk_ms[-1]:.0f} ms")
    total_s = time.perf_counter() - total_started
    listed = Message.objects.filter(campaign_id=campaign).count()
    ids = [pk for batch in enqueued["batches"] for pk in batch]
    if len(ids) != listed or len(set(ids)) != listed:
        raise SystemExit(f"{listed:,} messages listed but {len(ids):,} queued ({len(set(ids)):,} distinct)")
    Path(batches_file).write_text(json.dumps(enqueued["batches"]))
    ordered = sorted(chunk_ms)
    return {
        "database": f"{connection.vendor} {'.'.join(map(str, connection.Database.sqlite_version_info)) if connection.vendor == 'sqlite' else connection.pg_version}",  # noqa: E501
        "size": size,
        "size_ms": size_ms,
        "reach": reach,
        "reach_ms": reach_ms,
        "listed": listed,
        "chunk_size": settings.CAMPAIGNS_LIST_CHUNK,
        "batch_size": settings.CAMPAIGNS_BATCH_SIZE,
        "batches": len(enqueued["batches"]),
        "chunks": {
            "n": n,
            "total_s": round(total_s, 2),
            "p50_ms": percentile(ordered, 50),
            "p90_ms": percentile(ordered, 90),
            "max_ms": ordered[-1],
            "first_ms": chunk_ms[0],
            "last_ms": chunk_ms[-1],
            "sql_per_chunk": dict(Counter(chunk_sql)),
            "ms": [round(x, 1) for x in chunk_ms],
        },
        "rss_before_mb": rss_before,
        "rss_peak_mb": peak_rss_mb(),
        "tracemalloc_chunk_mb": round(traced_mb, 2),
    }


def shape(sql: str) -> str:
    """A statement with its values taken out, to count statements of one kind."""
    sql = re.sub(r"'[^']*'", "?", sql)
    sql = re.sub(r"\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\((\?, )+\?\)", "(...)", sql)
    select = re.match(r"SELECT .*? FROM (\S+)(.*)", sql, re.S)
    if select:  # the columns say little: the table and the conditions say which query it is
        sql = f"SELECT … FROM {select.group(1)}{select.group(2)}"
    return re.sub(r"\s+", " ", sql).strip()


def step_send(batches_file: str) -> dict:
    import tracemalloc

    from django.conf import settings
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from marketing.campaigns import services

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    collect_enqueued()
    batches = json.loads(Path(batches_file).read_text())
    rss_before = peak_rss_mb()
    outcomes: Counter = Counter()
    batch_s, emails, email_bytes, sampled, statements = [], 0, 0, 0, 0
    traced_mb, captured = 0.0, {}
    total_started = time.perf_counter()
    for n, ids in enumerate(batches, 1):
        if n == 2:  # one batch under tracemalloc, left out of the times
            tracemalloc.start()
            outcomes.update(services.batch_send(message_ids=ids))
            traced_mb = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        elif n == 3:  # one batch with every statement kept, left out of the times
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                outcomes.update(services.batch_send(message_ids=ids))
                ms = (time.perf_counter() - started) * 1000
            shapes = Counter(shape(q["sql"]) for q in queries.captured_queries)
            captured = {
                "batch": n,
                "messages": len(ids),
                "queries": len(queries),
                "per_message": len(queries) / len(ids),
                "batch_ms": ms,
                "ms_in_sql": sum(float(q["time"]) for q in queries.captured_queries) * 1000,
                "shapes": shapes.most_common(),
            }
            statements += len(queries)
        else:
            with Queries() as queries:
                started = time.perf_counter()
                outcomes.update(services.batch_send(message_ids=ids))
                batch_s.append(time.perf_counter() - started)
            statements += queries.count
        emails += len(mail.outbox)
        if mail.outbox:
            email_bytes += len(mail.outbox[0].message().as_bytes())
            sampled += 1
        mail.outbox.clear()  # what a real backend would have handed over
        if n % 20 == 0 or n == len(batches):
            done = sum(len(b) for b in batches[:n])
            elapsed = time.perf_counter() - total_started
            progress(f"batch {n}/{len(batches)}: {done:,} messages, {done / elapsed:.0f}/s, last {batch_s[-1]:.2f} s")
    total_s = time.perf_counter() - total_started
    messages = sum(len(b) for b in batches)
    ordered = sorted(batch_s)
    return {
        "messages": messages,
        "batch_size": settings.CAMPAIGNS_BATCH_SIZE,
        "total_s": round(total_s, 1),
        "per_second": messages / total_s,
        "outcomes": dict(outcomes.most_common()),
        "batches": {
            "n": len(batches),
            "p50_s": percentile(ordered, 50),
            "p90_s": percentile(ordered, 90),
            "max_s": ordered[-1],
            "first_s": batch_s[0],
            "last_s": batch_s[-1],
            "ms_per_message": statistics.median(ordered) * 1000 / settings.CAMPAIGNS_BATCH_SIZE,
            "s": [round(x, 3) for x in batch_s],
        },
        "sql_per_message": statements / messages,
        "captured": captured,
        "emails": emails,
        "email_kb": email_bytes / max(1, sampled) / 1024,
        "rss_before_mb": rss_before,
        "rss_peak_mb": peak_rss_mb(),
        "tracemalloc_batch_mb": round(traced_mb, 2),
    }


def step_results(campaign: int) -> dict:
    from marketing.campaigns import services
    from marketing.campaigns.models import Campaign, Message

    c = Campaign.objects.get(pk=campaign)
    figures, ms = timed(lambda: services.variant_figures(c))
    return {
        "messages": Message.objects.filter(campaign=c).count(),
        "ms": ms,
        "status": c.status,
        "figures": {k: {f: v for f, v in row.items() if f != "variant"} for k, row in figures.items()},
    }


STEPS = {"seed": step_seed, "list": step_list, "send": step_send, "results": step_results}


def run_step(name: str, params: str) -> None:
    django_setup()
    result = STEPS[name](**json.loads(params))
    print(STEP_MARK + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "step":
        run_step(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main())
