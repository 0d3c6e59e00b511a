"""Counts kept ahead of time, so that pages read a few rows instead of counting a million."""

from __future__ import annotations

from django.db import models

from catalog.models import CatalogItem


class TokenCount(models.Model):
    """Cached token count of an item's text for one tokenizer, fresh while source_hash matches."""

    item = models.ForeignKey(CatalogItem, on_delete=models.CASCADE, related_name="+")
    tokenizer = models.CharField(max_length=100)
    source_hash = models.CharField(max_length=64)
    tokens = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "tokenizer"], name="token_count_unique_item_tokenizer"
            )
        ]

    def __str__(self) -> str:
        return f"item {self.item_id}: {self.tokens} tokens ({self.tokenizer})"


class TokenTally(models.Model):
    """How many cached counts of each size a tokenizer has, so the settings page sums a few
    hundred rows instead of one per catalog item.

    PostgreSQL keeps it, with statement-level triggers on `TokenCount` (migration
    0008_token_tally): every insert, upsert, delete (a catalog item's cascade included) and
    truncate of token counts adds or subtracts its rows here in the same transaction, whichever
    code path wrote them. Counts by size, not one total per tokenizer, because each model caps a
    text at its own max tokens: the capped total is `sum(items * least(tokens, cap))`."""

    tokenizer = models.CharField(max_length=100)
    tokens = models.PositiveIntegerField()
    items = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tokenizer", "tokens"], name="token_tally_unique_tokenizer_tokens"
            )
        ]

    def __str__(self) -> str:
        return f"{self.items} items of {self.tokens} tokens ({self.tokenizer})"


class RowTally(models.Model):
    """How many rows the catalog holds per kind, and each embedding table per model, so pages
    and the cut-over read a few rows instead of counting a million.

    PostgreSQL keeps it, with statement-level triggers (migration 0011_row_tally) on
    `catalog_catalogitem` and the five embedding tables: every insert, COPY, upsert, update of
    the counted column, delete (cascades included) and truncate adds or subtracts its rows here
    in the same transaction, whichever code path wrote them."""

    table_name = models.CharField(max_length=63)
    key = models.CharField(max_length=200)  # the kind, or the model key
    rows = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table_name", "key"], name="row_tally_unique_table_key")
        ]

    def __str__(self) -> str:
        return f"{self.rows} rows of {self.key} in {self.table_name}"

    @classmethod
    def count(cls, table: type[models.Model], key: str | None = None) -> int:
        """Rows of this table (with this kind or model key); every key's when None."""
        rows = cls.objects.filter(table_name=table._meta.db_table)
        if key is not None:
            rows = rows.filter(key=key)
        return int(rows.aggregate(total=models.Sum("rows"))["total"] or 0)
