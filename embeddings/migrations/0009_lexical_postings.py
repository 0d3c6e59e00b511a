import django.db.models.deletion
from django.db import migrations, models

import embeddings.models

# The postings of the rows already stored, read from their text form `{index:weight,…}/dim`
# (indices 1-based, a term's id is its index - 1, as embeddings/lexical.py writes them).
FILL_POSTINGS = r"""
INSERT INTO lexical_postings (item_id, term_id, kind, weight)
SELECT v.item_id, (m[1])::integer - 1, c.kind, (m[2])::real
FROM lexical_vectors v JOIN catalog_catalogitem c ON c.id = v.item_id,
    regexp_matches(v.embedding::text, '(\d+):([^,}]+)', 'g') AS m
"""


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_updated_at_index"),
        ("embeddings", "0008_token_tally"),
    ]

    operations = [
        migrations.CreateModel(
            name="LexicalPosting",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "item_id",
                        "term_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "item",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="catalog.catalogitem",
                    ),
                ),
                ("term_id", models.IntegerField()),
                ("kind", models.CharField(max_length=10)),
                ("weight", embeddings.models.RealField()),
            ],
            options={"db_table": "lexical_postings"},
        ),
        migrations.RunSQL(FILL_POSTINGS, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="lexicalposting",
            index=models.Index(
                fields=["term_id", "kind", "-weight"], include=("item",),
                name="lexical_postings_impact",
            ),
        ),
        # Lexical neighbours are found through the postings: the sparse graph is not needed.
        migrations.RemoveIndex(model_name="lexicalvector", name="lexical_vectors_hnsw_cosine"),
    ]
