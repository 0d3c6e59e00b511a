"""Many items' top k at once, exact and in bounded memory: how the quality panel (its lexical
and hybrid blends) and the disagreement list (every blend) rank neighbours.

The similar page asks PostgreSQL for one item's neighbours at a time, which takes milliseconds;
a measurement asks for thousands of items, and item by item that took minutes. Here:

1. The candidates (the model's vectors, the lexical term weights, or both) are streamed out of
   PostgreSQL in keyset chunks of item ids, in their binary form (`vector_send`, …), parsed
   straight into numpy: vectors L2-normalised, so a matrix product gives cosines; term weights
   as a scipy sparse matrix (also L2-normalised), so a sparse product gives lexical cosines.
2. Queries are taken a chunk at a time, and scored against every chunk of candidates with one
   product, keeping a running top k per query (`np.argpartition`, then a merge).

Memory holds one chunk of queries, one chunk of candidates and their score matrix, whatever the
catalog's size (and the candidates themselves between query chunks when they fit KEEP_BYTES);
time grows with queries x candidates.

Scores and order are the similar page's (`neighbours.blends.ranked`):
- candidates are the items of the query's kind, the query itself left out, with a row of a
  signal the query has (an item the model has not embedded can still be a lexical neighbour);
- `vector`: the cosine of the two vectors, exactly, where the page walks the HNSW index (the
  quality panel's index check measures what the walk gives up); `lexical`: the cosine of the
  term weights, exactly, where the page reads each word's heaviest postings;
- `hybrid`: `vector + weight x lexical`, a missing part counting 0, over every candidate. The
  page fuses each signal's best candidates instead; on the 10k TMDb catalog both give the same
  franchise recall (README, "Quality, measured on your catalog");
- every blend adds the popularity prior, `prior_weight x prior` of the candidate
  (`neighbours.prior`), again over every candidate where the page adds it to each signal's
  best candidates;
- higher score first, ties to the lower item id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from scipy import sparse

from catalog.models import CatalogItem
from embeddings.models import LexicalVector
from embeddings.neighbours.blends import DEFAULT_WEIGHT, HYBRID, LEXICAL, VECTOR
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT, priors
from embeddings.registry import ResolvedModel, storage_type

# Queries scored together: their score matrix against one chunk of candidates is
# QUERY_CHUNK x ITEM_CHUNK doubles (32 MB).
QUERY_CHUNK = 1000
ITEM_CHUNK = 4096
# Candidates' vectors read per chunk at most (3,072 dimensions: 1,365 rows a chunk).
CHUNK_BYTES = 32 * 2**20
# A word in more than this share of a chunk's rows is multiplied densely (see `_lexical_cosines`;
# on the 10k catalog 2.5 times faster than all sparse, and faster than 2 % or 10 %).
COMMON_SHARE = 0.05
# At most this many of them (their dense columns: 32 MB a chunk), the most frequent.
MAX_DENSE_WORDS = 1024
# Candidates kept in memory between query chunks when they fit; beyond, read again each time.
KEEP_BYTES = 128 * 2**20


@dataclass(frozen=True)
class Signals:
    """What a blend ranks by: a model's vectors, the term weights, or both (summed), plus the
    popularity prior."""

    model: ResolvedModel | None
    lexical: bool
    weight: float = DEFAULT_WEIGHT
    prior_weight: float = DEFAULT_PRIOR_WEIGHT

    @classmethod
    def of(
        cls,
        model: ResolvedModel,
        blend: str,
        weight: float = DEFAULT_WEIGHT,
        prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    ) -> Signals:
        if blend not in (VECTOR, LEXICAL, HYBRID):
            raise ValueError(f"unknown blend {blend!r}")
        return cls(model if blend != LEXICAL else None, blend != VECTOR, weight, prior_weight)


@dataclass
class _Block:
    """Rows of some items: their ids, normalised vectors and term weights, which they have, and
    their prior (`neighbours.prior`)."""

    ids: np.ndarray
    vectors: np.ndarray | None
    has_vector: np.ndarray
    terms: sparse.csr_matrix | None
    has_terms: np.ndarray
    prior: np.ndarray

    @property
    def nbytes(self) -> int:
        size = self.ids.nbytes + (self.vectors.nbytes if self.vectors is not None else 0)
        if self.terms is not None:
            size += self.terms.data.nbytes + self.terms.indices.nbytes + self.terms.indptr.nbytes
        return size


def top_ids(signals: Signals, item_ids: Sequence[int], *, k: int = 10) -> dict[int, list[int]]:
    """Each item's top k under these signals, as item ids, best first."""
    return {
        item_id: [pk for pk, _ in found] for item_id, found in top(signals, item_ids, k=k).items()
    }


def top(
    signals: Signals, item_ids: Sequence[int], *, k: int = 10
) -> dict[int, list[tuple[int, float]]]:
    """Each item's top k under these signals, as (item id, score), best first; an empty list
    for an item with no row of any of the signals, as on the similar page."""
    found: dict[int, list[tuple[int, float]]] = {}
    for chunk in in_chunks(signals, item_ids, k=k):
        found |= chunk
    return found


def in_chunks(
    signals: Signals, item_ids: Sequence[int], *, k: int = 10
) -> Iterator[dict[int, list[tuple[int, float]]]]:
    """The same, a chunk of at most QUERY_CHUNK items at a time (the same chunks for the same
    items, whatever the signals), so a caller keeps only one chunk's answers.

    1. Group the items by kind: each kind is ranked among its own.
    2. For each chunk of them, read their rows, then score them against every chunk of
       candidates of that kind, keeping each one's best k.
    """
    kinds: dict[str, list[int]] = defaultdict(list)
    with connection.cursor() as cursor:
        # One array parameter: an IN list of thousands of ids costs more to build than to run.
        cursor.execute(
            f"SELECT id, kind FROM {CatalogItem._meta.db_table} WHERE id = ANY(%s) ORDER BY id",
            [list(item_ids)],
        )
        for item_id, kind in cursor.fetchall():
            kinds[kind].append(item_id)
    for kind, ids in kinds.items():
        candidates = _Candidates(signals, kind)
        for start in range(0, len(ids), QUERY_CHUNK):
            chunk = ids[start : start + QUERY_CHUNK]
            queries = _read(signals, ids=chunk)
            best = _Best(queries.ids, k)
            for block in candidates:
                best.add(block, _scores(signals, queries, block))
            found = best.as_lists()
            yield {item_id: found.get(item_id, []) for item_id in chunk}


def _scores(signals: Signals, queries: _Block, block: _Block) -> np.ndarray:
    """Every query's score against every candidate of the block; -inf where it may not rank
    (the query itself, or an item with no row of a signal the query has).

    Computed in double precision and kept in single: two items with the same rows must tie,
    as they do on the page, and the products may differ in the last bits of two equal columns.
    """
    scores = np.zeros((len(queries.ids), len(block.ids)))
    masks = []
    if queries.vectors is not None and block.vectors is not None:
        scores = queries.vectors @ block.vectors.T
        masks.append((queries.has_vector, block.has_vector))
    if queries.terms is not None and block.terms is not None:
        scores += signals.weight * _lexical_cosines(queries.terms, block.terms)
        masks.append((queries.has_terms, block.has_terms))
    if signals.prior_weight:
        scores = scores + signals.prior_weight * block.prior[None, :]
    found = scores.astype(np.float32)
    if not any(rows.all() and columns.all() for rows, columns in masks):
        allowed = np.zeros(found.shape, dtype=bool)
        for rows, columns in masks:
            allowed |= np.outer(rows, columns)
        found[~allowed] = -np.inf
    # The query itself, where it is among the candidates (both id lists are sorted).
    at = np.minimum(np.searchsorted(block.ids, queries.ids), len(block.ids) - 1)
    itself = np.flatnonzero(block.ids[at] == queries.ids)
    found[itself, at[itself]] = -np.inf
    return found


def _lexical_cosines(
    queries: sparse.csr_matrix,
    rows: sparse.csr_matrix,
    *,
    share: float = COMMON_SHARE,
    most: int = MAX_DENSE_WORDS,
) -> np.ndarray:
    """Every query's term-weight cosine with every row, as a dense matrix.

    A word in many rows (the labels every text has, "drama", "film") makes the sparse product
    nearly dense and slow: the words in more than `share` of this chunk's rows (the `most`
    frequent of them at most) are multiplied as dense columns, the others sparsely. Words no query uses add nothing, and are
    cut off first.
    """
    width = queries.shape[1]
    rows = _columns_below(rows, width, np.ones(0, dtype=bool))
    counts = np.bincount(rows.indices, minlength=width)
    common = counts > share * rows.shape[0]
    if common.sum() > most:
        common[:] = False
        common[np.argsort(-counts, kind="stable")[:most]] = True
    dense = queries[:, common].toarray() @ rows[:, common].toarray().T
    rare = _columns_below(queries, width, common) @ _columns_below(rows, width, common).T
    result: np.ndarray = dense + rare.toarray()
    return result


def _columns_below(
    matrix: sparse.csr_matrix, width: int, left_out: np.ndarray
) -> sparse.csr_matrix:
    """The matrix's entries in columns below `width` that `left_out` does not mark, as a CSR
    matrix `width` wide."""
    drop = matrix.indices >= width
    if len(left_out):
        drop[~drop] |= left_out[matrix.indices[~drop]]
    if not drop.any():
        return sparse.csr_matrix(
            (matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], width)
        )
    row_of = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    keep = ~drop
    pointers = np.concatenate(
        [[0], np.cumsum(np.bincount(row_of[keep], minlength=matrix.shape[0]))]
    )
    return sparse.csr_matrix(
        (matrix.data[keep], matrix.indices[keep], pointers), shape=(matrix.shape[0], width)
    )


class _Best:
    """A running top k per query: the k best (score, id) pairs seen so far."""

    def __init__(self, ids: np.ndarray, k: int) -> None:
        self.query_ids = ids
        self.k = k
        self.scores = np.full((len(ids), k), -np.inf, dtype=np.float32)
        self.ids = np.full((len(ids), k), np.iinfo(np.int64).max, dtype=np.int64)

    def add(self, block: _Block, scores: np.ndarray) -> None:
        """1. Take each query's k best columns of this block (argpartition, linear time).
        2. Where the k-th score ties with columns left out, choose among the ties by id.
        3. Merge with the best so far: higher score first, then lower id."""
        k, columns = self.k, scores.shape[1]
        if columns > k:
            chosen = np.argpartition(scores, columns - k, axis=1)[:, columns - k :]
            kth = np.take_along_axis(scores, chosen, axis=1).min(axis=1)
            tied = np.count_nonzero(scores >= kth[:, None], axis=1) > k
            for row in np.flatnonzero(tied & np.isfinite(kth)):
                at_least = np.flatnonzero(scores[row] >= kth[row])
                order = np.lexsort((block.ids[at_least], -scores[row, at_least]))
                chosen[row] = at_least[order[:k]]
        else:
            chosen = np.broadcast_to(np.arange(columns), (len(scores), columns))
        all_scores = np.concatenate([self.scores, np.take_along_axis(scores, chosen, 1)], 1)
        all_ids = np.concatenate([self.ids, block.ids[chosen]], axis=1)
        order = np.lexsort((all_ids, -all_scores), axis=1)[:, :k]
        self.scores = np.take_along_axis(all_scores, order, axis=1)
        self.ids = np.take_along_axis(all_ids, order, axis=1)

    def as_lists(self) -> dict[int, list[tuple[int, float]]]:
        found = np.isfinite(self.scores)
        return {
            query: [(i, s) for i, s, ok in zip(ids, scores, keep, strict=True) if ok]
            for query, ids, scores, keep in zip(
                self.query_ids.tolist(), self.ids.tolist(), self.scores.tolist(), found.tolist(),
                strict=True,
            )
        }  # fmt: skip


class _Candidates:
    """The items of one kind that may rank, streamed in chunks; kept after the first pass when
    they fit in KEEP_BYTES."""

    def __init__(self, signals: Signals, kind: str) -> None:
        self.signals = signals
        self.kind = kind
        self._kept: list[_Block] | None = None

    def __iter__(self) -> Iterator[_Block]:
        if self._kept is not None:
            yield from self._kept
            return
        kept: list[_Block] | None = []
        size, after = 0, 0
        while True:
            block = _read(self.signals, kind=self.kind, after=after)
            if not len(block.ids):
                break
            yield block
            after = int(block.ids[-1])
            if kept is not None:
                kept.append(block)
                size += block.nbytes
                if size > KEEP_BYTES:
                    kept = None
        self._kept = kept


def _read(
    signals: Signals,
    *,
    ids: Sequence[int] | None = None,
    kind: str = "",
    after: int = 0,
) -> _Block:
    """The rows of these items (`ids`), or the next chunk of candidates of a kind after an id,
    in item id order: one statement, vectors and term weights in pgvector's binary form."""
    model = signals.model
    columns, joins, has = ["c.id", "c.vote_count", "c.vote_average"], [], []
    params: list[Any] = []
    if model is not None:
        table = model.table
        columns.append(f"{storage_type(table.dimensions)}_send(v.embedding)")
        joins.append(f"LEFT JOIN {table._meta.db_table} v ON v.item_id = c.id AND v.model_key = %s")
        params.append(model.key)
        has.append("v.item_id IS NOT NULL")
    if signals.lexical:
        columns.append("sparsevec_send(l.embedding)")
        joins.append(f"LEFT JOIN {LexicalVector._meta.db_table} l ON l.item_id = c.id")
        has.append("l.item_id IS NOT NULL")
    if ids is not None:
        where, limit = "c.id = ANY(%s)", len(ids)
        params.append(list(ids))
    else:
        dimensions = model.table.dimensions if model is not None else 1
        where, limit = "c.kind = %s AND c.id > %s", _chunk_rows(dimensions)
        params += [kind, after]
    sql = (
        f"SELECT {', '.join(columns)} FROM {CatalogItem._meta.db_table} c {' '.join(joins)} "
        f"WHERE {where} AND ({' OR '.join(has)}) ORDER BY c.id LIMIT {limit:d}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    block_ids = np.array([row[0] for row in rows], dtype=np.int64)
    votes = np.array([row[1] or 0 for row in rows], dtype=np.int64)
    ratings = np.array([row[2] or 0.0 for row in rows], dtype=np.float64)
    vectors = terms = None
    has_vector = has_terms = np.zeros(len(rows), dtype=bool)
    if model is not None:
        vectors, has_vector = _dense([row[3] for row in rows], model.table.dimensions)
    if signals.lexical:
        terms, has_terms = _sparse([row[-1] for row in rows])
    return _Block(block_ids, vectors, has_vector, terms, has_terms, priors(votes, ratings))


def _chunk_rows(dimensions: int) -> int:
    return max(256, min(ITEM_CHUNK, CHUNK_BYTES // (8 * dimensions)))


def _dense(blobs: list[bytes | None], dimensions: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary vectors (or halfvecs) into an L2-normalised matrix of doubles, a zero row where an
    item has none. Each value is a 4-byte header (dimensions, unused) and big-endian numbers."""
    half = storage_type(dimensions) == "halfvec"
    width = 2 if half else 4
    has = np.array([blob is not None for blob in blobs], dtype=bool)
    empty = bytes(4 + width * dimensions)
    joined = b"".join(bytes(blob) if blob is not None else empty for blob in blobs)
    numbers = np.frombuffer(joined, dtype=">f2" if half else ">f4").reshape(
        len(blobs), -1 if blobs else 4 // width + dimensions
    )
    matrix = numbers[:, 4 // width :].astype(np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix /= np.where(norms > 0, norms, 1.0)
    return matrix, has


def _sparse(blobs: list[bytes | None]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Binary sparse vectors into an L2-normalised CSR matrix whose columns are term ids (the
    largest id used, plus one, wide). Each value is a 12-byte header (dimensions, non-zero
    count, unused), then the 0-based indices and the values, big-endian."""
    has = np.array([blob is not None for blob in blobs], dtype=bool)
    indices, values, pointers = [], [], [0]
    for blob in blobs:
        count = int.from_bytes(blob[4:8], "big") if blob is not None else 0
        if blob is not None and count:
            indices.append(np.frombuffer(blob, dtype=">i4", count=count, offset=12))
            values.append(np.frombuffer(blob, dtype=">f4", count=count, offset=12 + 4 * count))
        pointers.append(pointers[-1] + count)
    index = np.concatenate(indices).astype(np.int32) if indices else np.zeros(0, np.int32)
    value = np.concatenate(values).astype(np.float64) if values else np.zeros(0)
    width = int(index.max()) + 1 if len(index) else 1
    matrix = sparse.csr_matrix((value, index, np.array(pointers)), shape=(len(blobs), width))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    matrix = sparse.csr_matrix(sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix)
    return matrix, has
