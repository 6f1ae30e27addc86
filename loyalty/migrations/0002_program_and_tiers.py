from decimal import Decimal

from django.db import migrations

# The program's rules (their defaults), and sensible starting tiers, in the store currency; staff change them in the admin.
TIERS = [
    ("Member", Decimal(0), Decimal("1.00"), ""),
    ("Silver", Decimal(250), Decimal("1.25"), "25% more points on every order"),
    ("Gold", Decimal(1000), Decimal("1.50"), "50% more points on every order"),
]


def create(apps, schema_editor):
    apps.get_model("loyalty", "Program").objects.get_or_create(pk=1)
    Tier = apps.get_model("loyalty", "Tier")
    if not Tier.objects.exists():
        for name, spend, multiplier, perks in TIERS:
            Tier.objects.create(name=name, min_spend=spend, multiplier=multiplier, perks=perks)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
