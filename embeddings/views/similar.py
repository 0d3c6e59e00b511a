"""The similar page, `/admin/similar/<id>`: an item's nearest neighbours under one model or two
side by side, why each is there, a free-text search, and the same list as JSON for scripts."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalog.models import CatalogItem
from embeddings import jobs as job_runner
from embeddings import quality as scores
from embeddings.forms import EmbedNowForm, NeighbourForm, errors_of
from embeddings.jobs import JobRefused
from embeddings.models import EmbeddingSettings, LexicalVector
from embeddings.neighbours.blends import (
    BLEND_LABELS,
    DEFAULT_WEIGHT,
    LEXICAL,
    VECTOR,
    Ranked,
    blended_neighbours,
    default_blend,
    explain,
    prior_applies,
    ranked,
    text_query,
)
from embeddings.neighbours.curation import Curated, curated_neighbours, curation_of, notes_about
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.overlap import Comparison
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT
from embeddings.neighbours.stored import StoredVector, resolve_stored, stored_vectors
from embeddings.neighbours.titles import find_titles
from embeddings.neighbours.vector import METRIC_LABELS
from embeddings.permissions import CURATE, RUN_JOBS, VIEW, role_required, wants_json
from embeddings.providers import EmbeddingError, get_provider
from embeddings.registry import ResolvedModel, UnknownModel
from embeddings.text import item_text, source_hash
from embeddings.views.common import HtmxHttpRequest, admin_context, embeddings_turned_off


@dataclass
class Column:
    """One model's view of the item: its stored vector (or none) and its neighbours under the
    blend, each with why it is there."""

    model_key: str
    stored: StoredVector | None = None
    neighbours: list[Ranked] = dataclass_field(default_factory=list)


def get_item(item_id: int) -> CatalogItem | None:
    return CatalogItem.objects.filter(pk=item_id).first()


def item_not_found(request: HttpRequest, message: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": message}, status=404)
    return render(
        request,
        "embeddings/similar_404.html",
        {"message": message} | admin_context(request),
        status=404,
    )


def _filters(item: CatalogItem, form: NeighbourForm) -> Filters:
    kind = "" if form.value("scope", "same") == "any" else item.kind
    return Filters(kind, form.value("year_min"), form.value("year_max"), form.value("genre", ""))


def _blend_options(item: CatalogItem, form: NeighbourForm) -> dict[str, Any]:
    return {
        "blend": form.value("blend", default_blend()), "k": form.value("k", 10),
        "weight": form.value("weight", DEFAULT_WEIGHT), "metric": form.value("metric", "cosine"),
        "prior_weight": form.value("prior", DEFAULT_PRIOR_WEIGHT), "filters": _filters(item, form),
    }  # fmt: skip


def _column(
    item: CatalogItem,
    vectors: dict[str, StoredVector],
    model_key: str,
    form: NeighbourForm,
    curated: Curated,
) -> Column:
    """The model's neighbours as the page serves them: curators' pins and hides applied."""
    model = resolve_stored(model_key)
    found = curated_neighbours(item, model, curated=curated, **_blend_options(item, form))
    return Column(model_key, vectors.get(model_key), explain(item, found))


def _agreements(
    item: CatalogItem, columns: list[Column], form: NeighbourForm
) -> tuple[scores.Agreement | None, scores.Agreement | None]:
    """How far the two columns agree, and, under a blend with words, how far the two models'
    vectors alone do: the words are the same for both models, and make any two look alike."""
    if len(columns) < 2:
        return None, None
    shown = scores.agreement(*([n.item.pk for n in column.neighbours] for column in columns))
    options = _blend_options(item, form)
    if options["blend"] == VECTOR:
        return shown, None
    options["blend"] = VECTOR
    alone = (
        [n.item.pk for n in blended_neighbours(item, resolve_stored(c.model_key), **options)]
        for c in columns
    )
    return shown, scores.agreement(*alone)


def _columns(
    item: CatalogItem, vectors: dict[str, StoredVector], model_key: str, form: NeighbourForm
) -> dict[str, Any]:
    """The model's column, and beside it the compared model's with how far the two agree."""
    curated = curation_of(item)
    columns = [_column(item, vectors, model_key, form, curated)]
    compare_key = form.value("compare", "")
    if compare_key and compare_key != model_key:
        columns.append(_column(item, vectors, compare_key, form, curated))
    comparison = (
        Comparison(columns[0].neighbours, columns[1].neighbours) if len(columns) == 2 else None
    )
    agreement, vector_agreement = _agreements(item, columns, form)
    return {
        "columns": columns, "comparison": comparison,
        "agreement": agreement, "vector_agreement": vector_agreement,
    }  # fmt: skip


def _text_search(
    item: CatalogItem, model_key: str, form: NeighbourForm
) -> tuple[list[Ranked], str]:
    """Neighbours of the free text under the blend: its words, and its embedding on the query
    side (unless the blend is lexical); or the provider's named error."""
    options = _blend_options(item, form)
    model = resolve_stored(model_key)
    vector = None
    if options["blend"] != LEXICAL:
        if model is None:
            return [], f"No vectors are stored for {model_key}."
        try:
            provider = get_provider(model_key).within(settings.PROVIDER_DEADLINE)
            [vector] = provider.embed([form.value("q")], query=True)
        except (EmbeddingError, UnknownModel) as exc:
            return [], f"{model_key} could not embed the text: {exc}"
    return ranked(text_query(form.value("q"), vector), model, **options), ""


def _keep_query(request: HttpRequest) -> str:
    """The options a neighbour's link carries along: same models, blend, metric and k, no searches."""
    keep = {
        name: request.GET[name]
        for name in ("model", "compare", "blend", "weight", "prior", "k", "metric")
        if request.GET.get(name)
    }
    return urlencode(keep)


def _as_json(item: CatalogItem) -> dict[str, Any]:
    return {
        "id": item.pk, "tmdb_id": item.tmdb_id, "kind": item.kind, "title": item.title,
        "year": item.year,
    }  # fmt: skip


def _similar_json(item: CatalogItem, form: NeighbourForm) -> JsonResponse:
    """The page's neighbours for scripts; a bad parameter is a 400 that names it."""
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in fields.items())
        return JsonResponse({"error": f"Bad parameters: {problems}", "fields": fields}, status=400)
    model_key = form.value("model", EmbeddingSettings.load().active_key)
    stored = stored_vectors(item.pk)
    if form.value("q"):
        found, error = _text_search(item, model_key, form)
        if error:
            return JsonResponse({"error": error}, status=400)
    else:
        found = _column(item, stored, model_key, form, curation_of(item)).neighbours
    rows = [
        _as_json(r.item) | {"score": r.score, "vector_score": r.vector_score, "lexical_score": r.lexical_score, "prior_score": r.prior_score, "pinned": r.pinned}
        for r in found
    ]  # fmt: skip
    options = _blend_options(item, form)
    prior_weight = (
        options["prior_weight"] if prior_applies(options["blend"], options["metric"]) else 0
    )
    vector = stored.get(model_key)
    return JsonResponse(
        {
            "item": _as_json(item), "model": model_key, "blend": options["blend"],
            "weight": options["weight"], "prior_weight": prior_weight,
            # Whether the item has a vector of the model, and whether it was made from its text now.
            "has_vector": vector is not None,
            "vector_current": vector.source_hash == source_hash(item_text(item)) if vector else None,
            "neighbours": rows,
        }
    )  # fmt: skip


def neighbour_lists(request: HttpRequest, item: CatalogItem, form: NeighbourForm) -> dict[str, Any]:
    """What the page's neighbour lists show (every column, how far two agree, what curators
    said with their controls): the whole page has it, and a curator's click gets it alone."""
    active = EmbeddingSettings.load().active_key
    vectors = stored_vectors(item.pk)
    notes = notes_about(item)
    return {
        "active": active, "vectors": vectors, "keep": _keep_query(request),
        "blend": form.value("blend", default_blend()),
        "metric_label": METRIC_LABELS[form.value("metric", "cosine")],
        "can_embed": request.user.has_perm(RUN_JOBS), "can_curate": request.user.has_perm(CURATE),
        "notes": notes, "notes_by_id": {n.neighbour_id: n for n in notes if n.neighbour_id},
        "options": _options(form), "belonging": _belonging(request, item),
    } | _columns(item, vectors, form.value("model", active), form)  # fmt: skip


# What a curator's click carries back, so the lists come back as they were shown.
LIST_OPTIONS = (
    "model", "compare", "blend", "weight", "k", "metric", "scope", "year_min", "year_max", "genre",
)  # fmt: skip


def _options(form: NeighbourForm) -> str:
    """The lists' options as a query string: the valid ones only (a refused value is not
    echoed back into the page)."""
    form.is_valid()
    return urlencode({name: form.value(name) for name in LIST_OPTIONS if form.value(name)})


def _belonging(request: HttpRequest, item: CatalogItem) -> list[CatalogItem] | None:
    """Titles a curator searched for to add as good neighbours: of the item's kind, not the
    item itself (None: no search)."""
    if "belongs" not in request.GET:
        return None
    found = find_titles(request.GET["belongs"])
    return [title for title in found if title.kind == item.kind and title.pk != item.pk]


def _title_search(request: HtmxHttpRequest, item: CatalogItem) -> HttpResponse | None:
    """The page's two title searches as htmx asks them: a title to jump to, or a film that
    belongs among this one's neighbours."""
    if not request.htmx:
        return None
    if "find" in request.GET:
        found = find_titles(request.GET["find"])
        context = {"found": found, "searched": True}
        return render(request, "embeddings/similar.html#title-results", context)
    if "belongs" in request.GET:
        context = {"item": item, "belonging": _belonging(request, item)}
        context["options"] = _options(NeighbourForm(request.GET))
        return render(request, "embeddings/similar.html#belongs-results", context)
    return None


@role_required(VIEW)
def similar(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    item = get_item(item_id)
    if item is None:
        return item_not_found(request, f"No catalog item has the id {item_id}.")
    form = NeighbourForm(request.GET)
    if wants_json(request):
        return _similar_json(item, form)
    if searched := _title_search(request, item):
        return searched
    form.is_valid()  # fills cleaned_data; the errors are shown beside their fields
    lists = neighbour_lists(request, item, form)
    model_key = lists["columns"][0].model_key
    # A refused model is not replaced by another for the search: the field says what is wrong.
    searching = form.value("q") and "model" not in form.errors
    text_results, text_error = _text_search(item, model_key, form) if searching else ([], "")
    text = item_text(item)
    context = lists | {
        "item": item, "text": text, "current_hash": source_hash(text), "form": form,
        "turned_off": embeddings_turned_off(lists["active"]), "blend_labels": BLEND_LABELS,
        "lexical_row": LexicalVector.objects.filter(item_id=item.pk).first(),
        "text_results": text_results, "text_error": text_error,
        "found": find_titles(request.GET.get("find", "")), "searched": "find" in request.GET,
    }  # fmt: skip
    return render(request, "embeddings/similar.html", context | admin_context(request))


@role_required(VIEW)
def similar_tmdb(request: HttpRequest, tmdb_id: int) -> HttpResponse:
    """The same page, found by TMDB id (`?kind=movie|series`; movies first when both exist)."""
    items = CatalogItem.objects.filter(tmdb_id=tmdb_id).order_by("kind")
    kind = request.GET.get("kind", "")
    if kind in CatalogItem.Kind.values:
        items = items.filter(kind=kind)
    item = items.first()
    if item is None:
        return item_not_found(request, f"No catalog item has the TMDB id {tmdb_id}.")
    query = request.GET.copy()
    query.pop("kind", None)
    url = reverse("embeddings:similar", args=[item.pk])
    return redirect(f"{url}?{query.urlencode()}" if query else url)


def _embed_now(request: HttpRequest, item: CatalogItem, model: ResolvedModel, key: str) -> None:
    """Embed the item with the model in this request, and say how it went."""
    try:
        result = job_runner.embed_items([item.pk], model)
    except (JobRefused, EmbeddingError) as exc:
        messages.error(request, f"{key} could not embed {item}: {exc}")
        return
    if result.failed:
        messages.error(request, f"{key} could not embed {item}: {'; '.join(result.errors)}")
    elif result.done:
        messages.success(request, f"Embedded {item} with {key}.")
    else:
        messages.info(request, f"{item} has no text to embed, or its vector is up to date.")


@require_POST
@role_required(RUN_JOBS)
def similar_embed(request: HttpRequest, item_id: int) -> HttpResponse:
    """Embed one item now with one model, then show its page again."""
    item = get_item(item_id)
    if item is None:
        return item_not_found(request, f"No catalog item has the id {item_id}.")
    form = EmbedNowForm(request.POST)
    if form.is_valid():
        _embed_now(request, item, form.resolved, form.key)
    else:
        messages.error(request, f"{form.key} could not embed {item}: {errors_of(form)}")
    url = reverse("embeddings:similar", args=[item.pk])
    return redirect(f"{url}?{urlencode({'model': form.key})}")
