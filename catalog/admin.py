from __future__ import annotations

from django.contrib import admin
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import CatalogItem


class GenreFilter(admin.SimpleListFilter):
    title = "genre"
    parameter_name = "genre"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        # The genres the catalog really has: films and series use different TMDb names.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT unnest(genres) AS g FROM {CatalogItem._meta.db_table} ORDER BY g"
            )
            return [(genre, genre) for (genre,) in cursor.fetchall()]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[CatalogItem]
    ) -> QuerySet[CatalogItem]:
        if self.value():
            return queryset.filter(genres__contains=[self.value()])
        return queryset


class DecadeFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
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
class CatalogItemAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "year",
        "kind",
        "genre_list",
        "director",
        "vote_average",
        "similar_link",
    ]
    list_filter = ["kind", GenreFilter, DecadeFilter]
    search_fields = ["title", "original_title"]
    list_per_page = 50
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

    @admin.display(description="genres")
    def genre_list(self, item: CatalogItem) -> str:
        return ", ".join(item.genres)

    @admin.display(description="")
    def similar_link(self, item: CatalogItem) -> str:
        return format_html(
            '<a href="{}">Similar</a>', reverse("embeddings:similar", args=[item.pk])
        )
