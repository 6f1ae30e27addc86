import django.utils.timezone
from django.db import migrations, models


def existing_batches_are_done(apps, schema_editor):
    """Batches made before jobs existed were made in full, in their request."""
    CodeBatch = apps.get_model("discounts", "CodeBatch")
    for batch in CodeBatch.objects.all().iterator():
        made = min(batch.codes.count(), batch.count)
        CodeBatch.objects.filter(pk=batch.pk).update(status="done", made=made, finished_at=batch.created_at)


class Migration(migrations.Migration):
    dependencies = [("discounts", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="codebatch",
            name="status",
            field=models.CharField(
                choices=[("pending", "Waiting"), ("running", "Making codes"), ("done", "Ready"), ("failed", "Failed")],
                default="pending",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.AddField(
            model_name="codebatch",
            name="made",
            field=models.PositiveIntegerField(default=0, verbose_name="made so far"),
        ),
        migrations.AddField(
            model_name="codebatch",
            name="error",
            field=models.CharField(blank=True, max_length=300, verbose_name="error"),
        ),
        migrations.AddField(
            model_name="codebatch",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="codebatch",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="finished"),
        ),
        migrations.RunPython(existing_batches_are_done, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="codebatch",
            constraint=models.CheckConstraint(
                condition=models.Q(made__lte=models.F("count")), name="code_batch_made_within_count"
            ),
        ),
        migrations.AddIndex(
            model_name="codebatch",
            index=models.Index(fields=["status", "updated_at"], name="discounts_c_status_12d290_idx"),
        ),
    ]
