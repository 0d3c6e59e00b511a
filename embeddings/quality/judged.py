"""Curators' judgments as a measure: how many of the films a curator accepts for a film are in
its top 10, and how high.

Franchise siblings measure one kind of kinship, and a catalog's lexical signal finds them well;
"feels like this one" (Memento and Mulholland Drive) no franchise list holds. A judgment is a
graded pair of TMDb ids of one kind: 2 a great match, 1 acceptable, 0 a wrong one. Per query
film (one with at least one film graded 1 or more):

- recall@10: the share of its relevant films (grade >= 1) in its top 10, out of at most 10
  (as franchise recall counts siblings);
- nDCG@10: the top 10's discounted gain (gain = grade, 0 for a film nobody graded, divided by
  log2(rank + 1)), over the best the judged grades allow (Järvelin and Kekäläinen, 2002).

Both are averaged over the judged queries. Only the films that both exist in the catalog and
have a vector of the measured model count, queries and relevant films alike, so a model
mid-build is not charged for films it has not reached and every blend is asked the same films.

Judgments come from the database or from a CSV file
(`query_tmdb_id,relevant_tmdb_id,grade[,kind]`); `parse_judgments`
(`embeddings.models.judgment_files`, shared with the import and export commands) reads the
file's rows and names each bad line.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from catalog.models import CatalogItem
from embeddings.models import EmbeddingBase
from embeddings.models.judgment_files import BadLine as BadLine
from embeddings.models.judgment_files import Judged as Judged
from embeddings.models.judgment_files import JudgmentsFileError as JudgmentsFileError
from embeddings.models.judgment_files import parse_judgments as parse_judgments

K = 10


@dataclass(frozen=True)
class JudgedScore:
    """recall@10 and nDCG@10 of the judged-relevant films, averaged over the judged queries."""

    queries: int
    recall_at_10: float
    ndcg_at_10: float

    def fields(self) -> dict[str, int | float | None]:
        """As a `QualityScore` keeps it: no scores when no film was judged."""
        asked = self.queries > 0
        return {
            "judged_queries": self.queries,
            "judged_recall_at_10": self.recall_at_10 if asked else None,
            "judged_ndcg_at_10": self.ndcg_at_10 if asked else None,
        }

    def as_dict(self) -> dict[str, int | float]:
        return {
            "judged_queries": self.queries,
            "judged_recall_at_10": round(self.recall_at_10, 4),
            "judged_ndcg_at_10": round(self.ndcg_at_10, 4),
        }


# --- The arithmetic -----------------------------------------------------------------------------


def recall_at_k(found: Sequence[int], grades: Mapping[int, int], k: int = K) -> float:
    """Share of the relevant films (grade >= 1) among the first k found, out of at most k."""
    relevant = {film for film, grade in grades.items() if grade >= 1}
    if not relevant:
        return 0.0
    return len(relevant & set(found[:k])) / min(len(relevant), k)


def dcg(gains: Iterable[int]) -> float:
    """Discounted cumulative gain: the gain at rank r divided by log2(r + 1)."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(found: Sequence[int], grades: Mapping[int, int], k: int = K) -> float:
    """The first k found's DCG over the ideal one: the judged grades, best first."""
    ideal = dcg(sorted((g for g in grades.values() if g > 0), reverse=True)[:k])
    if not ideal:
        return 0.0
    return dcg(grades.get(film, 0) for film in found[:k]) / ideal


def averaged(
    judged: Mapping[int, Mapping[int, int]], found: Mapping[int, Sequence[int]], k: int = K
) -> JudgedScore:
    """Average recall@k and nDCG@k over the queries with a relevant film; a query nothing was
    found for scores 0."""
    queries = [q for q, grades in judged.items() if any(g >= 1 for g in grades.values())]
    if not queries:
        return JudgedScore(0, 0.0, 0.0)
    recall = sum(recall_at_k(found.get(q, ()), judged[q], k) for q in queries)
    ndcg = sum(ndcg_at_k(found.get(q, ()), judged[q], k) for q in queries)
    return JudgedScore(len(queries), recall / len(queries), ndcg / len(queries))


# --- From TMDb ids to the catalog --------------------------------------------------------------


def judged_items(
    judgments: Iterable[Judged], table: type[EmbeddingBase], model_key: str
) -> dict[int, dict[int, int]]:
    """The judgments as catalog item ids: {query item: {judged item: grade}}.

    1. Map each kind's TMDb ids to its catalog items.
    2. Keep the items with a vector of this model (queries and judged films alike).
    3. A pair judged twice keeps its last grade (a file's later line, a curator's later mind).
    """
    by_kind: dict[str, list[Judged]] = defaultdict(list)
    for judgment in judgments:
        by_kind[judgment.kind].append(judgment)
    found: dict[int, dict[int, int]] = defaultdict(dict)
    for kind, pairs in by_kind.items():
        tmdb_ids = {j.query for j in pairs} | {j.relevant for j in pairs}
        items = CatalogItem.objects.filter(kind=kind, tmdb_id__in=tmdb_ids)
        embedded = table.objects.for_model(model_key).filter(item__in=items)
        item_of = dict(items.filter(id__in=embedded.values("item_id")).values_list("tmdb_id", "id"))
        for j in pairs:
            if j.query in item_of and j.relevant in item_of and j.query != j.relevant:
                found[item_of[j.query]][item_of[j.relevant]] = j.grade
    return dict(found)
