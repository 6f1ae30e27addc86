from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run localstripe, the offline fake of Stripe's API, on 127.0.0.1 (state kept in memory only)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.LOCALSTRIPE_PORT)
        parser.add_argument(
            "--instance",
            default="",
            help="A token it answers at /_config/instance, so whoever started it can tell it from another one.",
        )

    def handle(self, *args, port, instance, **options):
        from aiohttp import web
        from localstripe import resources, webhooks
        from localstripe.server import app

        # Its own launcher listens on every interface and saves to a fixed file in
        # /tmp; we keep it on loopback and in memory.
        resources.Store.dump_to_disk = lambda self, *a, **k: None
        resources.Store.try_load_from_disk = lambda self, *a, **k: None

        # Two routes of ours (under /_config/, which localstripe leaves open): who this
        # localstripe is, and where it sends webhooks. `make run` registers its webhook only
        # at its own localstripe, and a test checks no store's webhook points at another.
        async def who(request):
            return web.json_response({"instance": instance, "port": port})

        async def registered(request):
            return web.json_response({key: hook.url for key, hook in webhooks._webhooks.items()})

        app.router.add_get("/_config/instance", who)
        app.router.add_get("/_config/webhooks", registered)
        self.stdout.write(f"localstripe on http://127.0.0.1:{port}")
        self.stdout.flush()
        web.run_app(app, host="127.0.0.1", port=port, print=None)
