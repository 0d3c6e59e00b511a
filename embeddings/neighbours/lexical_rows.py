"""Keeping the lexical rows current: each item's term weights (`lexical_vectors`) and their
postings (`lexical_postings`), as `embeddings.neighbours.lexical` weighs and searches them.

How the rows stay current:
- saving an item (the catalog admin) rewrites its row at once; deleting it deletes the row;
- every regeneration job that completes ends with `refresh()` (after its vectors, so the first
  batch starts at once), which rewrites the rows that are missing or whose `source_hash` differs
  from the item's text (after an import, a sync, …), a batch at a time;
- the corpus statistics (N and each term's df) are recomputed, and every row reweighted, by the
  `refresh()` that finds the rows written or removed since the last computation reaching
  REBUILD_SHARE of the corpus. Until then new rows are weighted with the stored statistics
  (a word never seen before counts as in one item).
"""

from __future__ import annotations

import logging
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from catalog.models import CatalogItem
from embeddings.models import LexicalCorpus, LexicalPosting, LexicalTerm, LexicalVector
from embeddings.neighbours.lexical import as_sparsevec, tokenize, weigh
from embeddings.text import TEXT_FIELDS, ItemFields, item_text, source_hash

logger = logging.getLogger(__name__)

# Rewritten or removed rows, as a share of the corpus, that make the statistics worth recomputing.
REBUILD_SHARE = 0.1
BATCH_SIZE = 2000
# Items whose word counts are summed in memory before PostgreSQL adds them up (`_store_vocabulary`).
DF_CHUNK = 50_000
# A rebuild's postings table until it takes the place of `lexical_postings`.
NEW_POSTINGS = "lexical_postings_new"
IMPACT_INDEX = "lexical_postings_impact"
REBUILD_LOCK = 0x4C455849  # pg_advisory_lock key: one rebuild at a time


@dataclass
class RefreshReport:
    written: int = 0
    removed: int = 0
    rebuilt: bool = False
    seconds: float = 0.0

    def __str__(self) -> str:
        how = (
            "corpus statistics recomputed, every row reweighted" if self.rebuilt else "incremental"
        )
        return (
            f"lexical rows: {self.written:,} written, {self.removed:,} removed ({how}) "
            f"in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class _Pending:
    item_id: int
    kind: str
    hash: str
    counts: Counter[str]


def refresh(item_ids: Iterable[int] | None = None, *, allow_rebuild: bool = True) -> RefreshReport:
    """Bring the lexical rows of these items (default: the whole catalog) up to date.

    1. Read each item's text and compare its hash with the stored row's.
    2. Remove the rows of items that have no usable text left.
    3. If the corpus has drifted enough (see `needs_rebuild`), recompute the statistics and
       reweight every row; else weigh just the changed items with the stored statistics.
    """
    started = time.perf_counter()
    report = RefreshReport()
    items = CatalogItem.objects.all()
    if item_ids is not None:
        items = items.filter(pk__in=list(item_ids))
    stale, empty = _pending(items)
    if empty:
        report.removed = _remove(empty)
    corpus = LexicalCorpus.objects.first() or LexicalCorpus()
    if allow_rebuild and needs_rebuild(corpus, stale.count() + report.removed):
        report.written = rebuild()
        report.rebuilt = True
    else:
        # A batch at a time: memory stays bounded however many items changed.
        for batch in _batches(_word_counts(stale)):
            _write(batch, *_terms_for(batch), corpus.documents)
            report.written += len(batch)
    if (report.written or report.removed) and not report.rebuilt:
        corpus.changed += report.written + report.removed
        corpus.save()
    report.seconds = time.perf_counter() - started
    if report.rebuilt or report.written + report.removed > 1:
        logger.info("%s", report)
    return report


def refresh_saved_item(
    sender: Any, instance: CatalogItem, raw: bool = False, **kwargs: Any
) -> None:
    """post_save: rewrite one item's row with the stored statistics (never a full rebuild, which
    is a job's work, not a page's)."""
    if not raw:
        refresh([instance.pk], allow_rebuild=False)
        # Postings carry their item's kind; a kind changed without the text is followed here.
        postings = LexicalPosting.objects.filter(item_id=instance.pk)
        postings.exclude(kind=instance.kind).update(kind=instance.kind)


def needs_rebuild(corpus: LexicalCorpus, changing: int) -> bool:
    """True when the statistics were never computed, or when the rows written or removed since,
    with `changing` more, reach REBUILD_SHARE of the corpus they were computed on."""
    if corpus.computed_at is None:
        return changing > 0 or CatalogItem.objects.exists()
    drift = corpus.changed + changing
    return drift > 0 and drift >= REBUILD_SHARE * corpus.documents


def rebuild() -> int:
    """Recompute the corpus statistics and reweight every row; the number of rows written.

    1. Count, over every item's text, how many items use each word (df), and N.
    2. Store the counts in the vocabulary (new words get the next ids; ids never change).
    3. Rewrite every item's row in batches; the postings go into a new table, loaded without
       indexes (several times faster than into the indexed one), which `_swap_postings` then
       indexes and puts in place of the old one. Until then neighbours come from the old one.
    """
    documents = _store_vocabulary()
    with connection.cursor() as cursor:
        # One rebuild at a time: each fills the same new table.
        cursor.execute("SELECT pg_advisory_lock(%s)", [REBUILD_LOCK])
    try:
        started = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {NEW_POSTINGS}")
            cursor.execute(f"CREATE TABLE {NEW_POSTINGS} (LIKE {LexicalPosting._meta.db_table})")
        written = array("q")  # 8 bytes an item
        for batch in _batches(_word_counts(CatalogItem.objects.all())):
            _write(batch, *_terms_for(batch), documents, rebuilding=started)
            written.extend(p.item_id for p in batch)
        _swap_postings(started, written)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {NEW_POSTINGS}")
            cursor.execute("SELECT pg_advisory_unlock(%s)", [REBUILD_LOCK])
    LexicalCorpus.objects.all().delete()
    LexicalCorpus.objects.create(documents=documents, changed=0, computed_at=timezone.now())
    return documents


def _swap_postings(started: datetime, written: Sequence[int]) -> None:
    """Put the rebuild's postings in place of the old ones.

    1. Build the new table's primary key and impact index (readers still use the old table).
    2. In one transaction, lock the old table (readers wait from here to the commit) and carry
       over what others changed since the rebuild began: the postings of rows written after
       it (an item saved meanwhile wrote its row and postings to the old table together), and
       none for items whose row is gone.
    3. Drop the old table and give the new one its name, and its indexes theirs.
    """
    table, new = LexicalPosting._meta.db_table, NEW_POSTINGS
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = %s", [settings.HNSW_BUILD_MEMORY])
        cursor.execute(
            f"ALTER TABLE {new} ADD CONSTRAINT {new}_pkey PRIMARY KEY (item_id, term_id)"
        )
        cursor.execute(
            f"CREATE INDEX {new}_impact ON {new} (term_id, kind, weight DESC) INCLUDE (item_id)"
        )
        cursor.execute("RESET maintenance_work_mem")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        since = f"SELECT item_id FROM {LexicalVector._meta.db_table} WHERE created_at > %s"
        cursor.execute(f"DELETE FROM {new} WHERE item_id IN ({since})", [started])
        cursor.execute(
            f"INSERT INTO {new} SELECT * FROM {table} WHERE item_id IN ({since})", [started]
        )
        rows = LexicalVector.objects.order_by().values_list("item_id", flat=True)
        present = np.fromiter(rows.iterator(chunk_size=BATCH_SIZE), dtype=np.int64)
        ids = np.asarray(written, dtype=np.int64)
        gone = ids[~np.isin(ids, present)].tolist()
        cursor.execute(f"DELETE FROM {new} WHERE item_id = ANY(%s)", [gone])
        cursor.execute(f"DROP TABLE {table}")
        cursor.execute(f"ALTER TABLE {new} RENAME TO {table}")
        cursor.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {new}_pkey TO {table}_pkey")
        cursor.execute(f"ALTER INDEX {new}_impact RENAME TO {IMPACT_INDEX}")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")


def _word_counts(items: Any) -> Iterator[_Pending]:
    """Id, kind, source hash and word counts of every item with usable text, in id order."""
    rows = items.order_by("id").values_list("id", *TEXT_FIELDS)
    for item_id, *values in rows.iterator(chunk_size=BATCH_SIZE):
        fields = ItemFields(*values)
        text = item_text(fields)
        if text:
            yield _Pending(item_id, fields.kind, source_hash(text), Counter(tokenize(text)))


def _pending(items: Any) -> tuple[Any, list[int]]:
    """The items whose row is missing or stale (a queryset, read lazily), and the ids of items
    with no text left: decided in SQL from the hash each catalog row keeps of its text, so only
    those texts are read."""
    row = LexicalVector.objects.filter(item=OuterRef("pk"))
    current = row.filter(source_hash=OuterRef("text_hash"))
    empty = list(items.filter(Exists(row), text_hash="").values_list("id", flat=True))
    stale = items.exclude(text_hash="").exclude(Exists(current))  # missing rows included
    return stale, empty


def _batches(texts: Iterator[_Pending]) -> Iterator[list[_Pending]]:
    while batch := list(islice(texts, BATCH_SIZE)):
        yield batch


def _store_vocabulary() -> int:
    """Count, over every item's text, how many items use each word, and save the counts (0 for
    words no item uses any more), writing only those that changed; the number of items with
    text. The counts are summed in PostgreSQL from partial counts of DF_CHUNK items each, so
    memory stays bounded however many words a catalog uses (a million at a million items)."""
    table = LexicalTerm._meta.db_table
    documents = 0
    with transaction.atomic(), connection.cursor() as cursor:
        # Dropped here, not at commit: inside a caller's transaction this is a savepoint.
        cursor.execute("CREATE TEMPORARY TABLE lexical_df (term text, documents integer)")
        partial: Counter[str] = Counter()
        for text in _word_counts(CatalogItem.objects.all()):
            partial.update(text.counts.keys())
            documents += 1
            if documents % DF_CHUNK == 0:
                _copy_counts(cursor, partial)
                partial = Counter()
        _copy_counts(cursor, partial)
        cursor.execute(
            f"""
            WITH counts AS (
                SELECT term, sum(documents)::integer AS documents FROM lexical_df GROUP BY term
            ), unused AS (
                UPDATE {table} t SET documents = 0 WHERE t.documents <> 0
                AND NOT EXISTS (SELECT 1 FROM counts c WHERE c.term = t.term)
            )
            INSERT INTO {table} (term, documents) SELECT term, documents FROM counts
            ON CONFLICT (term) DO UPDATE SET documents = EXCLUDED.documents
            WHERE {table}.documents <> EXCLUDED.documents"""
        )
        cursor.execute("DROP TABLE lexical_df")
    return documents


def _copy_counts(cursor: Any, counts: Counter[str]) -> None:
    with cursor.copy("COPY lexical_df (term, documents) FROM STDIN") as copy:
        for term, count in counts.items():
            copy.write_row((term, count))


def _terms_for(pending: list[_Pending]) -> tuple[dict[str, int], dict[str, int]]:
    """Ids and stored document counts of the words of these items; unseen words are added,
    counted as in one item until the statistics are next recomputed."""
    words = sorted(set().union(*(p.counts.keys() for p in pending)))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LexicalTerm._meta.db_table} (term, documents) "
            "SELECT unnest(%s::text[]), 1 ON CONFLICT (term) DO NOTHING",
            [words],
        )
    known = LexicalTerm.objects.filter(term__in=words).values_list("term", "id", "documents")
    ids = {term: term_id for term, term_id, _ in known}
    df = {term: max(documents, 1) for term, _, documents in known}
    return ids, df


def _write(
    batch: list[_Pending],
    ids: dict[str, int],
    df: dict[str, int],
    documents: int,
    *,
    rebuilding: datetime | None = None,
) -> None:
    """Upsert one batch, rows and postings together: COPY the rows into a scratch table, then one
    INSERT … ON CONFLICT from it (a row-by-row upsert of sparse vectors as text cost ten times
    more); the items' old postings are deleted and their new ones copied in. A rebuild (begun
    at `rebuilding`, its rows dated then) copies the postings into its new table instead."""
    if not batch:
        return
    table = LexicalVector._meta.db_table
    postings = NEW_POSTINGS if rebuilding else LexicalPosting._meta.db_table
    now = rebuilding or timezone.now()
    weights = [weigh(p.counts, ids, df, documents) for p in batch]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS lexical_incoming "
            "(item_id integer, source_hash varchar(64), embedding text)"
        )
        # Emptied first, not on commit: inside a caller's transaction this is only a savepoint.
        cursor.execute("TRUNCATE lexical_incoming")
        with cursor.copy("COPY lexical_incoming FROM STDIN") as copy:
            for p, item_weights in zip(batch, weights, strict=True):
                copy.write_row((p.item_id, p.hash, as_sparsevec(item_weights)))
        cursor.execute(
            f"INSERT INTO {table} (item_id, source_hash, embedding, created_at) "
            "SELECT item_id, source_hash, embedding::sparsevec, %s FROM lexical_incoming "
            "ON CONFLICT (item_id) DO UPDATE SET source_hash = EXCLUDED.source_hash, "
            "embedding = EXCLUDED.embedding, created_at = EXCLUDED.created_at",
            [now],
        )
        if not rebuilding:
            cursor.execute(
                f"DELETE FROM {postings} WHERE item_id = ANY(%s)", [[p.item_id for p in batch]]
            )
        with cursor.copy(f"COPY {postings} (item_id, term_id, kind, weight) FROM STDIN") as copy:
            for p, item_weights in zip(batch, weights, strict=True):
                for term_id, weight in item_weights.items():
                    copy.write_row((p.item_id, term_id, p.kind, weight))


def _remove(item_ids: list[int]) -> int:
    """Delete these items' rows and postings; the number of rows deleted."""
    with transaction.atomic():
        LexicalPosting.objects.filter(item_id__in=item_ids).delete()
        removed, _ = LexicalVector.objects.filter(item_id__in=item_ids).delete()
    return removed
