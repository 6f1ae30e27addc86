"""A cart line holds a variant: existing lines point at their product's default variant."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def point_at_default_variants(apps, schema_editor):
    CartLine = apps.get_model("cart", "CartLine")
    Variant = apps.get_model("catalog", "Variant")
    first = Variant.objects.filter(product=OuterRef("product")).order_by("position", "pk").values("pk")[:1]
    CartLine.objects.update(variant=Subquery(first))


class Migration(migrations.Migration):
    dependencies = [("cart", "0001_initial"), ("catalog", "0009_default_variants")]

    operations = [
        migrations.AddField(
            model_name="cartline",
            name="variant",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.variant"
            ),
        ),
        migrations.RunPython(point_at_default_variants, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="cartline",
            name="variant",
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.variant"),
        ),
        migrations.RemoveConstraint(model_name="cartline", name="one_line_per_product_in_cart"),
        migrations.AddConstraint(
            model_name="cartline",
            constraint=models.UniqueConstraint(fields=("cart", "variant"), name="one_line_per_variant_in_cart"),
        ),
    ]
