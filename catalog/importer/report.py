"""What an import did, in counts and in lines a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field

# How many of the items whose embedding text changed the report names; the rest are counted.
TEXT_CHANGES_NAMED = 20


@dataclass
class Rejection:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class TextChange:
    """An item that existed before the import and whose embedding text the import changed."""

    id: int
    title: str

    def __str__(self) -> str:
        return f"{self.title} (id {self.id})"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # Lines whose TMDB id appeared again further down the file; the later row was kept.
    superseded: list[int] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    # Existing items whose text hash the import changed: their embeddings no longer match.
    text_changed: int = 0
    text_changes: list[TextChange] = field(default_factory=list)  # the first few, named

    def count(self, outcome: str, kind: str) -> None:
        """One item this import created, updated or left unchanged."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def text_change(self, item_id: int, title: str) -> None:
        self.text_changed += 1
        if len(self.text_changes) < TEXT_CHANGES_NAMED:
            self.text_changes.append(TextChange(item_id, title))

    def progress(self) -> str:
        return (
            f"{self.created:,} created, {self.updated:,} updated, {len(self.rejected):,} rejected"
        )

    def summary(self, limit: int = 50) -> list[str]:
        """The lines to show a person: counts first, then the existing items whose embedding
        text changed, then each rejected row with its reason."""
        films, series = self.kinds.get("movie", 0), self.kinds.get("series", 0)
        lines = [
            f"{_count(films, 'film')} and {series:,} series: {self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {len(self.rejected):,} rejected."
        ]
        if self.text_changed:
            lines.append(
                f"{_count(self.text_changed, 'existing item')} changed their embedding text:"
            )
            lines += [f"  {change}" for change in self.text_changes]
            if self.text_changed > len(self.text_changes):
                lines.append(f"  … and {self.text_changed - len(self.text_changes):,} more.")
        if self.superseded:
            earlier = ", ".join(map(str, self.superseded[:limit]))
            lines.append(
                f"{len(self.superseded):,} row(s) had a TMDB id that appears again later in the file; "
                f"the later row was kept (replaced: line {earlier})."
            )
        lines += [f"Rejected {rejection}" for rejection in self.rejected[:limit]]
        if len(self.rejected) > limit:
            lines.append(f"… and {len(self.rejected) - limit:,} more rejected rows.")
        return lines


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
