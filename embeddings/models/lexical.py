"""The lexical signal (embeddings/neighbours/lexical_rows.py builds it): the vocabulary, each
item's term weights, their postings and the corpus statistics they were weighted with."""

from __future__ import annotations

from typing import Any

from django.db import models
from pgvector.django import CosineDistance, SparseVectorField

from catalog.models import CatalogItem

# pgvector's largest sparse dimension: a term's id is its dimension, so the vocabulary can grow.
LEXICAL_DIMENSIONS = 1_000_000_000


class LexicalTerm(models.Model):
    """One word of the catalog's vocabulary. Its id is its dimension in the lexical vectors, and
    `documents` the number of items that used it when the corpus statistics were last computed."""

    term = models.CharField(max_length=100, unique=True)
    documents = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "lexical_terms"

    def __str__(self) -> str:
        return self.term


class LexicalVectorQuerySet(models.QuerySet["LexicalVector"]):
    def nearest(self, vector: Any, *, k: int = 10, metric: str = "cosine") -> LexicalVectorQuerySet:
        """The k rows whose term weights are closest (cosine) to `vector`, annotated `distance`."""
        return self.annotate(distance=CosineDistance("embedding", vector)).order_by("distance")[:k]


class LexicalVector(models.Model):
    """An item's TF-IDF term weights (L2-normalised), from the same text and hash as its vectors.
    No index on the weights: lexical neighbours are found through `LexicalPosting`, and these
    rows give the exact cosine of the few candidates found there."""

    item = models.OneToOneField(
        CatalogItem, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    source_hash = models.CharField(max_length=64)
    embedding = SparseVectorField(dimensions=LEXICAL_DIMENSIONS)
    created_at = models.DateTimeField(auto_now=True)

    objects = LexicalVectorQuerySet.as_manager()

    class Meta:
        db_table = "lexical_vectors"

    def __str__(self) -> str:
        return f"lexical · item {self.item_id}"


class RealField(models.FloatField):  # type: ignore[type-arg]
    """A 4-byte float: a term weight needs no more, and the postings are many."""

    def db_type(self, connection: Any) -> str:
        return "real"


class LexicalPosting(models.Model):
    """One word of one item's lexical row (the same weight as in its `LexicalVector`). The
    (word, kind, weight) index lists each word's items of a kind heaviest first, so the items that
    share an item's heaviest words are a few short index reads
    (`embeddings.neighbours.lexical.lexical_neighbour_ids`).

    No foreign-key constraint: neighbours/lexical_rows.py writes and removes postings with their
    rows, deleting an item deletes them (cascade in the ORM), and a database check on each of
    millions of loaded postings would cost more than the load."""

    pk = models.CompositePrimaryKey("item_id", "term_id")
    item = models.ForeignKey(
        CatalogItem, on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    term_id = models.IntegerField()
    # The item's kind, so that the similar page's same-kind neighbours are read from the index
    # alone (a join to the catalog per posting cost 20 times the index read).
    kind = models.CharField(max_length=10)
    weight = RealField()

    class Meta:
        db_table = "lexical_postings"
        indexes = [
            models.Index(
                fields=["term_id", "kind", "-weight"], include=["item"],
                name="lexical_postings_impact",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"term {self.term_id} · item {self.item_id}: {self.weight:.4f}"


class LexicalCorpus(models.Model):
    """The single row of corpus statistics the term weights were computed with."""

    documents = models.PositiveIntegerField(default=0)
    # Rows written or removed since, weighted with these statistics; see
    # embeddings.neighbours.lexical_rows.needs_rebuild.
    changed = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "lexical_corpus"
        verbose_name_plural = "lexical corpus"

    def __str__(self) -> str:
        return f"{self.documents} documents"
