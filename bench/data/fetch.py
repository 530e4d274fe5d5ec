"""``bench data fetch``: download the DSS authors' ``datasets.zip`` and unpack it into the data dir.

The archive is streamed to a temporary directory created next to the data directory, its
sha256 checked when one is given, and unpacked there; the archive's top-level ``datasets/``
folder maps to the data directory. Only then are the files moved into place: by one rename when
the data directory does not exist yet, else file by file after checking that none would be
overwritten (unless ``force``). Any failure removes the temporary directory, so nothing
half-written is left behind. Every failure is a one-line :class:`~bench.errors.DataError`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from bench.data.registry import resolve_data_dir
from bench.errors import ConfigError, DataError

DEFAULT_URL = (
    "https://raw.githubusercontent.com/google-research/distilling-step-by-step/main/datasets.zip"
)
ARCHIVE_ROOT = "datasets"  # top-level folder of the archive, mapped to the data directory
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60


def fetch_data(
    data_dir: str | os.PathLike | None,
    url: str = DEFAULT_URL,
    sha256: str | None = None,
    force: bool = False,
) -> Path:
    """Download ``url`` (a zip), verify ``sha256`` if given, unpack into the data directory.

    Existing files are never overwritten unless ``force``. Returns the data directory.
    """
    target = resolve_data_dir(data_dir).absolute()
    expected = _expected_sha256(sha256)
    if target.exists() and not target.is_dir():
        raise DataError(f"data directory {target} exists and is not a directory")
    with _workspace(target) as tmp:
        archive = Path(tmp) / "archive.zip"
        digest = _download(url, archive)
        if expected and digest != expected:
            raise DataError(f"sha256 mismatch for {url}: expected {expected}, got {digest}")
        staging = Path(tmp) / "unpacked"
        files = _unpack(archive, staging, url)
        _check_conflicts(files, target, force)
        _move_into_place(staging, files, target)
    return target


def _workspace(target: Path) -> tempfile.TemporaryDirectory:
    """A temporary directory next to ``target`` (same file system: moves are renames)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(prefix=f".{target.name}.fetch-", dir=target.parent)
    except OSError as err:
        raise DataError(f"cannot write next to {target}: {err.strerror or err}") from None


def _expected_sha256(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ConfigError(f"--sha256: expected 64 hexadecimal digits, got {sha256!r}")
    return sha256.lower()


def _download(url: str, destination: Path) -> str:
    """Stream ``url`` into ``destination``; returns the sha256 of what was received."""
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            announced = response.headers.get("Content-Length")
            with destination.open("wb") as out:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
    except urllib.error.HTTPError as err:
        raise DataError(f"cannot download {url}: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise DataError(f"cannot download {url}: {err.reason}") from None
    except (OSError, ValueError, http.client.HTTPException) as err:
        raise DataError(f"cannot download {url}: {err or type(err).__name__}") from None
    if announced is not None and announced.isdigit() and received != int(announced):
        raise DataError(f"cannot download {url}: got {received} of {announced} bytes")
    return digest.hexdigest()


def _unpack(archive: Path, staging: Path, url: str) -> list[PurePosixPath]:
    """Extract the archive's files into ``staging``; their paths relative to the data dir."""
    files = []
    try:
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                rel = _member_path(info.filename)
                if rel is None or info.is_dir():
                    continue
                destination = staging / rel
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, destination.open("wb") as out:
                    shutil.copyfileobj(source, out, CHUNK_BYTES)
                files.append(rel)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DataError(f"{url} is not a valid zip archive ({err})") from None
    except OSError as err:
        raise DataError(f"cannot unpack {url}: {err.strerror or err}") from None
    if not files:
        raise DataError(f"{url}: the archive holds no files")
    return files


def _member_path(name: str) -> PurePosixPath | None:
    """The data-dir path of archive member ``name`` (None to skip it)."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        raise DataError(f"unsafe path in the archive: {name!r}")
    parts = path.parts
    if parts and parts[0] == "__MACOSX":
        return None
    if parts and parts[0] == ARCHIVE_ROOT:
        parts = parts[1:]
    return PurePosixPath(*parts) if parts else None


def _check_conflicts(files: list[PurePosixPath], target: Path, force: bool) -> None:
    """DataError for the first file that exists (unless ``force``) or cannot be written."""
    for rel in files:
        destination = target / rel
        blocking = [target / p for p in rel.parents if (target / p).is_file()]
        if blocking or destination.is_dir():
            where = blocking[0] if blocking else destination
            raise DataError(f"{where} is in the way of {rel} from the archive")
        if destination.exists() and not force:
            raise DataError(f"{destination} already exists; use --force to overwrite")


def _move_into_place(staging: Path, files: list[PurePosixPath], target: Path) -> None:
    try:
        if not target.exists():
            staging.rename(target)
            return
        for rel in files:
            destination = target / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, destination)
    except OSError as err:
        raise DataError(f"cannot move the data into {target}: {err}") from None
