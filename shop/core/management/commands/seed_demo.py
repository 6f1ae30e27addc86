from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from shop.core.demo import DemoContext, run_seeders


class Command(BaseCommand):
    help = (
        "Load a believable demo store: categories, products with images, customers with profiles, "
        "and what each app adds (settings.DEMO_SEEDERS). Safe to run again: it only adds what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=int,
            default=1,
            help="Multiply the store's size: 1 = 200 products and 500 customers; 50 = 10,000 and 25,000.",
        )

    def handle(self, *args, scale, **options):
        if not 1 <= scale <= 500:
            raise CommandError("--scale takes a whole number from 1 to 500 (50 gives 10,000 products).")
        ctx = DemoContext(scale=scale, out=self.stdout)
        with transaction.atomic():
            run_seeders(ctx)
            if connection.vendor == "postgresql":
                # A bulk load leaves the planner with the sizes it last saw (often empty tables): it
                # would plan the store's first queries for a few rows. ANALYZE counts this
                # transaction's own rows too.
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
        ctx.log(
            self.style.SUCCESS(
                "Demo store ready. Staff: admin@example.com / admin; shopper: shopper@example.com / shopper"
            )
        )
