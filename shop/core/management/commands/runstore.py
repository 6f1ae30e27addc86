"""`make run`: the whole store on one machine, stopped together with Ctrl-C.

Starts the web server, a Celery worker and beat (on the folder broker), and
localstripe, after migrating and loading the demo data.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Migrate, load the demo data, and run the store with its worker, scheduler and localstripe."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--no-seed", action="store_true", help="Do not load the demo data.")

    def handle(self, *args, port, no_seed, **options):
        for folder in ("celery/queue", "celery/processed", "celery/control", "media"):
            (settings.VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        if not no_seed:
            call_command("seed_demo", stdout=self.stdout)
        python, manage = sys.executable, str(settings.BASE_DIR / "manage.py")
        celery = [python, "-m", "celery", "-A", "config"]
        commands = {
            "web": [python, manage, "runserver", f"127.0.0.1:{port}"],
            "worker": [*celery, "worker", "--pool=solo", "--loglevel=INFO"],
            "beat": [*celery, "beat", "--loglevel=INFO", "-s", str(settings.VAR_DIR / "celerybeat-schedule")],
        }
        if settings.STRIPE_API_BASE and "127.0.0.1" in settings.STRIPE_API_BASE:
            commands["localstripe"] = [python, manage, "localstripe", "--port", str(settings.LOCALSTRIPE_PORT)]
        processes = {name: subprocess.Popen(cmd, cwd=settings.BASE_DIR) for name, cmd in commands.items()}  # noqa: S603
        if "localstripe" in processes:
            self._register_webhook(port)
        self.stdout.write(
            self.style.SUCCESS(
                f"\nThe store is starting at http://127.0.0.1:{port}/ (admin: /admin/, API: /api/v1/docs/)"
            )
        )
        self.stdout.write(f"Running: {', '.join(processes)}. Press Ctrl-C to stop everything.\n")
        try:
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        raise CommandError(
                            f"The {name} process stopped (exit code {process.returncode}); stopping the others. "
                            f"Its output above says why (a port already in use? set PORT=8001)."
                        )
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            _stop(processes.values())

    def _register_webhook(self, port: int) -> None:
        """Ask localstripe to send its events to our webhook, signed with our secret (as Stripe would)."""
        from shop.payments.localstripe import register_webhook

        url = f"http://127.0.0.1:{port}/api/v1/payments/stripe/webhook/"
        if register_webhook(settings.STRIPE_API_BASE, url=url, secret=settings.STRIPE_WEBHOOK_SECRET, wait=15):
            self.stdout.write(f"localstripe sends webhooks to {url}")
        else:
            self.stderr.write("localstripe did not answer: payments will be confirmed without webhooks.")


def _stop(processes) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
