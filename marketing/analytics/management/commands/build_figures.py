"""Build the dashboards' daily figures for a range of store days (marketing.analytics.rollups)."""

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from marketing.analytics import customers, rollups


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31.") from None


class Command(BaseCommand):
    help = (
        "Build the daily figures the analytics dashboards read. Without dates: the days not built yet and the "
        "last two again (what the scheduled job does). With --from/--to: every day of that range, built again. "
        "Then the customers are scored (segments, cohorts, lifetime value) as of today."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=_date, help="first store day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", type=_date, help="last store day, YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--skip-customers", action="store_true", help="build the daily figures only")
        parser.add_argument(
            "--score-as-of", dest="as_of", type=_date,
            help="also score the customers as of this past day, YYYY-MM-DD (the last day of an imported log)",
        )  # fmt: skip

    def handle(self, *args, start=None, end=None, skip_customers=False, as_of=None, **options):
        yesterday = rollups.today() - dt.timedelta(days=1)
        if as_of is not None and as_of > yesterday:
            raise CommandError(f"--score-as-of {as_of} has not ended yet: give a past day (today is scored anyway).")
        if start is None and end is None:
            days = rollups.days_to_build()
        else:
            end = end or yesterday
            start = start or end
            if start > end:
                raise CommandError(f"--from {start} is after --to {end}: give the earlier day first.")
            if end > yesterday:
                raise CommandError(
                    f"{end} has not ended yet in the store's time zone: build up to {yesterday} "
                    "(today's figures are worked out live on the dashboards)."
                )
            days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
        if not days:
            self.stdout.write("Nothing to build: every past day has its figures.")
        else:
            self._build(days)
        if not skip_customers:
            if as_of is not None:
                self._score(as_of)
            self._score(None)

    def _score(self, as_of):
        started = time.monotonic()
        snapshot = customers.score(as_of)
        took = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Scored {snapshot.customers:,} customers as of {snapshot.as_of} in {took:.1f} s.")
        )

    def _build(self, days):
        started = time.monotonic()
        rows = done = 0
        for first, last in rollups.runs(days):
            rows += rollups.build_days(first, last)
            done += (last - first).days + 1
            self.stdout.write(f"  {done}/{len(days)} days built (up to {last}), {rows:,} figures")
        took = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Built {len(days)} days ({days[0]} to {days[-1]}): {rows:,} figures in {took:.1f} s.")
        )
