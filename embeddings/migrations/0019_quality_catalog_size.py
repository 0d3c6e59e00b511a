"""A quality measurement keeps the catalog's size it was made on."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('embeddings', '0018_job_metering'),
    ]

    operations = [
        migrations.AddField(
            model_name='qualityrun',
            name='catalog_items',
            field=models.PositiveIntegerField(default=0),
        ),
    ]
