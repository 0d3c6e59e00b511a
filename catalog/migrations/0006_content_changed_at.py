"""When an item's content last changed, as a quality measurement sees it: added, or its
embedding text (its hash) or its collection changed. A trigger keeps it, so that every writer
counts (the importer's COPY, raw SQL, the ORM) and nothing else (a new vote count) does; items
already stored start at their last update."""

from django.db import migrations, models

FUNCTION = """
CREATE FUNCTION catalog_item_content_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.content_changed_at := clock_timestamp();
    ELSIF NEW.text_hash IS DISTINCT FROM OLD.text_hash
            OR NEW.collection IS DISTINCT FROM OLD.collection THEN
        NEW.content_changed_at := clock_timestamp();
    ELSE
        -- A writer holding an older copy of the row never moves it back.
        NEW.content_changed_at := OLD.content_changed_at;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER catalog_item_content_changed
    BEFORE INSERT OR UPDATE ON catalog_catalogitem
    FOR EACH ROW EXECUTE FUNCTION catalog_item_content_changed();
"""
DROP = """
DROP TRIGGER IF EXISTS catalog_item_content_changed ON catalog_catalogitem;
DROP FUNCTION IF EXISTS catalog_item_content_changed();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_sync_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="catalogitem",
            name="content_changed_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunSQL(
            "UPDATE catalog_catalogitem SET content_changed_at = updated_at", migrations.RunSQL.noop
        ),
        migrations.RunSQL(FUNCTION, DROP),
        migrations.AddIndex(
            model_name="catalogitem",
            index=models.Index(fields=["content_changed_at"], name="catalog_item_content_changed"),
        ),
    ]
