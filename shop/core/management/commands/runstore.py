"""`make run`: the whole store on one machine, stopped together with Ctrl-C (or SIGTERM).

Starts localstripe, the web server (runserver, on 127.0.0.1 only), a Celery worker and beat
(on the folder broker), after migrating and loading the demo data.

Several stores can run side by side, each from its own checkout or its own BAZAAR_VAR_DIR (a lock
in that folder refuses a second store there: it would share the database, broker and schedule).
Every port follows from PORT. The web server listens on PORT and localstripe on PORT + 420
(LOCALSTRIPE_PORT overrides it); the children get both, and STRIPE_API_BASE, in their
environment, so their settings agree. Both ports are checked before anything starts. The
webhook is registered only at our own localstripe, once it answers with the token it was
started with, so a store never points another store's localstripe at itself. The store's
address is printed last, once the web server answers and the worker says it is ready.
"""

import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from config.env import env_int

LOCALSTRIPE_OFFSET = 420
LOOPBACK = ("127.0.0.1", "localhost")
START_SECONDS = 120  # a cold start on a busy two-core machine takes well under a minute
DEMO_LOGINS = "admin@example.com / admin (staff), shopper@example.com / shopper"


class Stop(Exception):
    """SIGINT or SIGTERM arrived: stop the children and leave quietly."""


def _raise_stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


class Command(BaseCommand):
    help = "Migrate, load the demo data, and run the store with its worker, scheduler and localstripe."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=env_int("PORT", 8000))
        parser.add_argument("--no-seed", action="store_true", help="Do not load the demo data.")
        parser.add_argument("--noreload", action="store_true", help="Do not restart the web server on code changes.")

    def handle(self, *args, port, no_seed, noreload, **options):
        self._lock = threading.Lock()
        self._children: dict[str, Child] = {}
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._run(port=port, seed=not no_seed, reload=not noreload)
        except Stop as stop:
            self._say(f"\n{stop} received: stopping…")
        finally:
            # A second Ctrl-C must not cut the shutdown short and leave children behind.
            for sig in previous:
                signal.signal(sig, signal.SIG_IGN)
            _stop(self._children.values())
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self._say("Stopped.")

    def _run(self, *, port: int, seed: bool, reload: bool) -> None:
        stripe_port = _localstripe_port(port)
        _check_ports(port, stripe_port)
        self._folder_lock = _lock_var_dir(port)  # held until this process ends
        for folder in ("celery/queue", "celery/processed", "celery/control", "media"):
            (settings.VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        if seed:
            call_command("seed_demo", stdout=self.stdout)

        env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
        env.setdefault("SHOP_SITE_URL", f"http://127.0.0.1:{port}")
        python, manage = sys.executable, str(settings.BASE_DIR / "manage.py")
        if stripe_port:
            base = f"http://127.0.0.1:{stripe_port}"
            env.update(LOCALSTRIPE_PORT=str(stripe_port), STRIPE_API_BASE=base)
            token = secrets.token_hex(8)
            localstripe = [python, manage, "localstripe", "--port", str(stripe_port), "--instance", token]
            self._start("localstripe", localstripe, env)
            self._wait_until("localstripe", lambda: _localstripe_is(base, token))
            self._register_webhook(base, port)

        celery = [python, "-m", "celery", "-A", "config"]
        web = [python, manage, "runserver", f"127.0.0.1:{port}", *([] if reload else ["--noreload"])]
        self._start("web", web, env)
        self._start("worker", [*celery, "worker", "--pool=solo", "--loglevel=INFO"], env, ready_line=" ready.")
        beat_schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        self._start("beat", [*celery, "beat", "--loglevel=INFO", "-s", beat_schedule], env, ready_line="Starting...")
        self._wait_until("web", lambda: _listens(port))
        for name in ("worker", "beat"):
            self._wait_until(name, self._children[name].ready.is_set)

        logins = f" — demo logins: {DEMO_LOGINS}" if seed else ""
        self._say(
            self.style.SUCCESS(f"\nBazaar is running at http://127.0.0.1:{port}/{logins}")
            + f"\nAdmin: /admin/, API: /api/v1/docs/. Running: {', '.join(self._children)}. Ctrl-C stops everything."
        )
        while True:
            self._check_children()
            time.sleep(0.5)

    def _start(self, name: str, argv: list[str], env: dict[str, str], ready_line: str | None = None) -> None:
        self._children[name] = Child(name, argv, env=env, ready_line=ready_line, say=self._say)

    def _wait_until(self, name: str, ready) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not ready():
            self._check_children()
            if time.monotonic() > deadline:
                raise CommandError(f"The {name} process did not get ready in {START_SECONDS}s; stopping the others.")
            time.sleep(0.2)

    def _check_children(self) -> None:
        for name, child in self._children.items():
            code = child.process.poll()
            if code is not None:
                raise CommandError(
                    f"The {name} process stopped by itself (exit code {code}); stopping the others. "
                    "Its output above says why."
                )

    def _register_webhook(self, base: str, port: int) -> None:
        """Ask our localstripe to send its events to our webhook, signed with our secret (as Stripe would)."""
        from shop.payments.localstripe import register_webhook

        url = f"http://127.0.0.1:{port}/api/v1/payments/stripe/webhook/"
        if register_webhook(base, url=url, secret=settings.STRIPE_WEBHOOK_SECRET, wait=10):
            self._say(f"localstripe ({base}) sends webhooks to {url}")
        else:
            self._say("localstripe did not accept the webhook: payments will be confirmed without webhooks.", err=True)

    def _say(self, message: str, err: bool = False) -> None:
        with self._lock:
            (self.stderr if err else self.stdout).write(message)
            (self.stderr if err else self.stdout).flush()


class Child:
    """One process of the store, in its own process group (so that stopping it stops what it started,
    like runserver's reloader child), its output relayed line by line."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], ready_line: str | None, say):
        self.name = name
        self.ready = threading.Event()
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and manage.py)
            argv,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            process_group=0,
        )
        self.relay = threading.Thread(target=self._relay, args=(ready_line, say), daemon=True)
        self.relay.start()

    def _relay(self, ready_line: str | None, say) -> None:
        for line in self.process.stdout:
            say(line.rstrip("\n"))
            if ready_line and ready_line in line:
                self.ready.set()


def _localstripe_port(port: int) -> int | None:
    """Where our localstripe listens; None when the store talks to Stripe itself."""
    if not settings.STRIPE_API_BASE:
        return None
    if "STRIPE_API_BASE" in os.environ:  # chosen by hand: start localstripe only if it is a local one
        parsed = urlsplit(settings.STRIPE_API_BASE)
        return parsed.port if parsed.hostname in LOOPBACK else None
    return env_int("LOCALSTRIPE_PORT", port + LOCALSTRIPE_OFFSET)


def _check_ports(port: int, stripe_port: int | None) -> None:
    """Both ports free, before anything starts; otherwise say which one and what to run instead."""
    if not 1024 <= port <= 65535 - LOCALSTRIPE_OFFSET:
        raise CommandError(f"PORT={port} is out of range: use a port from 1024 to {65535 - LOCALSTRIPE_OFFSET}.")
    if stripe_port == port:
        raise CommandError(f"LOCALSTRIPE_PORT={stripe_port} is the web port too: leave it unset (PORT + 420).")
    if not _is_free(port):
        raise CommandError(
            f"Port {port} is already in use on 127.0.0.1 (another store, or another program). Nothing was started. "
            f"Run this store on a free port: PORT={_free_pair(port)} make run"
        )
    if stripe_port and not _is_free(stripe_port):
        if "LOCALSTRIPE_PORT" in os.environ or "STRIPE_API_BASE" in os.environ:
            fix = "set LOCALSTRIPE_PORT to a free port"
        else:
            suggestion = _free_pair(port)
            fix = f"run this store on another port: PORT={suggestion} make run"
            fix += f" (its localstripe then uses {suggestion + LOCALSTRIPE_OFFSET})"
        raise CommandError(
            f"Port {stripe_port}, for this store's localstripe, is already in use on 127.0.0.1 (another store's "
            f"localstripe, or another program). Nothing was started. To fix it, {fix}."
        )


def _lock_var_dir(port: int):
    """One store per var folder: two would share a database, a broker folder and beat's schedule."""
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    lock = (settings.VAR_DIR / "runstore.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        other = lock.read().strip() or "another port"
        lock.close()
        raise CommandError(
            f"Another store already runs from {settings.VAR_DIR} (on {other}). Nothing was started. Run this one "
            f"from another checkout, or give it its own folder: BAZAAR_VAR_DIR={settings.VAR_DIR / f'store-{port}'} "
            f"PORT={port} make run"
        ) from None
    lock.truncate(0)
    lock.write(f"port {port}\n")
    lock.flush()
    return lock


def _free_pair(port: int) -> int:
    """The next port from `port` up that is free, with its localstripe port free too."""
    for candidate in range(port + 1, min(port + 200, 65535 - LOCALSTRIPE_OFFSET)):
        if _is_free(candidate) and _is_free(candidate + LOCALSTRIPE_OFFSET):
            return candidate
    return port + 1


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no obstacle
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _localstripe_is(base: str, token: str) -> bool:
    from shop.payments.localstripe import instance

    return instance(base) == token


def _listens(port: int) -> bool:
    """The web server accepts connections (a connection, not a request: no log line after the banner)."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(children) -> None:
    """SIGTERM to each child's process group, then SIGKILL to any still running after 10 s."""
    children = list(children)
    for child in children:
        _signal_group(child.process, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait(timeout=5)
        _signal_group(child.process, signal.SIGKILL)  # anything it started and left behind
    for child in children:
        child.relay.join(timeout=2)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
