"""``bench data check`` (real data and fake directories in ``tmp_path``) and ``bench data fetch``
against a local HTTP server serving archives the tests build."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.cli import main
from bench.data import LoadOptions, load_dataset
from bench.data.check import COLUMNS, check_data
from bench.data.fetch import DEFAULT_URL, fetch_data
from bench.errors import ConfigError, DataError


def make_svamp(root: Path, n_train: int = 10, n_test: int = 3) -> Path:
    """A fake SVAMP (inputs and PaLM outputs) under ``root``."""
    for split, n in (("train", n_train), ("test", n_test)):
        rows = [
            {"input": f"Bo has {i} cups.\nHow many?", "label": f"( {i}.0 * 2.0 )"} for i in range(n)
        ]
        path = root / "svamp" / f"svamp_{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        cot = root / "svamp" / "llm" / f"{split}_CoT_0.json"
        cot.parent.mkdir(parents=True, exist_ok=True)
        cot.write_text(json.dumps([f"Twice {i}. The answer is ({i} * 2)." for i in range(n)]))
    return root


def rows_of(report, **where) -> list[dict]:
    """Rows of the report's table matching every column=value in ``where``."""
    table = report.table
    for column, value in where.items():
        table = table[table[column] == value]
    return table.to_dict("records")


# --- bench data check ------------------------------------------------------------------------


@pytest.mark.realdata
def test_check_real_data(dss_data_dir):
    report = check_data(dss_data_dir)
    assert report.exit_code == 0
    assert list(report.table.columns) == COLUMNS
    (row,) = rows_of(
        report, dataset="esnli", split="train", inputs="reconstructed/esnli_train_first10000.json"
    )
    assert (row["examples"], row["needed"], row["status"]) == (10_000, 549_367, "partial")
    assert row["note"] == "partial: 10,000 of 549,367 inputs present"
    assert {r["teacher"] for r in rows_of(report, dataset="svamp")} == {
        "palm",
        "llama3-random",
        "llama3-rag",
    }
    text = report.render()
    assert "esnli train palm [reconstructed/esnli_train_first10000.json]: partial" in text
    assert "74.26%" in text and text.endswith("every present file parses")


def test_check_fake_directory_reports_missing_datasets(tmp_path):
    report = check_data(make_svamp(tmp_path))
    assert report.exit_code == 0
    (palm,) = rows_of(report, dataset="svamp", split="train", teacher="palm")
    assert (palm["examples"], palm["needed"], palm["outputs"], palm["labels"]) == (10, 800, 10, 10)
    assert (palm["accuracy"], palm["status"]) == (1.0, "partial")
    (llama,) = rows_of(report, dataset="svamp", split="test", teacher="llama3-rag")
    assert llama["status"] == "missing" and "svamp_test_llama3.json" in llama["note"]
    (esnli,) = rows_of(report, dataset="esnli", split="train")
    assert esnli["status"] == "missing" and "bench data fetch" in esnli["note"]


def test_check_corrupt_copy_exits_2(tmp_path):
    cot = make_svamp(tmp_path) / "svamp" / "llm" / "test_CoT_0.json"
    cot.write_text(cot.read_text()[:-5])
    report = check_data(tmp_path)
    assert report.exit_code == 2
    (row,) = rows_of(report, dataset="svamp", split="test", teacher="palm")
    assert row["status"] == "error"
    assert row["note"].startswith("error: svamp/llm/test_CoT_0.json line 1: invalid JSON")
    assert rows_of(report, dataset="svamp", split="train", teacher="palm")[0]["status"] == "partial"


def test_check_count_mismatch_is_an_error(tmp_path):
    cot = make_svamp(tmp_path) / "svamp" / "llm" / "train_CoT_0.json"
    cot.write_text(json.dumps(json.loads(cot.read_text())[:7]))
    report = check_data(tmp_path)
    (row,) = rows_of(report, dataset="svamp", split="train", teacher="palm")
    assert (row["status"], report.exit_code) == ("error", 2)
    assert "7 outputs, expected 10" in row["note"]


def test_check_uses_cotbench_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COTBENCH_DATA", str(make_svamp(tmp_path)))
    assert check_data().data_dir == tmp_path
    assert main(["data", "check"]) == 0
    assert capsys.readouterr().out.startswith(f"DSS data in {tmp_path}")


# --- bench data fetch ------------------------------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    """Serves the test's directory quietly; ``/truncated.zip`` announces more than it sends."""

    def do_GET(self) -> None:
        if self.path == "/truncated.zip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"PK\x03\x04" + b"\0" * 100)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """No request log on stderr."""


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, Path]]:
    """(base URL, served directory) of a local HTTP server."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def build_zip(path: Path, members: dict[str, bytes]) -> str:
    """Write a zip of ``members``; return its sha256."""
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fake_archive(www: Path, name: str = "datasets.zip") -> str:
    """A datasets.zip (top folder ``datasets/``) holding a fake SVAMP; returns its sha256."""
    source = make_svamp(www.parent / "source")
    members = {
        f"datasets/{p.relative_to(source).as_posix()}": p.read_bytes()
        for p in sorted(source.rglob("*.json"))
    }
    members["__MACOSX/datasets/._junk"] = b"junk"
    return build_zip(www / name, members)


def leftovers(parent: Path) -> list[str]:
    """Names in ``parent``: the data directory at most, never a temporary one."""
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def test_default_url():
    assert DEFAULT_URL == (
        "https://raw.githubusercontent.com/google-research/distilling-step-by-step/main/datasets.zip"
    )


def test_fetch_unpacks_and_the_data_loads(server, tmp_path):
    base, www = server
    digest = fake_archive(www)
    target = tmp_path / "out" / "data"
    assert fetch_data(target, f"{base}/datasets.zip", sha256=digest.upper()) == target
    assert (target / "svamp" / "llm" / "train_CoT_0.json").is_file()
    assert not (target / "__MACOSX").exists() and not (target / "datasets").exists()
    assert leftovers(tmp_path / "out") == ["data"]
    splits = load_dataset("svamp", LoadOptions(target))
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (9, 1, 3)


def test_fetch_hash_mismatch_leaves_nothing(server, tmp_path):
    base, www = server
    fake_archive(www)
    with pytest.raises(
        DataError, match=r"sha256 mismatch for .*datasets\.zip: expected 0{64}, got"
    ):
        fetch_data(tmp_path / "out" / "data", f"{base}/datasets.zip", sha256="0" * 64)
    assert leftovers(tmp_path / "out") == []


def test_fetch_never_overwrites_without_force(server, tmp_path):
    base, www = server
    fake_archive(www)
    target = tmp_path / "out" / "data"
    existing = target / "svamp" / "svamp_test.json"
    existing.parent.mkdir(parents=True)
    existing.write_text("mine\n")
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(
        DataError, match=re.escape(f"{existing} already exists; use --force to overwrite")
    ):
        fetch_data(target, f"{base}/datasets.zip")
    assert existing.read_text() == "mine\n"
    assert sorted(p.name for p in target.rglob("*")) == ["notes.txt", "svamp", "svamp_test.json"]
    assert leftovers(tmp_path / "out") == ["data"]
    fetch_data(target, f"{base}/datasets.zip", force=True)
    assert existing.read_text() != "mine\n" and (target / "notes.txt").read_text() == "keep me"
    assert len(load_dataset("svamp", LoadOptions(target)).test) == 3


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("missing.zip", "cannot download .*/missing.zip: HTTP 404"),
        ("not-a-zip.zip", "not-a-zip.zip is not a valid zip archive"),
        ("truncated.zip", "cannot download .*/truncated.zip"),
        ("empty.zip", "the archive holds no files"),
        ("evil.zip", "unsafe path in the archive: '../evil.txt'"),
    ],
)
def test_fetch_failures_leave_nothing(server, tmp_path, path, message):
    base, www = server
    (www / "not-a-zip.zip").write_text("<html>not found</html>")
    build_zip(www / "empty.zip", {"datasets/": b""})
    build_zip(www / "evil.zip", {"datasets/ok.json": b"[]", "../evil.txt": b"x"})
    with pytest.raises(DataError, match=message) as info:
        fetch_data(tmp_path / "out" / "data", f"{base}/{path}")
    assert "\n" not in str(info.value)
    assert leftovers(tmp_path / "out") == []
    assert not (tmp_path / "evil.txt").exists()


def test_fetch_connection_refused(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        DataError, match=re.escape(f"cannot download http://127.0.0.1:{port}/datasets.zip: ")
    ):
        fetch_data(tmp_path / "data", f"http://127.0.0.1:{port}/datasets.zip")
    assert leftovers(tmp_path) == []


def test_fetch_rejects_a_malformed_hash(tmp_path):
    with pytest.raises(ConfigError, match="--sha256: expected 64 hexadecimal digits"):
        fetch_data(tmp_path / "data", "http://127.0.0.1:1/x.zip", sha256="abc")


def test_fetch_through_the_cli(server, tmp_path, capsys):
    base, www = server
    digest = fake_archive(www)
    target = tmp_path / "out" / "data"
    args = ["data", "fetch", "--url", f"{base}/datasets.zip", "--data-dir", str(target)]
    assert main([*args, "--sha256", "f" * 64]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: sha256 mismatch") and captured.err.count("\n") == 1
    assert main([*args, "--sha256", digest]) == 0
    assert capsys.readouterr().out.strip() == f"data unpacked into {target}"
    assert main(args) == 2
    assert "already exists; use --force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
