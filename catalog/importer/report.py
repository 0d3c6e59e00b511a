"""What an import did, in counts and in lines a person reads."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Rejection:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # Lines whose TMDB id appeared again further down the file; the later row was kept.
    superseded: list[int] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str, kind: str) -> None:
        """One item this import created, updated or left unchanged."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    def progress(self) -> str:
        return (
            f"{self.created:,} created, {self.updated:,} updated, {len(self.rejected):,} rejected"
        )

    def summary(self, limit: int = 50) -> list[str]:
        """The lines to show a person: counts first, then each rejected row with its reason."""
        films, series = self.kinds.get("movie", 0), self.kinds.get("series", 0)
        lines = [
            f"{_count(films, 'film')} and {series:,} series: {self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {len(self.rejected):,} rejected."
        ]
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
