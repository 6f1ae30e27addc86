"""What the benchmarks share: a throwaway var dir's environment, manage.py, a private
PostgreSQL on a loopback port, gunicorn, and helper processes. See bench/README.md."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


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
        self.pg_dir: Path | None = None
        self.env = self._env(extra_env or {})

    # -- environment -------------------------------------------------------

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DJANGO_DEBUG="0",
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

    # -- gunicorn ----------------------------------------------------------

    def start_gunicorn(self, *, workers: int = 2, log_path: Path) -> str:
        """gunicorn (config.wsgi, sync workers) on a free loopback port; its base URL once /healthz answers."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log(f"starting gunicorn ({workers} workers) on {base}")
        with open(log_path, "w") as gunicorn_log:
            self.gunicorn = subprocess.Popen(
                [str(GUNICORN), "config.wsgi", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                 "--log-level", "warning"],
                cwd=ROOT,
                env=self.env,
                stdout=gunicorn_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
            )  # fmt: skip
        try:
            wait_for(f"{base}/healthz", self.gunicorn, "gunicorn")
        except SystemExit as exc:
            sys.exit(f"{exc.code}; see {log_path}")
        return base

    def stop_gunicorn(self) -> None:
        stop_process(self.gunicorn, "gunicorn")
