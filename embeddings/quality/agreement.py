"""How far two models agree on an item's neighbours: overlap@10 (embeddings/neighbours/overlap.py)
and rank-biased overlap, and the items two models can be compared on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from embeddings.neighbours.overlap import overlap_at_k
from embeddings.quality.measure import K, vector_table


def rank_biased_overlap(left: Sequence[int], right: Sequence[int], p: float = 0.9) -> float:
    """Rank-biased overlap (Webber, Moffat and Zobel, 2010), extrapolated from the lists' depth:
    1 for the same list, 0 for disjoint ones, and agreement at the top weighs most (p = 0.9 puts
    about 86 % of the weight on the first 10 ranks)."""
    depth = max(len(left), len(right))
    if not depth:
        return 0.0
    seen_left: set[int] = set()
    seen_right: set[int] = set()
    shared = 0
    total = 0.0
    for rank in range(1, depth + 1):
        seen_left.update(left[rank - 1 : rank])
        seen_right.update(right[rank - 1 : rank])
        shared = len(seen_left & seen_right)
        total += shared / rank * p**rank
    return shared / depth * p**depth + (1 - p) / p * total


@dataclass(frozen=True)
class Agreement:
    """How far two models agree on one item's neighbours."""

    overlap_at_10: float
    rbo: float


def agreement(left: Sequence[int], right: Sequence[int]) -> Agreement:
    return Agreement(overlap_at_k(left, right, K), rank_biased_overlap(left[:K], right[:K]))


def pair(left_key: str, right_key: str) -> tuple[str, str]:
    """Both measures are symmetric: one stored list serves both orders of a pair."""
    return (left_key, right_key) if left_key <= right_key else (right_key, left_key)


def shared_items(left_key: str, right_key: str) -> list[int]:
    """Every item both models have a vector for, in id order."""
    left, right = vector_table(left_key), vector_table(right_key)
    in_right = right.objects.for_model(right_key).values("item_id")
    rows = left.objects.for_model(left_key).filter(item_id__in=in_right)
    return list(rows.order_by("item_id").values_list("item_id", flat=True))
