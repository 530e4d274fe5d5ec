"""Reading the data files: JSON lines and JSON arrays, with one-line, line-numbered errors.

Every file goes through a :class:`DataReader` rooted at the data directory. It reads each file
once, records its sha256 under its relative path (``DatasetSplits.sources``), and turns every
problem (missing, unreadable, not UTF-8, malformed JSON, wrong record type, missing field) into
a :class:`~bench.errors.DataError` naming the file, the line for JSON lines, and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import DataError

FETCH_HINT = "run `bench data fetch` or point --data-dir / $COTBENCH_DATA at the data"


class MissingDataError(DataError):
    """A data file that should exist does not (``bench data check`` reports it, not as corrupt)."""


@dataclass(frozen=True)
class JsonLines:
    """The records of a JSON-lines file, each with its 1-based line number."""

    path: str  # relative path, for messages
    rows: tuple[dict[str, Any], ...]
    lines: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def where(self, i: int) -> str:
        """``path line N`` of record ``i``."""
        return f"{self.path} line {self.lines[i]}"

    def get(self, i: int, key: str, kind: type | tuple[type, ...] = str) -> Any:
        """Field ``key`` of record ``i``, checked to be of ``kind``."""
        row = self.rows[i]
        if key not in row:
            raise DataError(f"{self.where(i)}: missing field {key!r}")
        value = row[key]
        kinds = _as_tuple(kind)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in kinds)
            raise DataError(
                f"{self.where(i)}: field {key!r} should be {expected}, got {type(value).__name__}"
            )
        return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


class DataReader:
    """Reads files under ``root`` for ``dataset``; caches parsed files and records their sha256."""

    def __init__(self, root: Path, dataset: str) -> None:
        self.root = Path(root)
        self.dataset = dataset
        self.sources: dict[str, str] = {}
        self._cache: dict[str, Any] = {}

    def exists(self, rel: str) -> bool:
        """Whether ``rel`` names an existing path (file or not) under the root."""
        return (self.root / rel).exists()

    def missing(
        self, rel: str, what: str, alternative: str | None = None, hint: str = FETCH_HINT
    ) -> MissingDataError:
        """The error for a missing file: dataset, expected path and how to get the data."""
        other = f" (or {self.root / alternative})" if alternative else ""
        return MissingDataError(
            f"{self.dataset}: missing {what}: expected {self.root / rel}{other}; {hint}"
        )

    def text(self, rel: str, what: str) -> str:
        """The UTF-8 text of ``rel``; records its sha256."""
        path = self.root / rel
        if not path.exists():
            raise self.missing(rel, what)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise DataError(f"cannot read {path}: {err.strerror or err}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"{rel}: not UTF-8 text (bad byte at offset {err.start})") from None
        self.sources[rel] = hashlib.sha256(data).hexdigest()
        return text

    def json_lines(self, rel: str, what: str = "file") -> JsonLines:
        """A JSON-lines file of objects (blank lines are skipped)."""
        if rel not in self._cache:
            self._cache[rel] = parse_json_lines(self.text(rel, what), rel)
        return self._cache[rel]

    def json_array(self, rel: str, item: type, what: str = "file") -> list[Any]:
        """A file holding one JSON array whose items are all of type ``item``."""
        if rel not in self._cache:
            self._cache[rel] = parse_json_array(self.text(rel, what), rel, item)
        return self._cache[rel]


def parse_json_lines(text: str, path: str) -> JsonLines:
    """Parse JSON lines; DataError ``path line N: ...`` on the first bad line."""
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path} line {number}: invalid JSON ({err.msg} at column {err.colno}); "
                "expected one JSON object per line"
            ) from None
        if not isinstance(row, dict):
            raise DataError(
                f"{path} line {number}: expected a JSON object, got {type(row).__name__}"
            )
        rows.append(row)
        lines.append(number)
    return JsonLines(path, tuple(rows), tuple(lines))


def parse_json_array(text: str, path: str, item: type) -> list[Any]:
    """Parse a JSON array of ``item``; DataError naming the file (and line/item) otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path} line {err.lineno}: invalid JSON ({err.msg} at column {err.colno}); "
            f"expected a JSON array of {item.__name__}"
        ) from None
    if not isinstance(value, list):
        raise DataError(
            f"{path}: expected a JSON array of {item.__name__}, got {type(value).__name__}"
        )
    for i, entry in enumerate(value):
        if not isinstance(entry, item):
            raise DataError(
                f"{path}: item {i} should be {item.__name__}, got {type(entry).__name__}"
            )
    return value
