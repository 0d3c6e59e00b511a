"""How far two top-k lists of neighbours agree: the one definition of overlap@k that the similar
page's compare mode and the quality panel's disagreement list share."""

from __future__ import annotations

from collections.abc import Sequence


def overlap_at_k(left: Sequence[int], right: Sequence[int], k: int) -> float:
    """Share of the top k the two lists have in common (0 when both are empty); a list shorter
    than k counts out of the longer one's length."""
    size = min(k, max(len(left), len(right)))
    return len(set(left[:k]) & set(right[:k])) / size if size else 0.0
