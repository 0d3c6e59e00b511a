from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.postgres.search import SearchQuery
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import TITLE_WORDS, CatalogItem, catalog_genres

# Lists count their rows exactly up to here; beyond, they show the planner's estimate.
EXACT_COUNT_LIMIT = 10_000
_WORD = re.compile(r"\w+")


class EstimatedCountPaginator(Paginator[CatalogItem]):
    """Pages of a list that may hold a million rows, without counting every row: an exact count
    up to `EXACT_COUNT_LIMIT` (a capped scan), the planner's estimate beyond it."""

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return super().count
        capped = rows.order_by()[: EXACT_COUNT_LIMIT + 1].count()
        if capped <= EXACT_COUNT_LIMIT:
            return capped
        plan = json.loads(rows.order_by().explain(format="json"))
        return max(capped, int(plan[0]["Plan"]["Plan Rows"]))


def title_query(term: str) -> SearchQuery | None:
    """Every word of the search, matched as a word or the start of one in the title or the
    original title ("chihi" finds "Sen to Chihiro"); None when the search has no word."""
    words = _WORD.findall(term.lower())
    if not words:
        return None
    return SearchQuery(
        " & ".join(f"'{word}':*" for word in words), search_type="raw", config="simple"
    )


class GenreFilter(admin.SimpleListFilter):
    title = "genre"
    parameter_name = "genre"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[CatalogItem]
    ) -> list[tuple[str, str]]:
        return [(genre, genre) for genre in catalog_genres()]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[CatalogItem]
    ) -> QuerySet[CatalogItem]:
        if self.value():
            return queryset.filter(genres__contains=[self.value()])
        return queryset


class DecadeFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[CatalogItem]
    ) -> list[tuple[str, str]]:
        return [(str(decade), f"{decade}s") for decade in range(2020, 1910, -10)]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[CatalogItem]
    ) -> QuerySet[CatalogItem]:
        value = self.value()
        if value and value.isdigit():
            start = int(value)
            return queryset.filter(year__gte=start, year__lt=start + 10)
        return queryset


@admin.register(CatalogItem)
class CatalogItemAdmin(admin.ModelAdmin[CatalogItem]):
    # The Similar link sits beside the title it belongs to, so it stays in view however many
    # genres and directors the wider columns hold.
    list_display = [
        "title",
        "similar_link",
        "year",
        "kind",
        "genre_list",
        "director",
        "rating",
    ]
    list_filter = ["kind", GenreFilter, DecadeFilter]
    search_fields = ["title", "original_title"]  # shows the search box; see get_search_results
    search_help_text = "Words of the title or original title, or their beginnings."
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False  # a second count of the whole catalog on every filtered view
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["kind", "title", "original_title", "year", "tagline", "overview"]}),
        ("People and tags", {"fields": ["director", "cast", "genres", "keywords", "collection"]}),
        (
            "Facts",
            {
                "fields": [
                    "tmdb_id", "imdb_id", "runtime", "seasons", "popularity",
                    "vote_average", "vote_count", "created_at", "updated_at",
                ]
            },
        ),
    ]  # fmt: skip

    def get_ordering(self, request: HttpRequest) -> Any:
        """Search results best-known first: ordered by title, PostgreSQL would walk the title
        index past every non-matching row (seconds on a big catalog when the matches sort late)."""
        if request.GET.get(SEARCH_VAR, "").strip():
            return [F("vote_count").desc(nulls_last=True), "title"]
        return super().get_ordering(request)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CatalogItem], search_term: str
    ) -> tuple[QuerySet[CatalogItem], bool]:
        """Words through the title index (GIN over a tsvector) instead of `ILIKE '%…%'`, which
        reads every row of a big catalog."""
        query = title_query(search_term)
        if query is None:
            return queryset, False
        return queryset.alias(title_words=TITLE_WORDS).filter(title_words=query), False

    @admin.display(description="genres")
    def genre_list(self, item: CatalogItem) -> str:
        return ", ".join(item.genres)

    @admin.display(description="rating", ordering="vote_average")
    def rating(self, item: CatalogItem) -> float | None:
        return item.vote_average

    @admin.display(description="")
    def similar_link(self, item: CatalogItem) -> str:
        return format_html(
            '<a href="{}">Similar</a>', reverse("embeddings:similar", args=[item.pk])
        )
