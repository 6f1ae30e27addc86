"""Import a history of orders from a file, then build its days' figures (docs/importing-orders.md)."""

import datetime as dt
import io
import os

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from marketing.analytics import importer, rollups

SHOWN_PROBLEMS = 50


def _plain(text: str) -> str:
    return text


class Command(BaseCommand):
    help = (
        "Import a purchase log: one order per row (customer id, date, quantity, amount; optional product, "
        "category, currency, email), paid and delivered, then build the dashboards' figures for its days. "
        "Every row is checked first: one bad row and nothing is written. Rows imported before are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the file to import (not with --cdnow)")
        parser.add_argument(
            "--format", dest="fmt", choices=importer.FORMATS, default=None,
            help="csv (a header row, commas; the default) or cdnow (whitespace-separated columns)",
        )  # fmt: skip
        parser.add_argument(
            "--cdnow", action="store_true",
            help="import the CDNOW purchase log shipped with the lifetimes package (--format cdnow)",
        )  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="check the file and say what it would do")

    def handle(self, *args, file=None, fmt=None, cdnow=False, dry_run=False, **options):
        self.verbosity = options["verbosity"]
        path, fmt = self._source(file, fmt, cdnow)
        try:
            result = importer.orders_import(path=path, fmt=fmt, dry_run=dry_run, progress=self._progress)
        except (importer.FileRefused, importer.Interrupted) as exc:
            raise CommandError(str(exc)) from None
        except importer.BadRows as exc:
            raise CommandError(_bad_rows_message(path, exc)) from None
        self._report(result)
        if not dry_run and result.new:
            self._build_figures(result)

    def _source(self, file, fmt, cdnow) -> tuple[str, str]:
        if cdnow and file:
            raise CommandError("Give a FILE or --cdnow, not both.")
        if cdnow:
            if fmt not in (None, "cdnow"):
                raise CommandError("--cdnow reads the CDNOW format: leave --format out.")
            try:
                return str(importer.cdnow_path()), "cdnow"
            except importer.FileRefused as exc:
                raise CommandError(str(exc)) from None
        if not file:
            raise CommandError("Which file? Give its path, or --cdnow for the CDNOW purchase log.")
        return file, fmt or "csv"

    def _progress(self, text: str) -> None:
        if self.verbosity:
            self.stderr.write(text, style_func=_plain)

    def _say(self, text: str, style=None) -> None:
        if self.verbosity:
            self.stdout.write(style(text) if style else text)

    def _report(self, r: importer.ImportResult) -> None:
        span = f"{r.first} to {r.last}"
        catalog = ""
        if r.products_created or r.categories_created:
            catalog = f"; {r.products_created:,} new (inactive) products, {r.categories_created:,} new categories"
        if r.dry_run:
            self._say(
                f"Dry run: {r.file} has {r.rows:,} good rows ({r.customers:,} customers, {span}); "
                f"{r.new:,} orders would be imported, {r.already:,} rows are already in the store{catalog}. "
                "Nothing was written."
            )
            return
        if not r.new:
            self._say(
                f"Nothing to import: all {r.rows:,} rows of {r.file} are in the store already. The figures were left "
                f"as they are (manage.py build_figures --from {r.first} --to {r.last} builds them again)."
            )
            return
        skipped = f" ({r.already:,} rows imported before were skipped)" if r.already else ""
        self._say(
            f"Imported {r.new:,} orders from {r.file}{skipped}: {r.customers:,} customers, {span}, "
            f"{r.revenue:,} revenue{catalog}, in {r.seconds:.1f} s.",
            self.style.SUCCESS,
        )

    def _build_figures(self, r: importer.ImportResult) -> None:
        # Today is worked out live by the dashboards; build_figures builds only days that have ended.
        last = min(r.last, rollups.today() - dt.timedelta(days=1))
        if r.first <= last:
            self._say(f"Building the daily figures from {r.first} to {last}...")
            out = self.stdout if self.verbosity else io.StringIO()
            call_command(
                "build_figures", "--from", r.first.isoformat(), "--to", last.isoformat(),
                "--score-as-of", last.isoformat(),
                stdout=out, stderr=self.stderr if self.verbosity else io.StringIO(), verbosity=self.verbosity,
            )  # fmt: skip
        self._say(
            "Open the dashboards for these days: "
            f"/admin/analytics/dashboard/sales/?from={r.first}&to={r.last} "
            f"and /admin/analytics/dashboard/customers/?from={r.first}&to={r.last}"
        )


def _bad_rows_message(path: str, exc: importer.BadRows) -> str:
    name = os.path.basename(path)
    shown = [f"  line {line}: {reason}" for line, reason in exc.problems[:SHOWN_PROBLEMS]]
    more = len(exc.problems) - len(shown)
    if more:
        shown.append(f"  ... and {more:,} more bad rows")
    what = f"{len(exc.problems):,} bad row{'s' if len(exc.problems) != 1 else ''}"
    if exc.problems and exc.problems[0][0] == 1 and not exc.rows:
        what = "a header that cannot be read"
    return (
        f"{name} has {what}, so nothing was imported:\n"
        + "\n".join(shown)
        + "\nFix these lines (the numbers are the file's own lines) and run the command again; "
        "--dry-run checks a file without importing it (docs/importing-orders.md lists the columns and rules)."
    )
