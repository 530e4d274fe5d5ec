"""Bad data gives one-line DataErrors naming the file (and line) and what was expected: built on
small fake dataset directories in ``tmp_path``; also through the ``bench`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.data import LoadOptions, load_dataset
from bench.errors import DataError


def write_lines(path: Path, rows: list) -> None:
    """A JSON-lines file of ``rows``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_json(path: Path, value: object) -> None:
    """A JSON file holding ``value``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def make_svamp(root: Path, sizes: dict[str, int] | None = None) -> Path:
    """A fake SVAMP with inputs, PaLM outputs and Llama-3 outputs."""
    for split, n in (sizes or {"train": 20, "test": 4}).items():
        rows = [
            {"input": f"Ann has {i} pens and buys 1.\nHow many pens?", "label": f"( {i}.0 + 1.0 )"}
            for i in range(n)
        ]
        write_lines(root / "svamp" / f"svamp_{split}.json", rows)
        cot = [f"{i} + 1 = {i + 1}. The answer is ({i} + 1).\n\nQ: more" for i in range(n)]
        write_json(root / "svamp" / "llm" / f"{split}_CoT_0.json", cot)
        name = "svamp_train_random_llama3.json" if split == "train" else "svamp_test_llama3.json"
        llama = [
            {
                "input": r["input"],
                "gen_label": f" Rationale: add. Hence the answer is {i + 1}.",
                "org_label": r["label"],
            }
            for i, r in enumerate(rows)
        ]
        write_json(root / "svamp" / "llama3" / name, llama)
    return root


def make_cqa(root: Path, n_train: int = 12, n_test: int = 3) -> Path:
    """A fake CQA with inputs and PaLM outputs."""
    for split, n in (("train", n_train), ("test", n_test)):
        rows = [
            {
                "id": f"q{i}",
                "question": f"Where is thing {i}?",
                "choices": ["here", "there", "nowhere", "home", "away"],
                "answer": "home",
                "abstractive_explanation": "",
                "extractive_explanation": "",
            }
            for i in range(n)
        ]
        write_lines(root / "cqa" / f"cqa_{split}.json", rows)
        cot = [
            f"Things are kept at home. So the answer is (d) home.\n\nQ: next {i}" for i in range(n)
        ]
        write_json(root / "cqa" / "llm" / f"{split}_CoT_0.json", cot)
    return root


def load(root: Path, name: str, **options) -> object:
    """Load ``name`` from ``root``."""
    return load_dataset(name, LoadOptions(root, **options))


def raises_one_line(root: Path, name: str, *fragments: str, **options) -> str:
    """Assert loading raises a one-line DataError containing every fragment; return it."""
    with pytest.raises(DataError) as info:
        load(root, name, **options)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_fakes_load(tmp_path):
    splits = load(make_svamp(tmp_path), "svamp", label_type="llm")
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (18, 2, 4)
    assert all(e.label == e.teacher_label for e in splits.train)
    assert len(load(make_cqa(tmp_path), "cqa").test) == 3


def test_malformed_json_line_names_file_and_line(tmp_path):
    path = make_svamp(tmp_path) / "svamp" / "svamp_train.json"
    lines = path.read_text().splitlines()
    lines[2] = '{"input": "unterminated'
    path.write_text("\n".join(lines) + "\n")
    raises_one_line(
        tmp_path,
        "svamp",
        "svamp/svamp_train.json line 3",
        "invalid JSON",
        "one JSON object per line",
    )


def test_json_line_that_is_not_an_object(tmp_path):
    path = make_svamp(tmp_path) / "svamp" / "svamp_test.json"
    path.write_text(path.read_text() + "[1, 2]\n")
    raises_one_line(
        tmp_path, "svamp", "svamp/svamp_test.json line 5", "expected a JSON object, got list"
    )


def test_missing_and_mistyped_fields(tmp_path):
    path = make_cqa(tmp_path) / "cqa" / "cqa_test.json"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    del rows[1]["choices"]
    write_lines(path, rows)
    raises_one_line(tmp_path, "cqa", "cqa/cqa_test.json line 2", "missing field 'choices'")
    rows[1]["choices"] = ["only", "four", "choices", "here"]
    write_lines(path, rows)
    raises_one_line(tmp_path, "cqa", "cqa/cqa_test.json line 2", "list of 5 strings")
    rows[1]["choices"], rows[2]["answer"] = rows[0]["choices"], 3
    write_lines(path, rows)
    raises_one_line(
        tmp_path, "cqa", "cqa/cqa_test.json line 3", "field 'answer' should be str, got int"
    )


def test_cot_count_must_match_inputs(tmp_path):
    path = make_svamp(tmp_path) / "svamp" / "llm" / "train_CoT_0.json"
    write_json(path, json.loads(path.read_text())[:-1])
    raises_one_line(
        tmp_path,
        "svamp",
        "svamp/llm/train_CoT_0.json: 19 outputs, expected 20",
        "svamp/svamp_train.json",
    )


def test_cot_batches_follow_the_dss_batch_size(tmp_path):
    """1,200 inputs need two CQA batches: 1,000 outputs in CoT_0, 200 in CoT_1."""
    make_cqa(tmp_path, n_train=1200)
    path = tmp_path / "cqa" / "llm" / "train_CoT_0.json"
    raises_one_line(tmp_path, "cqa", "cqa/llm/train_CoT_0.json: 1200 outputs, expected 1000")
    outputs = json.loads(path.read_text())
    write_json(path, outputs[:1000])
    raises_one_line(
        tmp_path, "cqa", "cqa: missing PaLM train outputs", "train_CoT_1.json", "bench data fetch"
    )
    write_json(tmp_path / "cqa" / "llm" / "train_CoT_1.json", outputs[1000:])
    assert len(load(tmp_path, "cqa").train) == 1080


def test_malformed_cot_file(tmp_path):
    path = make_svamp(tmp_path) / "svamp" / "llm" / "test_CoT_0.json"
    path.write_text('[\n"a",\n"b"\n')
    raises_one_line(
        tmp_path, "svamp", "svamp/llm/test_CoT_0.json line 4", "invalid JSON", "JSON array of str"
    )
    write_json(path, ["a", 2, "c", "d"])
    raises_one_line(tmp_path, "svamp", "svamp/llm/test_CoT_0.json: item 1 should be str, got int")
    write_json(path, {"a": 1})
    raises_one_line(tmp_path, "svamp", "expected a JSON array of str, got dict")


def test_missing_input_file_names_dataset_path_and_fetch(tmp_path):
    (make_svamp(tmp_path) / "svamp" / "svamp_test.json").unlink()
    raises_one_line(
        tmp_path,
        "svamp",
        "svamp: missing test inputs",
        str(tmp_path / "svamp" / "svamp_test.json"),
        "bench data fetch",
    )


def test_missing_partial_train_names_upstream_and_reconstructed(tmp_path):
    (tmp_path / "esnli").mkdir()
    raises_one_line(
        tmp_path,
        "esnli",
        "esnli: missing train inputs",
        str(tmp_path / "esnli" / "esnli_train.json"),
        "reconstructed/esnli_train_first10000.json",
        "bench data fetch",
    )


def test_unreadable_files(tmp_path):
    path = make_svamp(tmp_path) / "svamp" / "svamp_train.json"
    path.unlink()
    path.mkdir()
    raises_one_line(tmp_path, "svamp", "cannot read", "svamp_train.json")
    path.rmdir()
    path.write_bytes(b'{"input": "caf\xe9", "label": "1"}\n')
    raises_one_line(tmp_path, "svamp", "svamp/svamp_train.json: not UTF-8 text")


def test_file_without_read_permission(tmp_path, monkeypatch):
    """A permission error (simulated: the tests may run as root, who reads any file)."""
    path = make_svamp(tmp_path) / "svamp" / "svamp_test.json"
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    raises_one_line(tmp_path, "svamp", "cannot read", "Permission denied")


def test_nli_label_out_of_range(tmp_path):
    row = {"premise": "p", "hypothesis": "h", "label": 3}
    write_lines(
        tmp_path / "anli1" / "reconstructed" / "anli1_train_first1000.json", [{"idx": 0, **row}]
    )
    raises_one_line(
        tmp_path, "anli1", "anli1_train_first1000.json line 1", "label should be 0, 1 or 2, got 3"
    )


def test_reconstructed_indices_must_increase(tmp_path):
    rows = [{"idx": i, "premise": "p", "hypothesis": "h", "label": 0} for i in (0, 5, 5)]
    write_lines(tmp_path / "anli1" / "reconstructed" / "anli1_train_first1000.json", rows)
    raises_one_line(
        tmp_path, "anli1", "anli1_train_first1000.json line 3", "idx 5 should be increasing"
    )


def test_llama3_file_checks(tmp_path):
    path = make_svamp(tmp_path) / "svamp" / "llama3" / "svamp_test_llama3.json"
    records = json.loads(path.read_text())
    write_json(path, records[:-1])
    raises_one_line(
        tmp_path, "svamp", "svamp_test_llama3.json: 3 outputs, expected 4", teacher="llama3"
    )
    records[1]["input"] = "another question"
    write_json(path, records)
    raises_one_line(
        tmp_path,
        "svamp",
        "item 1 input differs from example 1 of svamp/svamp_test.json",
        teacher="llama3",
    )
    make_svamp(tmp_path)
    records = json.loads(path.read_text())
    del records[1]["gen_label"]
    write_json(path, records)
    raises_one_line(
        tmp_path, "svamp", "item 1 should have a string field 'gen_label'", teacher="llama3"
    )


def test_llama3_never_uses_org_label(tmp_path):
    path = make_svamp(tmp_path) / "svamp" / "llama3" / "svamp_train_random_llama3.json"
    records = json.loads(path.read_text())
    for record in records:
        record["gen_label"] = " I am not sure about this one."
    write_json(path, records)
    splits = load(tmp_path, "svamp", teacher="llama3", label_type="llm")
    assert {(e.teacher_label, e.label) for e in splits.train} == {("", "")}
    assert {e.label for e in splits.valid} == {e.gold for e in splits.valid}


def test_cli_reports_one_error_line_without_traceback(tmp_path, capsys):
    assert main(["data", "check", "--data-dir", str(tmp_path / "nowhere")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no DSS datasets in")
    assert "bench data fetch" in lines[0] and "Traceback" not in captured.err + captured.out


def test_cli_check_exits_2_on_a_corrupt_file(tmp_path, capsys):
    path = make_svamp(tmp_path) / "svamp" / "svamp_train.json"
    path.write_text(path.read_text() + "{oops\n")
    assert main(["data", "check", "--data-dir", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "svamp/svamp_train.json line 21: invalid JSON" in out
    assert out.rstrip().endswith("1 corrupt file(s); see the rows marked error")
