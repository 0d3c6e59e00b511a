"""Why a neighbour is there: the words, people and collection it shares with the item.

The shared words leave out what the row already says another way, or says nothing: the labels
every text carries, the words of people's names (a shared person is listed as cast or director;
two different Toms share only a first name), and the two films' years (shown beside the title).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pgvector import SparseVector

from catalog.models import CatalogItem
from embeddings.models import LexicalTerm, LexicalVector
from embeddings.neighbours.lexical import tokenize
from embeddings.text import item_text

SHOWN_TERMS = 5
# The labels embeddings/text.py writes into every text: shared by all, never a reason.
LABEL_WORDS = frozenset({"genres", "keywords", "starring", "directed", "created"})


@dataclass
class Why:
    """What a neighbour shares with the item."""

    terms: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)
    director: list[str] = field(default_factory=list)
    collection: str = ""

    def __bool__(self) -> bool:
        return bool(self.terms or self.cast or self.director or self.collection)


def reasons(item: CatalogItem, neighbours: Sequence[CatalogItem]) -> list[Why]:
    """What each neighbour shares with the item, in their order: its heaviest shared words (by
    their part of the lexical cosine), cast, director and collection."""
    words, shared = _shared_terms(item, [neighbour.pk for neighbour in neighbours])
    directors = _people(item.director)
    own = LABEL_WORDS | _shown_elsewhere(item)
    return [
        Why(
            terms=[
                words[t]
                for t in shared[neighbour.pk]
                if t in words and words[t] not in own | _shown_elsewhere(neighbour)
            ][:SHOWN_TERMS],
            cast=[name for name in item.cast if name in set(neighbour.cast)],
            director=[name for name in _people(neighbour.director) if name in directors],
            collection=item.collection
            if item.collection and item.collection == neighbour.collection
            else "",
        )
        for neighbour in neighbours
    ]


def _shared_terms(item: CatalogItem, ids: list[int]) -> tuple[dict[int, str], dict[int, list[int]]]:
    """The item's words by id, and for each of these items the ids of the words it shares with
    the item, heaviest product of weights first."""
    weights: dict[int, SparseVector] = dict(
        LexicalVector.objects.filter(item_id__in=[item.pk, *ids]).values_list(
            "item_id", "embedding"
        )
    )
    own = _as_dict(weights.get(item.pk))
    words = dict(LexicalTerm.objects.filter(id__in=own).values_list("id", "term"))
    # Words that weigh the same are shown in the order the item's text uses them.
    order = {word: i for i, word in reversed(list(enumerate(tokenize(item_text(item)))))}
    shared: dict[int, list[int]] = {}
    for item_id in ids:
        other = _as_dict(weights.get(item_id))
        products = {t: round(w * other[t], 6) for t, w in own.items() if t in other}
        shared[item_id] = sorted(
            products, key=lambda t: (-products[t], order.get(words.get(t, ""), len(order)))
        )
    return words, shared


def _shown_elsewhere(item: CatalogItem) -> frozenset[str]:
    """The words of the item's people's names and its year, as the lexical signal reads them."""
    people = " ".join([*item.cast, item.director])
    return frozenset(tokenize(f"{people} {item.year or ''}"))


def _as_dict(vector: SparseVector | None) -> dict[int, float]:
    if vector is None:
        return {}
    return dict(zip(vector.indices(), vector.values(), strict=True))


def _people(names: str) -> set[str]:
    return {name.strip() for name in names.split(",") if name.strip()}
