"""Jobs meter their rate from stored batches; jobs recorded before keep their wall time (from
start to finish) as the time they worked, which is what their pages showed."""

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('embeddings', '0017_service_pacing'),
    ]

    operations = [
        migrations.AlterField(
            model_name="embeddingjob",
            name="mode",
            field=models.CharField(
                choices=[
                    ("stale", "Missing or changed"),
                    ("missing", "Missing only (changed items keep their old vectors)"),
                    ("all", "All items"),
                ],
                default="stale",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name='embeddingjob',
            name='batch_ends',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.FloatField(), blank=True, default=list, size=None),
        ),
        migrations.AddField(
            model_name='embeddingjob',
            name='batch_items',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.PositiveIntegerField(), blank=True, default=list, size=None),
        ),
        migrations.AddField(
            model_name='embeddingjob',
            name='metered_items',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='embeddingjob',
            name='metered_seconds',
            field=models.FloatField(default=0),
        ),
        migrations.RunSQL(
            "UPDATE embeddings_embeddingjob SET metered_items = done + failed, "
            "metered_seconds = greatest(extract(epoch FROM "
            "coalesce(finished_at, heartbeat_at, started_at) - started_at), 0) "
            "WHERE started_at IS NOT NULL",
            migrations.RunSQL.noop,
        ),
    ]
