"""The lexical signal: the words of a text, their TF-IDF weights, and the items nearest to them.

Sequels and franchises share words (names, places, the title itself) that a small sentence model
blurs; a bag of words catches them. Each item's row in `lexical_vectors` holds the weights of its
words as a pgvector `sparsevec`, and `lexical_postings` the same weights word by word, indexed by
(word, weight): lexical neighbours are a few short index reads (see `lexical_neighbour_ids`) and
need no network and no model.

The weights, for the text embeddings/text.py builds (the same text and `source_hash` as the
item's vectors): words of two letters or more, lower-cased, English stop words dropped;
weight = (1 + ln tf) * idf, idf = ln((1 + N) / (1 + df)) + 1 over the N items with text, and
the vector is L2-normalised, so cosine similarity is the dot product. (The same as
scikit-learn's `TfidfVectorizer(sublinear_tf=True, stop_words="english")`.)

The rows are kept current by `embeddings.neighbours.lexical_rows`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from django.db import connection
from pgvector import SparseVector
from pgvector.django import CosineDistance

from catalog.models import CatalogItem
from embeddings.models import (
    LEXICAL_DIMENSIONS,
    LexicalCorpus,
    LexicalPosting,
    LexicalTerm,
    LexicalVector,
)
from embeddings.neighbours.filters import Filters

# The words an item's row keeps, heaviest first: bounds a row and its postings.
MAX_TERMS = 1000
MAX_TERM_LENGTH = 100
# Finding neighbours (`lexical_neighbour_ids`); measured on the 10k TMDb catalog and a synthetic
# 100k set (README, "Neighbours").
QUERY_TERMS = 100
POSTINGS_PER_TERM = 100
CANDIDATES = 100
FILTER_SCAN = 10
EXACT_ROWS = 20_000

_WORD = re.compile(r"(?u)\b\w\w+\b")

# scikit-learn's English stop words (from the Glasgow Information Retrieval Group's list).
STOP_WORDS = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond bill both bottom but by call can
    cannot cant co con could couldnt cry de describe detail do done down due during each eg
    eight either eleven else elsewhere empty enough etc even ever every everyone everything
    everywhere except few fifteen fifty fill find fire first five for former formerly forty
    found four from front full further get give go had has hasnt have he hence her here
    hereafter hereby herein hereupon hers herself him himself his how however hundred i ie if in
    inc indeed interest into is it its itself keep last latter latterly least less ltd made many
    may me meanwhile might mill mine more moreover most mostly move much must my myself name
    namely neither never nevertheless next nine no nobody none noone nor not nothing now nowhere
    of off often on once one only onto or other others otherwise our ours ourselves out over own
    part per perhaps please put rather re same see seem seemed seeming seems serious several she
    should show side since sincere six sixty so some somehow someone something sometime
    sometimes somewhere still such system take ten than that the their them themselves then
    thence there thereafter thereby therefore therein thereupon these they thick thin third this
    those though three through throughout thru thus to together too top toward towards twelve
    twenty two un under until up upon us very via was we well were what whatever when whence
    whenever where whereafter whereas whereby wherein whereupon wherever whether which while
    whither who whoever whole whom whose why will with within without would yet you your yours
    yourself yourselves
    """.split()  # noqa: SIM905
)


def tokenize(text: str) -> list[str]:
    """The words of a text that carry meaning, in order."""
    return [
        word
        for word in _WORD.findall(text.lower())
        if word not in STOP_WORDS and len(word) <= MAX_TERM_LENGTH
    ]


def idf(documents: int, frequency: int) -> float:
    return math.log((1 + documents) / (1 + frequency)) + 1.0


def weigh(
    counts: Counter[str], ids: dict[str, int], df: dict[str, int], documents: int
) -> dict[int, float]:
    """The L2-normalised TF-IDF weights of one item's word counts (its heaviest MAX_TERMS
    words), by word id, rounded as stored."""
    weights = {
        ids[term]: (1.0 + math.log(tf)) * idf(documents, df.get(term, 1))
        for term, tf in counts.items()
    }
    if len(weights) > MAX_TERMS:
        weights = dict(sorted(weights.items(), key=lambda pair: -pair[1])[:MAX_TERMS])
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {term_id: float(f"{w / norm:.6g}") for term_id, w in sorted(weights.items())}


def as_sparsevec(weights: dict[int, float]) -> str:
    """pgvector's sparsevec text form; a word's id is its dimension (0-based, as pgvector's
    Python `SparseVector` reads it back, 1-based in the text)."""
    pairs = ",".join(f"{term_id + 1}:{w:.6g}" for term_id, w in weights.items())
    return f"{{{pairs}}}/{LEXICAL_DIMENSIONS}"


def query_terms(text: str) -> SparseVector | None:
    """A free text's term weights, with the stored statistics; None when no word of it is
    known (it can share nothing with any item)."""
    counts = Counter(tokenize(text))
    known = LexicalTerm.objects.filter(term__in=counts, documents__gt=0)
    rows = list(known.values_list("term", "id", "documents"))
    if not rows:
        return None
    documents = LexicalCorpus.objects.values_list("documents", flat=True).first() or 0
    weights = {
        term_id: (1.0 + math.log(counts[term])) * idf(documents, df) for term, term_id, df in rows
    }
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return SparseVector({t: w / norm for t, w in weights.items()}, LEXICAL_DIMENSIONS)


def lexical_neighbour_ids(terms: SparseVector, k: int, filters: Filters) -> list[tuple[int, float]]:
    """(item id, lexical cosine) of the k items nearest to these term weights among those that
    pass the filters, best first; only items that share a word with the query.

    1. Each of the query's QUERY_TERMS heaviest words reads its POSTINGS_PER_TERM heaviest
       postings of items that pass the filters (with filters, among its FILTER_SCAN times as many
       heaviest postings: a walk with a bound).
    2. Per item, the sum of query weight x posting weight is a lower bound of its cosine; the
       CANDIDATES best sums are rescored exactly from their rows, and the k best kept.
    3. A filter so narrow that the bounded walk found fewer than k items: when at most
       EXACT_ROWS items pass it, their rows are read exactly instead.
    """
    if not terms.indices():
        return []
    order = sorted(zip(terms.indices(), terms.values(), strict=True), key=lambda tw: -tw[1])
    heaviest = order[:QUERY_TERMS]
    conditions, params = filters.as_sql()
    params |= {
        "term_ids": [t for t, _ in heaviest], "weights": [w for _, w in heaviest],
        "vector": terms.to_text(), "k": k,
        "per_term": POSTINGS_PER_TERM, "scan": POSTINGS_PER_TERM * FILTER_SCAN,
        "candidates": max(CANDIDATES, 2 * k),
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_nearest_sql(conditions), params)
        found: list[tuple[int, float]] = cursor.fetchall()
    if len(found) < k and conditions:
        passing = LexicalVector.objects.filter(filters.as_q())
        if passing[: EXACT_ROWS + 1].count() <= EXACT_ROWS:
            return _exact(passing, terms, k)
    return found


def _nearest_sql(conditions: str) -> str:
    """Per (query word, kind): that word's heaviest postings of that kind, read from the index
    in order; further filters join the catalog, among a bounded number of them."""
    postings, catalog = LexicalPosting._meta.db_table, CatalogItem._meta.db_table
    heaviest = f"""
        SELECT item_id, weight FROM {postings}
        WHERE term_id = q.term_id AND kind = kinds.kind AND item_id IS DISTINCT FROM %(exclude)s
        ORDER BY weight DESC"""
    if conditions:
        # `IS TRUE` keeps the IN a hashed subplan: the passing ids are hashed once per query,
        # not joined once per posting.
        per_term = f"""
            SELECT top.item_id, top.weight FROM ({heaviest} LIMIT %(scan)s) top
            WHERE (top.item_id IN (SELECT c.id FROM {catalog} c WHERE {conditions})) IS TRUE
            ORDER BY top.weight DESC LIMIT %(per_term)s"""
    else:
        per_term = f"{heaviest} LIMIT %(per_term)s"
    return f"""
        WITH q AS (
            SELECT * FROM unnest(%(term_ids)s::integer[], %(weights)s::real[]) AS q(term_id, weight)
        ), found AS (
            SELECT p.item_id FROM q CROSS JOIN unnest(%(kinds)s::text[]) AS kinds(kind)
            CROSS JOIN LATERAL ({per_term}) p
            GROUP BY p.item_id ORDER BY sum(q.weight * p.weight) DESC, p.item_id
            LIMIT %(candidates)s
        )
        SELECT v.item_id, 1 - (v.embedding <=> %(vector)s::sparsevec) AS score
        FROM found JOIN {LexicalVector._meta.db_table} v ON v.item_id = found.item_id
        ORDER BY score DESC, v.item_id LIMIT %(k)s"""


def _exact(rows: Any, terms: SparseVector, k: int) -> list[tuple[int, float]]:
    """The k rows nearest to the terms, read exactly; only those that share a word."""
    nearest = rows.annotate(distance=CosineDistance("embedding", terms)).filter(distance__lt=1)
    found = nearest.order_by("distance", "item_id").values_list("item_id", "distance")[:k]
    return [(item_id, 1.0 - distance) for item_id, distance in found]
