"""One settings row per shelf, all shown, so staff find every shelf in the admin to turn off or resize.
(A shelf without its row is shown with the default size: serving never needs this migration's rows.)"""

from django.db import migrations

SHELVES = ["bought_together", "viewed_together", "complete_order", "for_you", "trending", "recently_viewed", "after_order"]


def add_shelves(apps, schema_editor):
    ShelfSetting = apps.get_model("recommendations", "ShelfSetting")
    for shelf in SHELVES:
        ShelfSetting.objects.get_or_create(shelf=shelf)


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0001_initial")]
    operations = [migrations.RunPython(add_shelves, migrations.RunPython.noop)]
