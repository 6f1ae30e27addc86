from django.core.management.base import BaseCommand, CommandError

from shop.catalog.csv_io import COLUMNS, import_products


class Command(BaseCommand):
    help = "Import products from a CSV file (docs/catalog-csv.md). Nothing is written if any row is invalid."

    def add_arguments(self, parser):
        parser.add_argument("path", help="A UTF-8 CSV file with a header row.")

    def handle(self, *args, path, **options):
        try:
            file = open(path, "rb")  # noqa: SIM115  (closed below)
        except OSError as exc:
            raise CommandError(f"Cannot open {path}: {exc.strerror}.") from None
        with file:
            result = import_products(file, progress=lambda done, total: self.stdout.write(f"  {done:,}/{total:,} rows"))
        if not result.ok:
            for row, column, message in result.errors[:200]:
                self.stderr.write(f"row {row}" + (f", {column}" if column else "") + f": {message}")
            raise CommandError(
                f"{len(result.errors)} problem(s) found; nothing was imported. Fix the file and run again. "
                f"Columns: {', '.join(COLUMNS)} (see docs/catalog-csv.md)."
            )
        self.stdout.write(self.style.SUCCESS(f"Imported: {result.created} created, {result.updated} updated."))
