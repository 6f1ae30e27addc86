from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run localstripe, the offline fake of Stripe's API, on 127.0.0.1 (state kept in memory only)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.LOCALSTRIPE_PORT)

    def handle(self, *args, port, **options):
        from aiohttp import web
        from localstripe import resources
        from localstripe.server import app

        # Its own launcher listens on every interface and saves to a fixed file in
        # /tmp; we keep it on loopback and in memory.
        resources.Store.dump_to_disk = lambda self, *a, **k: None
        resources.Store.try_load_from_disk = lambda self, *a, **k: None
        self.stdout.write(f"localstripe on http://127.0.0.1:{port}")
        web.run_app(app, host="127.0.0.1", port=port, print=None)
