"""POST and query data of the embedding pages, parsed and checked once, at the edge.

A view binds one of these forms, acts on its cleaned data and redirects; every bad field comes
back as a message that names it, and nothing is changed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator

from catalog.models import CatalogItem, catalog_genres
from catalog.tmdb.control import MAX_CHART_PAGES, chart_choices
from embeddings import quality
from embeddings.models import EmbeddingJob, EmbeddingSettings, Grade
from embeddings.neighbours.blends import BLEND_LABELS, MAX_WEIGHT
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT, MAX_PRIOR_WEIGHT
from embeddings.neighbours.stored import resolve_stored
from embeddings.neighbours.vector import MAX_K
from embeddings.providers import credential_fields, provider_label
from embeddings.providers.connection import MAX_VALUE_LENGTH
from embeddings.providers.credentials import MAX_PER_MINUTE, CredentialField
from embeddings.registry import ResolvedModel, UnknownModel, resolve
from embeddings.storage import ModelUsage, model_usage
from reclio_admin.outbound.addresses import AddressRefused, check_provider_url

# The pages a "Measure" button sits on, by the name its form sends; any other goes to settings.
MEASURE_BACK = {"settings": "embeddings:embedding_model", "storage": "embeddings:storage"}


def errors_of(form: forms.Form) -> str:
    """Every error of a bound form, as one line for a message."""
    return " ".join(str(message) for errors in form.errors.values() for message in errors)


class JobStartForm(forms.Form):
    """The jobs page's "Start a job" form. Ranges (batch size, a cap above $0) are the job's
    own rules, checked where every job is created."""

    kind = forms.ChoiceField(
        required=False, choices=[("both", "Movies and series"), *EmbeddingJob.Kind.choices]
    )
    model_key = forms.CharField(required=False, max_length=200)
    mode = forms.ChoiceField(required=False, choices=EmbeddingJob.Mode.choices)
    batch_size = forms.IntegerField(
        required=False,
        error_messages={"invalid": "The batch size must be a whole number."},
    )
    spending_cap_usd = forms.DecimalField(
        required=False,
        error_messages={"invalid": "The spending cap must be an amount in dollars."},
    )

    def kinds(self) -> list[str]:
        kind = self.cleaned_data["kind"] or "both"
        return [k for k, _ in EmbeddingJob.Kind.choices] if kind == "both" else [kind]


class JobResumeForm(forms.Form):
    """Resume on a job's row; a job stopped by its spending cap sends a higher one with it (its
    range and the amount spent are the job's own rules, checked where it resumes)."""

    spending_cap_usd = forms.DecimalField(
        required=False,
        error_messages={"invalid": "The spending cap must be an amount in dollars."},
    )


class SyncStartForm(forms.Form):
    """The jobs page's "Sync from TMDb" form: the first day of changes (default: where the last
    sync ended) and the charts to add new titles from, with how many pages of each."""

    since = forms.DateField(
        required=False,
        error_messages={"invalid": "The first day must be a date such as 2026-11-01."},
    )
    charts = forms.MultipleChoiceField(
        required=False,
        choices=chart_choices,
        error_messages={"invalid_choice": "The sync reads no TMDb chart %(value)s."},
    )
    pages = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_CHART_PAGES,
        error_messages={
            "invalid": "The pages of each chart must be a whole number.",
            "min_value": "The pages of each chart must be 0 or more.",
            "max_value": f"The pages of each chart must be at most {MAX_CHART_PAGES}.",
        },
    )


def _validators(field: CredentialField) -> list[Any]:
    """A key is any text; a limit a minute a whole number from 1; anything else an http(s) URL."""
    label = field.label
    if field.secret:
        return []
    if field.per_minute:
        return [
            RegexValidator(r"^[0-9]+$", message=f"{label}: enter a whole number, such as 3000."),
            lambda value: _within_limits(label, value),
        ]
    return [
        URLValidator(
            schemes=["http", "https"], message=f"{label}: enter a URL such as http://host:port."
        )
    ]


def _within_limits(label: str, value: str) -> None:
    if value.isdigit() and not 1 <= int(value) <= MAX_PER_MINUTE:
        raise ValidationError(f"{label}: from 1 to {MAX_PER_MINUTE:,}, or blank for none.")


class ConnectionForm(forms.Form):
    """Keys and hosts typed on the settings page, a field for each of every provider's
    credentials: at most MAX_VALUE_LENGTH characters each; a host or base URL is http(s) and
    points at neither a link-local nor a cloud-metadata address."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.credentials = {name: field for name, (_, field) in credential_fields().items()}
        self.providers = {name: provider for name, (provider, _) in credential_fields().items()}
        for name, field in self.credentials.items():
            secret, label = field.secret, field.label
            length = f"{label}: at most {MAX_VALUE_LENGTH} characters, not %(show_value)d."
            self.fields[name] = forms.CharField(
                required=False,
                max_length=MAX_VALUE_LENGTH,
                label=label,
                error_messages={"max_length": length},
                validators=_validators(field),
            )
            if secret:
                self.fields[f"clear_{name}"] = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, field in self.credentials.items():
            if not (field.secret or field.per_minute) and data.get(name):
                try:
                    check_provider_url(data[name])
                except AddressRefused as exc:
                    self.add_error(name, f"{field.label}: not allowed: {exc}.")
        return data

    def _refused(self) -> set[str]:
        return {
            self.providers[name]
            for name in self.credentials
            if name in self.errors or f"clear_{name}" in self.errors
        }

    def refused(self) -> list[str]:
        """The providers (by label) with a field in error: none of their fields is stored."""
        return sorted(provider_label(provider) for provider in self._refused())

    def values(self) -> dict[str, str]:
        """What to store: only the fields the form sent (one left out keeps its stored value);
        a blank key keeps the stored key, since the page never renders it back, and
        `clear_<field>` empties it. A provider with a field in error keeps all its stored
        values; the other providers' are still stored."""
        values = {}
        refused = self._refused()
        for name, field in self.credentials.items():
            if self.providers[name] in refused:
                continue
            secret = field.secret
            cleared = secret and self.cleaned_data.get(f"clear_{name}")
            if cleared:
                values[name] = ""
            elif name in self.data and (self.cleaned_data[name] or not secret):
                values[name] = self.cleaned_data[name]
        return values


class SwitchConfirmForm(forms.Form):
    """The confirmation of a switch that changes what serves: `confirm` carries the key of the
    model the confirmation page showed, so a POST without it, or made before someone else
    changed the switch, changes nothing."""

    confirm = forms.CharField(
        max_length=200,
        error_messages={"required": "Nothing was changed: confirm the switch below."},
    )


class ModelChoiceForm(forms.Form):
    """A model picked on the settings page: `model` plus an optional reduced `dimensions`,
    resolved into the registry's model."""

    model = forms.CharField(max_length=200, error_messages={"required": "Choose a model first."})
    dimensions = forms.CharField(required=False, max_length=10)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "model" not in data:
            return data
        try:
            resolved = resolve(data["model"])
            dims = (data.get("dimensions") or "").strip()
            if dims and dims != str(resolved.dimensions):
                resolved = resolve(f"{resolved.spec.key}@{dims}")
        except UnknownModel as exc:
            raise ValidationError(str(exc)) from None
        data["resolved"] = resolved
        return data

    @property
    def resolved(self) -> ResolvedModel:
        model: ResolvedModel = self.cleaned_data["resolved"]
        return model


class NeighbourForm(forms.Form):
    """The similar page's query string. On the page an invalid field falls back to its default;
    the JSON answer refuses it with a 400."""

    model = forms.CharField(required=False, max_length=200)
    compare = forms.CharField(required=False, max_length=200)
    blend = forms.ChoiceField(required=False, choices=list(BLEND_LABELS.items()))
    weight = forms.FloatField(
        required=False, min_value=0, max_value=MAX_WEIGHT, label="Lexical weight",
        help_text="hybrid score = vector cosine + weight x lexical cosine",
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )  # fmt: skip
    prior = forms.FloatField(
        required=False, min_value=0, max_value=MAX_PRIOR_WEIGHT, label="Popularity weight",
        help_text="score + weight x popularity (the log of TMDb's vote count); 0 turns it off",
        widget=forms.NumberInput(attrs={"step": "0.05", "placeholder": f"{DEFAULT_PRIOR_WEIGHT:g}"}),
    )  # fmt: skip
    k = forms.IntegerField(required=False, min_value=1, max_value=MAX_K, label="Top k")
    metric = forms.ChoiceField(
        required=False, choices=[("cosine", "Cosine"), ("l2", "L2"), ("ip", "Inner product")]
    )
    scope = forms.ChoiceField(required=False, choices=[("same", "Same kind"), ("any", "Any kind")])
    year_min = forms.IntegerField(required=False, min_value=1800, max_value=2100, label="From year")
    year_max = forms.IntegerField(required=False, min_value=1800, max_value=2100, label="To year")
    # Any genre filters, including one new since the cached list of choices was read.
    genre = forms.CharField(required=False, max_length=60, widget=forms.Select)
    q = forms.CharField(required=False, max_length=1000, label="Films like")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Any genre"), *((g, g) for g in catalog_genres())]
        self.fields["genre"].widget.choices = choices

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("year_min"), data.get("year_max")
        if low is not None and high is not None and low > high:
            self.add_error("year_max", "must not be before the from year")
        return data

    def value(self, name: str, default: Any = None) -> Any:
        # A field with an error is missing from cleaned_data, so it takes the default
        # (a weight of 0 is a value, not a missing one).
        value = self.cleaned_data.get(name)
        return default if value is None or value == "" else value

    def clean_model(self) -> str:
        return _shown_model_key(self.cleaned_data["model"])

    def clean_compare(self) -> str:
        return _shown_model_key(self.cleaned_data["compare"])


def _shown_model_key(key: str) -> str:
    """A model the page may show: one the registry resolves (a local directory only when
    LOCAL_MODEL_DIRS lists it), or a retired key that still has stored vectors. Nothing is
    loaded to decide."""
    if not key:
        return key
    try:
        return resolve(key).key
    except UnknownModel as exc:
        if resolve_stored(key) is None:
            raise ValidationError(str(exc)) from None
    return key


class EmbedNowForm(forms.Form):
    """The similar page's "Embed now": the model to embed the item with (the active one when the
    form names none), resolved into the registry's model."""

    model = forms.CharField(required=False)

    def clean_model(self) -> str:
        return self.cleaned_data["model"] or EmbeddingSettings.load().active_key

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "model" in data:
            try:
                data["resolved"] = resolve(data["model"])
            except UnknownModel as exc:
                # Not a field error: that would drop the key, which the page goes back to.
                raise ValidationError(str(exc)) from None
        return data

    @property
    def key(self) -> str:
        """The key as sent (or the active model's), valid or not: the page goes back to it."""
        key: str = self.cleaned_data.get("model", "")
        return key

    @property
    def resolved(self) -> ResolvedModel:
        model: ResolvedModel = self.cleaned_data["resolved"]
        return model


class StoredSetForm(forms.Form):
    """The model whose stored set the storage page deletes: one with vectors stored, found in
    the page's own usage rows, never a key taken on trust."""

    model = forms.CharField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        key = data.get("model", "")
        usage = next((m for m in model_usage() if m.model_key == key), None)
        if usage is None:
            raise ValidationError(f"No vectors are stored for the model {key!r}.")
        data["usage"] = usage
        return data

    @property
    def usage(self) -> ModelUsage:
        usage: ModelUsage = self.cleaned_data["usage"]
        return usage


class MeasureForm(forms.Form):
    """The "Measure" button of the settings and storage pages: a model with stored vectors, and
    the page the button was on."""

    model = forms.CharField(required=False)
    back = forms.CharField(required=False)

    def clean_model(self) -> str:
        key: str = self.cleaned_data["model"]
        if key not in quality.stored_model_keys():
            raise ValidationError(
                f"No vectors are stored for the model {key!r}: nothing to measure."
            )
        return key

    @property
    def back_to(self) -> str:
        """The URL name of the page to go back to, valid form or not."""
        return MEASURE_BACK.get(self.cleaned_data.get("back", ""), "embeddings:embedding_model")


class PairForm(forms.Form):
    """Two stored models to compare; keys are checked against what is stored, never trusted."""

    model = forms.CharField(max_length=200)
    compare = forms.CharField(max_length=200)
    blend = forms.ChoiceField(required=False, choices=[(b, b) for b in quality.BLENDS])
    page = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        stored = quality.stored_model_keys()
        for name in ("model", "compare"):
            if name in data and data[name] not in stored:
                self.add_error(name, f"No vectors are stored for {data[name]!r}.")
        if data.get("model") and data.get("model") == data.get("compare"):
            self.add_error("compare", "Choose two different models.")
        return data


CURATE_ACTIONS = {
    "good": "Good",
    "acceptable": "Acceptable",
    "bad": "Bad",
    "pin": "Pin",
    "hide": "Hide",
    "clear": "Clear",
}
GRADE_OF = {"good": Grade.GOOD, "acceptable": Grade.ACCEPTABLE, "bad": Grade.BAD}


class CurateForm(forms.Form):
    """A curator's click on one of an item's neighbours: judge it, pin it at a rank, hide it, or
    clear what was said. The neighbour is resolved into its catalog item, of the item's kind."""

    neighbour = forms.IntegerField(
        min_value=1,
        error_messages={
            "required": "Say which neighbour: neighbour=<catalog id>.",
            "invalid": "The neighbour must be a catalog id (a whole number).",
        },
    )
    action = forms.ChoiceField(
        choices=list(CURATE_ACTIONS.items()),
        error_messages={
            "required": f"Say what to do: action={'|'.join(CURATE_ACTIONS)}.",
            "invalid_choice": f"Unknown action %(value)r: use one of {', '.join(CURATE_ACTIONS)}.",
        },
    )
    rank = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_K,
        error_messages={"invalid": "The rank must be a whole number."},
    )  # fmt: skip

    def __init__(self, *args: Any, item: CatalogItem, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.item = item

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "pin" and data.get("rank") is None and "rank" not in self.errors:
            self.add_error("rank", f"A pin needs a rank from 1 to {MAX_K}.")
        if "neighbour" not in data:
            return data
        neighbour = CatalogItem.objects.filter(pk=data["neighbour"]).first()
        if neighbour is None:
            self.add_error("neighbour", f"No catalog item has the id {data['neighbour']}.")
        elif neighbour.pk == self.item.pk:
            self.add_error("neighbour", f"{neighbour} cannot be its own neighbour.")
        elif neighbour.kind != self.item.kind:
            self.add_error(
                "neighbour",
                f"{neighbour} is a {neighbour.get_kind_display().lower()}: curation pairs "
                f"titles of one kind, and {self.item} is a {self.item.get_kind_display().lower()}.",
            )
        else:
            data["resolved"] = neighbour
        return data

    @property
    def resolved(self) -> CatalogItem:
        resolved: CatalogItem = self.cleaned_data["resolved"]
        return resolved


class JudgmentFilterForm(forms.Form):
    """The judgments page's filters; a value that does not parse filters nothing."""

    grade = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None,
        choices=[("", "Any grade"), *((str(v), label) for v, label in Grade.choices)],
    )  # fmt: skip
    curator = forms.CharField(required=False, max_length=150, label="Curator (user name)")
    title = forms.CharField(required=False, max_length=300, label="Query title")
