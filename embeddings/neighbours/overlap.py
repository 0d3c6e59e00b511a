"""How far two top-k lists of neighbours agree: the one definition of overlap@k that the similar
page's compare mode and the quality panel's disagreement list share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def overlap_at_k(left: Sequence[int], right: Sequence[int], k: int) -> float:
    """Share of the top k the two lists have in common (0 when both are empty); a list shorter
    than k counts out of the longer one's length."""
    size = min(k, max(len(left), len(right)))
    return len(set(left[:k]) & set(right[:k])) / size if size else 0.0


@dataclass
class Comparison:
    """Two top-k lists of neighbours (anything with an `.item`), one per model."""

    left: list[Any] = field(default_factory=list)
    right: list[Any] = field(default_factory=list)

    @property
    def shared_ids(self) -> set[int]:
        return {n.item.pk for n in self.left} & {n.item.pk for n in self.right}

    @property
    def overlap(self) -> float:
        """Share of the top-k both models agree on, k being the longer list's length (0 when
        both are empty)."""
        k = max(len(self.left), len(self.right))
        return overlap_at_k([n.item.pk for n in self.left], [n.item.pk for n in self.right], k)
