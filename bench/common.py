"""What the benchmarks share: a throwaway var dir's environment, manage.py, a private
PostgreSQL on a loopback port, gunicorn, localstripe, buyers that check out over HTTP,
and what the kernel says each process used (CPU, memory). See bench/README.md."""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# The checkout's own virtualenv, or (a second working tree without one) the one running this script.
VENV_BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "python").exists() else Path(sys.executable).parent
PYTHON = VENV_BIN / "python"
GUNICORN = VENV_BIN / "gunicorn"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TICKS = os.sysconf("SC_CLK_TCK")
PAYMENT_METHOD = "pm_card_visa"
ADDRESS = {"name": "Bench Buyer", "line1": "1 Load St", "city": "Testville", "postal_code": "12345", "country": "US"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, name: str, timeout: float = 30) -> None:
    """Poll url until it answers 200; exit if the process dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    sys.exit(f"{name} did not answer {url} within {timeout:.0f}s")


def stop_process(process: subprocess.Popen | None, name: str) -> None:
    if not process or process.poll() is not None:
        return
    log(f"stopping {name}")
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class Stack:
    """The store's processes for one benchmark run: settings, database, gunicorn."""

    def __init__(self, *, db: str, var_dir: Path, pg_port: int, extra_env: dict[str, str] | None = None):
        self.db = db
        self.var_dir = var_dir.resolve()
        self.pg_port = pg_port
        self.gunicorn: subprocess.Popen | None = None
        self.localstripe: subprocess.Popen | None = None
        self.pg_dir: Path | None = None
        self.env = self._env(extra_env or {})

    # -- environment -------------------------------------------------------

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DJANGO_DEBUG="0",
            BAZAAR_LOCAL_SERVICES="1",  # production settings, this machine's stand-ins (config/production.py)
            SECRET_KEY=secrets.token_urlsafe(48),  # 64 characters, new each run
            ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
            SECURE_SSL_REDIRECT="0",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="0",
            SECURE_HSTS_SECONDS="0",
            BAZAAR_VAR_DIR=str(self.var_dir),
            DB_CONN_MAX_AGE="60",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        if self.db == "postgres":
            env["DATABASE_URL"] = f"postgres://shop:shop@127.0.0.1:{self.pg_port}/shop"
        env.update(extra)
        return env

    def manage(self, *argv: str, capture: bool = False) -> str:
        result = subprocess.run(
            [str(PYTHON), "manage.py", *argv],
            cwd=ROOT,
            env=self.env,
            check=True,
            text=True,
            stdout=subprocess.PIPE if capture else None,
        )
        return result.stdout or ""

    def shell(self, script: str) -> str:
        """Run Python in `manage.py shell -c`; its standard output."""
        return self.manage("shell", "-c", script, capture=True)

    # -- PostgreSQL (private, throwaway) ----------------------------------

    def start_postgres(self) -> None:
        if not (PG_BIN / "initdb").exists():
            sys.exit(f"PostgreSQL binaries not found in {PG_BIN}: apt-get install -y postgresql")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.pg_port)) == 0:
                sys.exit(f"Something already listens on 127.0.0.1:{self.pg_port}; stop it first.")
        self.pg_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        shutil.chown(self.pg_dir, "postgres", "postgres")
        data, pg_log = self.pg_dir / "data", self.pg_dir / "log"
        log(f"starting PostgreSQL on 127.0.0.1:{self.pg_port} in {self.pg_dir}")
        as_pg = ["su", "postgres", "-c"]
        subprocess.run(
            [*as_pg, f"{PG_BIN}/initdb -D {data} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        opts = f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.pg_dir} -c fsync=off"
        subprocess.run([*as_pg, f"{PG_BIN}/pg_ctl -D {data} -l {pg_log} -w -o '{opts}' start"], check=True)
        self.psql("CREATE USER shop PASSWORD 'shop' CREATEDB", "CREATE DATABASE shop OWNER shop", database="postgres")

    def psql(self, *commands: str, database: str = "shop") -> None:
        argv = ["psql", "-q", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", database]
        for command in commands:
            argv += ["-c", command]
        subprocess.run(argv, check=True)

    def stop_postgres(self) -> None:
        if not self.pg_dir:
            return
        log("stopping PostgreSQL")
        subprocess.run(
            ["su", "postgres", "-c", f"{PG_BIN}/pg_ctl -D {self.pg_dir / 'data'} -m fast -w stop"],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(self.pg_dir, ignore_errors=True)
        self.pg_dir = None

    def postmaster_pid(self) -> int | None:
        pid_file = self.pg_dir / "data" / "postmaster.pid" if self.pg_dir else None
        return int(pid_file.read_text().split()[0]) if pid_file and pid_file.exists() else None

    # -- gunicorn ----------------------------------------------------------

    def start_gunicorn(self, *, workers: int = 2, log_path: Path, env: dict[str, str] | None = None) -> str:
        """gunicorn (config.wsgi, sync workers) on a free loopback port; its base URL once /healthz answers.

        `env` adds to the stack's environment for this server only (e.g. the page cache turned off)."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log(f"starting gunicorn ({workers} workers) on {base}" + (f" with {env}" if env else ""))
        with open(log_path, "w") as gunicorn_log:
            self.gunicorn = subprocess.Popen(
                [str(GUNICORN), "config.wsgi", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                 "--log-level", "warning"],
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdout=gunicorn_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
            )  # fmt: skip
        try:
            wait_for(f"{base}/healthz", self.gunicorn, "gunicorn")
        except SystemExit as exc:
            sys.exit(f"{exc.code}; see {log_path}")
        deadline = time.monotonic() + 30
        while len(self.gunicorn_workers()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)  # /healthz answered from one worker; the others may still be booting
        return base

    def stop_gunicorn(self) -> None:
        stop_process(self.gunicorn, "gunicorn")
        self.gunicorn = None

    def gunicorn_workers(self) -> list[int]:
        """The worker processes' ids (the master's children)."""
        if not self.gunicorn or self.gunicorn.poll() is not None:
            return []
        return children(self.gunicorn.pid)

    def gunicorn_cpu(self) -> float:
        """CPU seconds (user + system) the master and its workers have used so far, read from /proc.

        The master's share includes workers it has reaped (cutime/cstime), so a worker that was
        replaced mid-run still counts."""
        if not self.gunicorn or self.gunicorn.poll() is not None:
            return 0.0
        return sum(process_cpu(pid, reaped=True) for pid in [self.gunicorn.pid, *self.gunicorn_workers()])

    def gunicorn_rss_mib(self) -> dict[int, float]:
        """Each worker's resident memory (VmRSS), MiB."""
        return {pid: rss_kib(pid) / 1024 for pid in self.gunicorn_workers()}

    # -- localstripe (the payment provider's stand-in) -----------------------

    def start_localstripe(self) -> None:
        """`manage.py localstripe` on a free port; the stack's environment points the store at it
        (start it before gunicorn)."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log(f"starting localstripe on {base}")
        RESULTS.mkdir(parents=True, exist_ok=True)
        with open(RESULTS / f"localstripe-{self.db}.log", "w") as stripe_log:
            self.localstripe = subprocess.Popen(
                [str(PYTHON), "manage.py", "localstripe", "--port", str(port)],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stripe_log,
                start_new_session=True,
            )
        wait_for(f"{base}/js.stripe.com/v3/", self.localstripe, "localstripe", timeout=20)
        self.env["STRIPE_API_BASE"] = base
        self.env["STRIPE_SECRET_KEY"] = "sk_test_localstripe"

    def stop_localstripe(self) -> None:
        stop_process(self.localstripe, "localstripe")
        self.localstripe = None


# -- what the kernel says ------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): fields[0] is the state (field 3)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_cpu(pid: int, *, reaped: bool = False) -> float:
    """CPU seconds a live process has used: utime + stime (and with `reaped`, cutime + cstime of
    children it has waited for). 0 if it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return sum(int(x) for x in fields[11 : 15 if reaped else 13]) / TICKS


def children(pid: int) -> list[int]:
    """A process's live children. /proc/<pid>/task/*/children needs CONFIG_PROC_CHILDREN, which not
    every kernel has, so read each process's parent instead."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree_cpu(root_pid: int | None) -> float:
    """CPU seconds used so far by a process and its live descendants (plus children it has reaped)."""
    if not root_pid:
        return 0.0
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                stats[int(entry.name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))  # ppid; utime..cstime
    total, todo, seen = 0, [root_pid], set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo += [child for child, (ppid, _) in stats.items() if ppid == pid]
    return total / TICKS


def machine_cpu() -> float:
    """CPU seconds all cores have been busy since boot (/proc/stat: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# -- buyers --------------------------------------------------------------------


class Buyer(threading.Thread):
    """Loops until the deadline (or `stop`): a fresh anonymous cart with 1-3 products through the API,
    then one checkout (paying with pm_card_visa when `pay`; none without `checkout`).

    With `interval` (seconds) a loop starts at most that often: a paced buyer, for background sales;
    without, as fast as the server answers (the checkout benchmark's load)."""

    def __init__(
        self,
        number: int,
        host: str,
        port: int,
        slugs: list[str],
        pay: bool,
        deadline: float,
        *,
        interval: float | None = None,
        delay: float = 0.0,
        email_domain: str = "load.bench.test",
        checkout: bool = True,
    ):
        super().__init__(name=f"buyer-{number}", daemon=True)
        self.number, self.host, self.port = number, host, port
        self.slugs, self.pay, self.deadline = slugs, pay, deadline
        self.interval, self.delay, self.email_domain = interval, delay, email_domain
        self.checkout = checkout  # False: only the cart requests (what they cost without the checkout)
        self.random = random.Random(number)
        self.latencies: list[float] = []  # seconds, successful checkouts only
        self.finished: list[float] = []  # time.monotonic() of each successful checkout
        self.statuses: Counter = Counter()  # checkout responses by status (or exception name)
        self.cart_errors: Counter = Counter()
        self.order_statuses: Counter = Counter()  # "paid" / "pending_payment" in successful responses
        self.cart_latencies: list[float] = []  # seconds, each add-to-cart request
        self.stop = False

    def request(self, conn: http.client.HTTPConnection, path: str, body: dict, headers: dict):
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        data = response.read()
        return response.status, data

    def _wait_for_turn(self, next_at: float) -> bool:
        while not self.stop and time.monotonic() < min(next_at, self.deadline):
            time.sleep(min(0.05, max(0.0, next_at - time.monotonic())))
        return not self.stop and time.monotonic() < self.deadline

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        n = 0
        next_at = time.monotonic() + self.delay
        while self._wait_for_turn(next_at):
            if self.interval:
                # The next start, on schedule; a loop that overran does not cause a burst to catch up.
                next_at = max(next_at + self.interval, time.monotonic())
            n += 1
            try:
                self.loop(conn, n)
            except (OSError, http.client.HTTPException) as exc:
                self.statuses[type(exc).__name__] += 1
                conn.close()
        conn.close()

    def loop(self, conn: http.client.HTTPConnection, n: int) -> None:
        token = None
        for slug in self.random.sample(self.slugs, self.random.randint(1, 3)):
            headers = {"X-Cart-Token": token} if token else {}
            started = time.monotonic()
            status, data = self.request(conn, "/api/v1/cart/items/", {"product": slug, "quantity": 1}, headers)
            self.cart_latencies.append(time.monotonic() - started)
            if status != 201:
                self.cart_errors[status] += 1
                return
            token = json.loads(data)["token"]
        if token is None or not self.checkout:
            return
        body = {
            "email": f"buyer{self.number}-{n}@{self.email_domain}",
            "shipping_address": ADDRESS,
            "shipping_method": "standard",
        }
        if self.pay:
            body["payment_method"] = PAYMENT_METHOD
        headers = {"X-Cart-Token": token, "Idempotency-Key": str(uuid.uuid4())}
        started = time.monotonic()
        status, data = self.request(conn, "/api/v1/checkout/", body, headers)
        elapsed = time.monotonic() - started
        self.statuses[status] += 1
        if status == 201:
            self.latencies.append(elapsed)
            self.finished.append(time.monotonic())
            self.order_statuses[json.loads(data).get("status")] += 1
