"""Order lines name the variant bought: past lines point at their product's default variant."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def point_at_default_variants(apps, schema_editor):
    OrderLine = apps.get_model("orders", "OrderLine")
    Variant = apps.get_model("catalog", "Variant")
    first = Variant.objects.filter(product=OuterRef("product")).order_by("position", "pk").values("pk")[:1]
    OrderLine.objects.filter(product__isnull=False).update(variant=Subquery(first))


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_paid_at_index"), ("catalog", "0009_default_variants")]

    operations = [
        migrations.AddField(
            model_name="orderline",
            name="variant",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="catalog.variant",
            ),
        ),
        migrations.AddField(
            model_name="orderline",
            name="options",
            field=models.JSONField(blank=True, default=dict, verbose_name="options"),
        ),
        migrations.RunPython(point_at_default_variants, migrations.RunPython.noop),
    ]
