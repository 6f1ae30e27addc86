"""Import a big product CSV while shoppers add to cart: does the store keep serving?

    python bench/import.py                       # 20,000 rows into a copy of the embedded SQLite store
    python bench/import.py --rows 5000 --batch-size 250
    python bench/import.py --code /path/to/other/checkout   # the same measurement of another version

1. Prepares a throwaway store once (bench/results/var-import/: migrate, seed_demo), then
   copies its SQLite database for each run, so every run starts from the same store.
2. Writes a CSV of --rows products: a tenth update existing products, the rest are new.
3. Starts a shopper process that adds to cart through Django's test client in a loop
   (a new anonymous visitor every 10 adds: a cart and a session written), measures a
   few seconds of idle latency, then runs `manage.py import_products` in another process.
4. Prints the import time and batches, and the add-to-cart p50/p99/max latency and its
   errors (anything but the redirect a successful add answers) during the import.
   The figures are saved in bench/results/import-<time>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def environment(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        BAZAAR_LOCAL_SERVICES="1",  # production settings, this machine's stand-ins (config/production.py)
        SECRET_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="testserver,127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        BAZAAR_VAR_DIR=str(var_dir),
        LOG_LEVEL="ERROR",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(code: Path, env: dict, *argv: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *argv],
        cwd=code,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
    )
    return result.stdout or ""


# The shopper: runs in its own process (python bench/import.py --shopper OUT), with the store's settings.
SHOPPER_ADDS_PER_VISITOR = 10


def shopper(out: Path, stop: Path, ready: Path) -> None:
    import random

    import django

    sys.path.insert(0, os.getcwd())
    django.setup()
    from django.db.models import Count
    from django.test import Client

    from shop.catalog.models import Product

    # The newest products: the file updates the oldest ones (and may set their stock to 0). Added by
    # product, so each with a single variant (one in sizes and colours would ask which).
    active = Product.objects.filter(is_active=True, stock__gt=5).annotate(n=Count("variants")).filter(n=1)
    active = active.order_by("-pk")
    products = list(active.values_list("pk", flat=True)[:500])
    rng = random.Random(1)
    samples = []  # (wall clock at start, seconds, status)
    Client().get("/cart/")  # the first request loads the URLs and templates: not a shopper's latency
    ready.touch()
    client, adds = Client(), 0
    while not stop.exists():
        if adds == SHOPPER_ADDS_PER_VISITOR:
            client, adds = Client(), 0
        started = time.time()
        t0 = time.perf_counter()
        try:
            status = client.post("/cart/add/", {"product": rng.choice(products), "quantity": 1}).status_code
        except Exception as exc:  # an exception is the 500 a browser would get
            status = f"500 {type(exc).__name__}: {str(exc)[:80]}"
        samples.append((started, time.perf_counter() - t0, status))
        adds += 1
    out.write_text(json.dumps(samples))


# The run ----------------------------------------------------------------------------


def prepare_store(template_dir: Path, scale: int) -> Path:
    """A seeded store, made once; each run works on a copy of its database."""
    template = template_dir / "store.sqlite3"
    if template.exists():
        return template
    log(f"preparing the store once in {template_dir} (migrate, seed_demo --scale {scale})")
    template_dir.mkdir(parents=True, exist_ok=True)
    env = environment(template_dir)
    manage(ROOT, env, "migrate", "--no-input")
    manage(ROOT, env, "seed_demo", "--scale", str(scale))
    manage(ROOT, env, "collectstatic", "--no-input")  # DEBUG is off: pages need the static manifest
    # One file, no write-ahead log beside it, so that a copy is the whole store.
    manage(ROOT, env, "shell", "-c", "from django.db import connection; connection.cursor().execute('VACUUM')")
    (template_dir / "db.sqlite3").rename(template)
    for extra in ("db.sqlite3-wal", "db.sqlite3-shm"):
        (template_dir / extra).unlink(missing_ok=True)
    return template


def write_csv(path: Path, code: Path, env: dict, rows: int) -> int:
    facts = json.loads(
        manage(
            code,
            env,
            "shell",
            "-c",
            "import json; from shop.catalog.models import Category, Product; "
            "print(json.dumps({'categories': list(Category.objects.values_list('slug', flat=True)), "
            "'skus': list(Product.objects.order_by('pk').values_list('sku', flat=True))}))",
            capture=True,
        )
        .strip()
        .splitlines()[-1]
    )
    categories, existing = facts["categories"], facts["skus"][: rows // 10]
    with path.open("w", newline="") as out:
        out.write("sku,name,slug,category,price,compare_at_price,stock,is_active,is_featured,description\n")
        for i in range(rows):
            sku = existing[i] if i < len(existing) else f"BENCH-{i:06d}"
            category = categories[i % len(categories)]
            price = f"{5 + (i % 200)}.{i % 100:02d}"
            out.write(f'{sku},Bench product {i},,{category},{price},,{i % 50},1,0,"Made for the import benchmark."\n')
    return len(existing)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else 0.0


def stats(samples: list, start: float, end: float) -> dict:
    window = [(latency, status) for at, latency, status in samples if start <= at <= end]
    latencies = [latency * 1000 for latency, _status in window]
    statuses: dict[str, int] = {}
    for _latency, status in window:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "requests": len(window),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=0), 1),
        # A server error (500) or "busy, try again" (503): the add did not happen.
        "errors": sum(n for status, n in statuses.items() if status.startswith("5")),
        "statuses": statuses,
    }


def run(args) -> dict:
    code = Path(args.code).resolve() if args.code else ROOT
    template = prepare_store(RESULTS / "var-import-template", args.scale)
    var_dir = Path(args.var_dir or RESULTS / "var-import").resolve()
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    shutil.copyfile(template, var_dir / "db.sqlite3")
    shutil.copytree(template.parent / "static", var_dir / "static")
    env = environment(var_dir)
    log(f"store copied to {var_dir}; code from {code}")
    manage(code, env, "migrate", "--no-input")  # the other version's tables, if it has its own

    csv_path = var_dir / "products.csv"
    updates = write_csv(csv_path, code, env, args.rows)
    log(f"wrote {csv_path.name}: {args.rows:,} rows ({updates:,} updates, {args.rows - updates:,} new products)")

    samples_path, stop = var_dir / "shopper.json", var_dir / "shopper.stop"
    shopper_process = subprocess.Popen(
        [PYTHON, str(Path(__file__).resolve()), "--shopper", str(samples_path), "--stop", str(stop)],
        cwd=code,
        env=env,
    )
    importer = None
    try:
        while not Path(str(stop) + ".ready").exists():
            if shopper_process.poll() is not None:
                sys.exit("the shopper process stopped")
            time.sleep(0.1)
        idle_start = time.time()
        log(f"shopper adding to cart; {args.idle:.0f} s of idle latency first")
        time.sleep(args.idle)
        idle_end = time.time()
        log("import starting")
        argv = [PYTHON, "manage.py", "import_products", str(csv_path)]
        if code == ROOT:
            argv += ["--batch-size", str(args.batch_size)]
        started = time.time()
        importer = subprocess.Popen(
            argv, cwd=code, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output, writing = [], None
        for line in importer.stdout:
            output.append(line.rstrip())
            if writing is None and ("checked" in line or "rows" in line and "/" in line):
                # Writing starts after "N rows checked" (or, for a version that does not
                # say so, about at its first progress line).
                writing = time.time()
            if line.strip():
                log(f"  import: {line.strip()}")
        importer.wait()
        ended = time.time()
        log(f"import ended with exit status {importer.returncode} after {ended - started:.1f} s")
        time.sleep(1)
    finally:
        stop.touch()
        shopper_process.wait(timeout=60)
        if importer and importer.poll() is None:
            importer.terminate()
    samples = json.loads(samples_path.read_text())
    batches = next((line for line in output if "batches" in line), "")
    batch_seconds = [float(line.split("in ")[-1].split(" s")[0]) for line in output if "batch written" in line]
    return {
        "code": str(code),
        "rows": args.rows,
        "updates": updates,
        "batch_size": args.batch_size if code == ROOT else None,
        "import_seconds": round(ended - started, 1),
        "import_exit_status": importer.returncode,
        "import_summary": batches or (output[-1] if output else ""),
        "check_line": next((line.strip() for line in output if "checked" in line), ""),
        "batch_seconds_max": max(batch_seconds, default=None),
        "batch_seconds_median": sorted(batch_seconds)[len(batch_seconds) // 2] if batch_seconds else None,
        "idle": stats(samples, idle_start, idle_end),
        "during_import": stats(samples, started, ended),
        "while_writing": stats(samples, writing or started, ended),
        "write_seconds": round(ended - (writing or started), 1),
    }


def report(result: dict) -> None:
    idle, busy, writing = result["idle"], result["during_import"], result["while_writing"]
    print()
    print(
        f"import of {result['rows']:,} rows: {result['import_seconds']} s "
        f"(writing {result['write_seconds']} s), exit {result['import_exit_status']}"
    )
    print(f"  {result['import_summary']}")
    if result["check_line"]:
        print(
            f"  {result['check_line']}; a batch took {result['batch_seconds_median']} s (median), "
            f"{result['batch_seconds_max']} s at most"
        )
    print(f"{'add to cart':<16}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for name, s in (("idle", idle), ("during import", busy), ("while writing", writing)):
        print(f"{name:<16}{s['requests']:>9}{s['p50_ms']:>9}{s['p99_ms']:>9}{s['max_ms']:>9}{s['errors']:>8}")
    print(f"  answers during the import: {busy['statuses']} (302: added)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows in the CSV (default 20,000)")
    parser.add_argument("--batch-size", type=int, default=500, help="rows per write transaction (default 500)")
    parser.add_argument("--scale", type=int, default=10, help="seed_demo scale of the store (default 10)")
    parser.add_argument("--idle", type=float, default=3, help="seconds of add-to-cart before the import (default 3)")
    parser.add_argument("--code", help="another checkout of the store to measure (its manage.py and settings)")
    parser.add_argument("--var-dir", help="throwaway var dir (default bench/results/var-import)")
    parser.add_argument("--shopper", help=argparse.SUPPRESS)
    parser.add_argument("--stop", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.shopper:
        shopper(Path(args.shopper), Path(args.stop), Path(args.stop + ".ready"))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = run(args)
    report(result)
    path = RESULTS / f"import-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    log(f"saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
