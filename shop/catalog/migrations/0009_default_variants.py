"""Each product that has no variant gets its default variant: its SKU, its stock, the product's price."""

from django.db import migrations

BATCH = 2000


def default_variants(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    Variant = apps.get_model("catalog", "Variant")
    products = Product.objects.filter(variants__isnull=True).values_list("pk", "sku", "stock").order_by("pk")
    batch = []
    for pk, sku, stock in products.iterator(chunk_size=BATCH):
        batch.append(Variant(product_id=pk, sku=sku, stock=stock))
        if len(batch) == BATCH:
            Variant.objects.bulk_create(batch)
            batch = []
    Variant.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_variants")]

    operations = [migrations.RunPython(default_variants, migrations.RunPython.noop)]
