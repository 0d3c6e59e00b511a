from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class CatalogItemQuerySet(models.QuerySet["CatalogItem"]):
    def movies(self) -> CatalogItemQuerySet:
        return self.filter(kind=CatalogItem.Kind.MOVIE)

    def series(self) -> CatalogItemQuerySet:
        return self.filter(kind=CatalogItem.Kind.SERIES)


class CatalogItem(models.Model):
    """A film or a series of the catalog; the text of its embedding is built from these fields."""

    class Kind(models.TextChoices):
        MOVIE = "movie", "Movie"
        SERIES = "series", "Series"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MOVIE)
    tmdb_id = models.PositiveIntegerField("TMDB id")
    imdb_id = models.CharField("IMDb id", max_length=20, blank=True)
    title = models.CharField(max_length=300)
    original_title = models.CharField(max_length=300, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    tagline = models.CharField(max_length=500, blank=True)
    overview = models.TextField(blank=True)
    genres = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    keywords = ArrayField(models.CharField(max_length=120), default=list, blank=True)
    cast = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    director = models.CharField(
        "director / creators",
        max_length=300,
        blank=True,
        help_text="Director of a film, creators of a series.",
    )
    collection = models.CharField(
        max_length=200,
        blank=True,
        help_text="TMDb collection (franchise), e.g. Toy Story Collection.",
    )
    runtime = models.PositiveIntegerField("runtime (min)", null=True, blank=True)
    seasons = models.PositiveIntegerField(null=True, blank=True)
    popularity = models.FloatField(null=True, blank=True)
    vote_average = models.FloatField(null=True, blank=True)
    vote_count = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CatalogItemQuerySet.as_manager()

    class Meta:
        ordering = ["title", "year"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "tmdb_id"], name="catalog_item_unique_kind_tmdb_id"
            ),
        ]
        indexes = [
            GinIndex(fields=["genres"], name="catalog_item_genres_gin"),
            models.Index(fields=["kind", "year"], name="catalog_item_kind_year"),
            models.Index(fields=["title"], name="catalog_item_title"),
            models.Index(fields=["collection"], name="catalog_item_collection"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title
