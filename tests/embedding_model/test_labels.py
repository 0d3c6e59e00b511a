"""The settings page's model table says what each figure is: costs called costs, the switch-off
not dressed as a model, texts cut at a model's limit counted, token counts that refresh
themselves, and who may switch."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import EmbeddingSettings, TokenCount
from embeddings.providers import get_provider
from embeddings.switching.tokens import refresh_token_counts
from tests.conftest import make_item

pytestmark = pytest.mark.django_db

PAGE = "embeddings:embedding_model"
LOCAL = "local:all-MiniLM-L6-v2"
SMALL = "openai:text-embedding-3-small"


def _row(html: str, key: str) -> str:
    return html[html.index(f'data-model="{key}"') :].split("</tr>")[0]


def _headings(html: str) -> list[str]:
    table = html[html.index('id="models"') :].split("</thead>")[0]
    return [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<th[^>]*>(.*?)</th>", table)
    ]


def test_the_cost_columns_say_they_are_costs(admin_client_: Client) -> None:
    make_item(title="Heat")

    headings = _headings(admin_client_.get(reverse(PAGE)).content.decode())

    assert "Cost for the catalog" in headings
    assert not {"Catalog of", "Whole catalog"} & set(headings)


def test_the_switch_off_is_a_line_of_its_own_not_a_model_row(curator_client: Client) -> None:
    html = curator_client.get(reverse(PAGE)).content.decode()

    assert 'data-model="none:disabled"' not in html
    assert ">None<" not in html[html.index('id="models"') : html.index("</table>")]
    turn_off = html[html.index('id="turn-off"') :].split("</p>")[0]
    assert "Turn embeddings off:" in turn_off and "EMBEDDING_PROVIDER=none" in turn_off


def test_while_embeddings_are_off_the_line_says_so(curator_client: Client) -> None:
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": "none:disabled"})

    html = curator_client.get(reverse(PAGE)).content.decode()

    turn_off = html[html.index('id="turn-off"') :].split("</p>")[0]
    assert "Embeddings are turned off:" in turn_off


def test_each_model_says_how_many_catalog_texts_it_cuts_at_its_token_limit(
    curator_client: Client,
) -> None:
    items = [make_item(title=f"Film {n}") for n in range(4)]
    minilm = get_provider(LOCAL).tokenizer_key
    openai = get_provider(SMALL).tokenizer_key
    for item, tokens in zip(items, (120, 256, 300, 9_000), strict=True):
        TokenCount.objects.create(item=item, tokenizer=minilm, source_hash="x", tokens=tokens)
        TokenCount.objects.create(item=item, tokenizer=openai, source_hash="x", tokens=tokens)

    html = curator_client.get(reverse(PAGE)).content.decode()

    # MiniLM reads 256 tokens: 300 and 9,000 are cut, 256 fits. OpenAI reads 8,191.
    assert "2 texts cut at 256" in _row(html, LOCAL)
    assert "1 text cut at 8,191" in _row(html, SMALL)


def test_token_counts_under_way_refresh_by_themselves_and_stop_when_done(
    curator_client: Client,
) -> None:
    item = make_item(title="Heat")
    page = reverse(PAGE)

    counting = curator_client.get(page).content.decode()
    table = counting[counting.index('id="model-table"') :].split(">")[0]
    assert "counting…" in _row(counting, LOCAL)
    assert 'hx-trigger="every 2s"' in table

    for name in {get_provider(spec).tokenizer_key for spec in (LOCAL, SMALL)}:
        TokenCount.objects.create(item=item, tokenizer=name, source_hash="x", tokens=40)
    # What the poll receives: the table alone, still polling until every tokenizer counted.
    part = curator_client.get(page, headers={"HX-Request": "true", "HX-Target": "model-table"})
    html = part.content.decode()
    assert html.lstrip().startswith('<div id="model-table"')
    assert "40" in _row(html, LOCAL) and "counting…" not in _row(html, LOCAL)


def test_the_poll_stops_once_every_model_is_counted(curator_client: Client) -> None:
    item = make_item(title="Heat")

    refresh_token_counts()
    part = curator_client.get(
        reverse(PAGE), headers={"HX-Request": "true", "HX-Target": "model-table"}
    ).content.decode()

    assert item.title not in part  # the table, not the catalog
    assert "hx-trigger" not in part.split(">")[0]
    assert "counting…" not in part


def test_read_only_roles_are_told_who_may_switch(
    curator_client: Client, staff_client: Client, admin_client_: Client
) -> None:
    make_item(title="Heat")
    page = reverse(PAGE)

    for client in (curator_client, staff_client):
        html = client.get(page).content.decode()
        assert "Only Embedding admins can switch models." in html
        assert "Choose…" not in html
    html = admin_client_.get(page).content.decode()
    assert "Only Embedding admins can switch models." not in html
    assert "Choose…" in _row(html, SMALL)
