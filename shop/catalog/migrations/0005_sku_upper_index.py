"""PostgreSQL: an index on UPPER(sku), for a search's exact SKU (`sku__iexact`).

A search ORs the SKU with the full-text match; with every part of the OR indexed, PostgreSQL
combines the indexes (BitmapOr) instead of reading every active product.
"""

from django.db import migrations


def _run(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_search_index")]

    operations = [
        migrations.RunPython(
            _run("CREATE INDEX catalog_product_sku_upper ON catalog_product (UPPER(sku::text))"),
            _run("DROP INDEX IF EXISTS catalog_product_sku_upper"),
        ),
    ]
