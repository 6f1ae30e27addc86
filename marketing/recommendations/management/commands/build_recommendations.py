"""Build the recommendations' similar-items tables and rankings now (what the scheduled job does)."""

from django.core.management.base import BaseCommand, CommandError

from marketing.recommendations import build
from shop.core.errors import Conflict


class Command(BaseCommand):
    help = (
        "Build the recommendations again from the store's history: paid orders, cart additions and product "
        "views (settings RECOMMENDATIONS_*). Prints what it read and how long each part took."
    )

    def handle(self, *args, **options):
        try:
            record = build.build(progress=lambda message: self.stdout.write(f"  {message}"))
        except Conflict as exc:
            raise CommandError(f"{exc.message} (a build that never finished stands aside after 30 minutes)") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Built: {record.products:,} products with neighbours from {record.interactions:,} interactions "
                f"in {record.seconds} s (peak memory {record.peak_memory_mib} MiB)."
            )
        )
