import time

from django.core.management.base import BaseCommand, CommandError

from shop.catalog.csv_io import BATCH_SIZE, COLUMNS, check_file, write_rows


class Command(BaseCommand):
    help = (
        "Import products and their variants from a CSV file (docs/catalog-csv.md). Every row is checked first: "
        "nothing is written if any row is invalid. Valid files are written in short batches, so the store keeps "
        "serving meanwhile."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="A UTF-8 CSV file with a header row.")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Rows per write transaction.")

    def _progress(self):
        last = time.monotonic()

        def progress(done, total):
            nonlocal last
            now = time.monotonic()
            self.stdout.write(f"  {done:,}/{total:,} rows (batch written in {now - last:.2f} s)")
            last = now

        return progress

    def handle(self, *args, path, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            file = open(path, "rb")  # noqa: SIM115  (closed below)
        except OSError as exc:
            raise CommandError(f"Cannot open {path}: {exc.strerror}.") from None
        started = time.monotonic()
        with file:
            result = check_file(file)
        if result.ok:
            self.stdout.write(f"  {result.row_count:,} rows checked in {time.monotonic() - started:.1f} s")
            write_rows(result, batch_size=batch_size, progress=self._progress())
        if not result.ok:
            for row, column, message in result.errors[:200]:
                self.stderr.write(f"row {row}" + (f", {column}" if column else "") + f": {message}")
            if result.written:
                raise CommandError(
                    f"The import stopped: {result.created} created and {result.updated} updated "
                    f"(rows up to {result.written_through}); the rows after were not imported."
                )
            raise CommandError(
                f"{len(result.errors)} problem(s) found; nothing was imported. Fix the file and run again. "
                f"Columns: {', '.join(COLUMNS)}, option:<attribute>, attribute:<attribute> (see docs/catalog-csv.md)."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported: {result.created} created, {result.updated} updated ({result.batches} batches). "
                f"Variants: {result.variants_created} created, {result.variants_updated} updated."
            )
        )
