"""The 1536 table stores halfvec: its vectors are cast in place, never embedded again.

1. Drop the HNSW index: its `vector_cosine_ops` cannot index a halfvec column.
2. `ALTER COLUMN embedding TYPE halfvec(1536) USING embedding::halfvec(1536)` rewrites the table
   once (each number rounded to 16 bits; cosine neighbours stay the same, README "Vector
   storage"). Reversing casts back to `vector(1536)`.
3. Build the index again with `halfvec_cosine_ops` (cosine is the only metric with an index),
   in HNSW_BUILD_MEMORY so the graph is built in memory.

The table is locked meanwhile: on a big set, run it when nobody needs 1536-dimension neighbours.
"""

import pgvector.django.halfvec
import pgvector.django.indexes
from django.conf import settings
from django.db import migrations

BUILD_MEMORY = f"SET LOCAL maintenance_work_mem = '{settings.HNSW_BUILD_MEMORY}'"


class Migration(migrations.Migration):
    dependencies = [
        ("embeddings", "0009_lexical_postings"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="embedding1536", name="embeddings_1536_hnsw_cosine"),
        migrations.AlterField(
            model_name="embedding1536",
            name="embedding",
            field=pgvector.django.halfvec.HalfVectorField(dimensions=1536),
        ),
        migrations.RunSQL(BUILD_MEMORY, reverse_sql=BUILD_MEMORY),
        migrations.AddIndex(
            model_name="embedding1536",
            index=pgvector.django.indexes.HnswIndex(
                ef_construction=64,
                fields=["embedding"],
                m=16,
                name="embeddings_1536_hnsw_cosine",
                opclasses=["halfvec_cosine_ops"],
            ),
        ),
    ]
