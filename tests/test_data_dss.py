"""DSS loaders on the real data (``$COTBENCH_DATA``): parse counts equal the data README's table,
DSS input formats and valid split, label types, teachers; plus the parse rules and the safe
equation evaluator on hand-written strings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.data import LoadOptions, load_dataset
from bench.data.check import check_data
from bench.data.dss import SPECS
from bench.data.llama3 import parse_llama3
from bench.data.parsers import (
    NLI_LABELS,
    equation_evaluates,
    equation_value,
    labels_match,
    parse_anli,
    parse_cqa,
    parse_esnli,
    parse_svamp,
)
from bench.errors import ConfigError

# The data README's "PaLM CoT parse statistics": dataset, split, CoT outputs, non-empty label,
# strict label, empty rationale, and PaLM accuracy (%) per input file it was measured on.
README_TABLE = [
    ("cqa", "train", 9741, 9738, 9293, 0, {"cqa_train.json": 74.26}),
    ("cqa", "test", 1221, 1221, 1175, 0, {"cqa_test.json": 77.23}),
    ("svamp", "train", 800, 787, 771, 11, {"svamp_train.json": 73.50}),
    ("svamp", "test", 200, 198, 195, 2, {"svamp_test.json": 74.00}),
    (
        "esnli",
        "train",
        549_367,
        540_774,
        537_181,
        61,
        {
            "reconstructed/esnli_train_first10000.json": 69.86,
            "reconstructed/esnli_train_sparse_extra.json": 70.23,
        },
    ),
    ("esnli", "valid", 9842, 9838, 9838, 0, {"esnli_valid.json": 73.17}),
    ("esnli", "test", 9824, 9824, 9823, 0, {"esnli_test.json": 72.99}),
    (
        "anli1",
        "train",
        16_946,
        16_823,
        16_821,
        122,
        {"reconstructed/anli1_train_first1000.json": 75.60},
    ),
    ("anli1", "valid", 1000, 991, 991, 9, {"anli1_valid.json": 66.80}),
    ("anli1", "test", 1000, 990, 990, 10, {"anli1_test.json": 65.60}),
]

# Teacher accuracy (%) the loaders' examples must reproduce: dataset, label type, split, value.
LOADER_ACCURACY = [
    ("esnli", "gt", "train", 69.86),
    ("esnli", "gt", "valid", 73.17),
    ("esnli", "gt", "test", 72.99),
    ("anli1", "gt", "train", 75.60),
    ("anli1", "gt", "valid", 66.80),
    ("anli1", "gt", "test", 65.60),
    ("cqa", "gt", "test", 77.23),
    ("svamp", "gt", "test", 74.00),
]

SIZES = {  # (dataset, label_type) -> train, valid, test
    ("cqa", "gt"): (8766, 975, 1221),
    ("cqa", "llm"): (8766, 975, 1221),
    ("svamp", "gt"): (720, 80, 200),
    ("svamp", "llm"): (720, 80, 200),
    ("esnli", "gt"): (10_000, 9842, 9824),
    ("esnli", "llm"): (10_000, 9842, 9824),
    ("anli1", "gt"): (1000, 1000, 1000),
    ("anli1", "llm"): (10_380, 1000, 1000),
}

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def check_table(dss_data_dir: Path):
    """The ``bench data check`` table of the real data (parses every CoT file once)."""
    return check_data(dss_data_dir).table


@pytest.fixture(scope="module")
def loaded(dss_data_dir: Path):
    """Cache of loaded datasets keyed by (name, teacher, label_type)."""
    cache = {}

    def load(name: str, teacher: str = "palm", label_type: str = "gt"):
        key = (name, teacher, label_type)
        if key not in cache:
            options = LoadOptions(dss_data_dir, teacher=teacher, label_type=label_type)
            cache[key] = load_dataset(name, options)
        return cache[key]

    return load


def _accuracy(examples, metric: str) -> float:
    scored = [labels_match(metric, e.teacher_label, e.gold) for e in examples if e.gold is not None]
    return round(100 * sum(scored) / len(scored), 2)


@pytest.mark.parametrize(
    ("name", "split", "outputs", "labels", "strict", "empty", "accuracy"),
    README_TABLE,
    ids=[f"{row[0]}-{row[1]}" for row in README_TABLE],
)
def test_check_counts_equal_readme_table(
    check_table, name, split, outputs, labels, strict, empty, accuracy
):
    rows = check_table[
        (check_table.dataset == name)
        & (check_table.split == split)
        & (check_table.teacher == "palm")
    ]
    assert set(accuracy) <= set(rows.inputs)
    for _, row in rows.iterrows():
        assert (row.outputs, row.labels, row.strict) == (outputs, labels, strict)
        assert row.outputs - row.rationales == empty
        assert row.status in {"ok", "partial"}
    for inputs, expected in accuracy.items():
        row = rows[rows.inputs == inputs].iloc[0]
        assert round(100 * row.accuracy, 2) == expected


@pytest.mark.parametrize(("name", "label_type", "split", "expected"), LOADER_ACCURACY)
def test_loader_teacher_accuracy_equals_readme(loaded, name, label_type, split, expected):
    splits = loaded(name, label_type=label_type)
    assert _accuracy(getattr(splits, split), splits.metric) == expected


@pytest.mark.parametrize(
    ("name", "expected", "non_empty"), [("cqa", 74.26, 9738), ("svamp", 73.50, 787)]
)
def test_loader_train_plus_valid_is_the_dss_train_file(loaded, name, expected, non_empty):
    splits = loaded(name)
    examples = splits.train + splits.valid
    assert _accuracy(examples, splits.metric) == expected
    assert sum(bool(e.teacher_label.strip()) for e in examples) == non_empty
    assert len({e.id for e in examples}) == SPECS[name].paper_sizes["train"]


@pytest.mark.parametrize(("name", "label_type"), sorted(SIZES))
def test_split_sizes_and_label_types(loaded, name, label_type):
    splits = loaded(name, label_type=label_type)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == SIZES[(name, label_type)]
    field = "teacher_label" if label_type == "llm" else "gold"
    assert all(e.label == getattr(e, field) for e in splits.train)
    assert all(e.label == e.gold for e in splits.valid + splits.test)  # DSS: valid/test gold


@pytest.mark.parametrize("name", ["cqa", "svamp"])
def test_valid_split_is_hf_train_test_split(dss_data_dir, loaded, name):
    from datasets import Dataset

    records = _json_lines(dss_data_dir / name / f"{name}_train.json")
    parts = Dataset.from_list(records).train_test_split(test_size=0.1, seed=0)
    splits = loaded(name)
    gold_key = "answer" if name == "cqa" else "label"
    assert [e.gold for e in splits.valid] == parts["test"][gold_key]
    assert [e.gold for e in splits.train] == parts["train"][gold_key]
    if name == "svamp":
        assert [e.input_parts[0] for e in splits.train] == parts["train"]["input"]


def test_cqa_input_format_label_and_cot_alignment(dss_data_dir, loaded):
    record = _json_lines(dss_data_dir / "cqa" / "cqa_train.json")[0]
    output = json.loads((dss_data_dir / "cqa" / "llm" / "train_CoT_0.json").read_text())[0]
    example = next(e for e in loaded("cqa").valid + loaded("cqa").train if e.id == "cqa-train-0")
    letters = "abcde"
    choices = "".join(f"\n({letters[i]}) {c}" for i, c in enumerate(record["choices"]))
    assert example.input_parts == (record["question"] + "\nAnswer Choices:" + choices,)
    assert example.gold == example.label == record["answer"]
    assert example.candidates == tuple(record["choices"])
    assert (example.rationale, example.teacher_label) == parse_cqa(output)


def test_nli_examples(dss_data_dir, loaded):
    record = _json_lines(dss_data_dir / "anli1" / "anli1_test.json")[7]
    output = json.loads((dss_data_dir / "anli1" / "llm" / "test_CoT_0.json").read_text())[7]
    example = loaded("anli1").test[7]
    assert example.input_parts == (record["premise"], record["hypothesis"])
    assert example.gold == NLI_LABELS[record["label"]]
    assert example.candidates == NLI_LABELS
    assert (example.rationale, example.teacher_label) == parse_anli(output)
    assert example.text_input("</s>") == record["premise"] + "</s>" + record["hypothesis"]


def test_esnli_train_is_first_10000_with_cot_from_batches_0_and_1(dss_data_dir, loaded):
    splits = loaded("esnli")
    assert [e.id for e in splits.train] == [f"esnli-train-{i}" for i in range(10_000)]
    batch1 = json.loads((dss_data_dir / "esnli" / "llm" / "train_CoT_1.json").read_text())
    example = splits.train[5500 + 3]
    assert (example.rationale, example.teacher_label) == parse_esnli(batch1[3])
    assert "esnli/reconstructed/esnli_train_first10000.json" in splits.sources


def test_anli1_llm_uses_partial_inputs_with_gold_only_below_1000(loaded):
    splits = loaded("anli1", label_type="llm")
    with_gold = [e for e in splits.train if e.gold is not None]
    assert len(with_gold) == 1000
    assert all(int(e.id.rsplit("-", 1)[1]) < 1000 for e in with_gold)
    assert "anli1/reconstructed/anli1_train_inputs_partial.json" in splits.sources


def test_failed_parses_are_kept(loaded):
    splits = loaded("svamp", label_type="llm")
    examples = splits.train + splits.valid
    blank = [e for e in examples if not e.teacher_label.strip()]
    assert len(blank) == 800 - 787
    assert all(e.label == e.teacher_label for e in blank if e in splits.train)


def test_sources_are_relative_paths_with_sha256_of_the_files(dss_data_dir, loaded):
    sums = {}
    for line in (dss_data_dir / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        sums[path] = digest
    for name in SPECS:
        sources = loaded(name).sources
        assert sources and all(sums[path] == digest for path, digest in sources.items())


def test_llama3_teacher_files_and_labels(loaded):
    cqa, svamp = loaded("cqa", "llama3", "llm"), loaded("svamp", "llama3", "llm")
    assert set(svamp.sources) == {
        "svamp/svamp_train.json",
        "svamp/svamp_test.json",
        "svamp/llama3/svamp_train_random_llama3.json",
        "svamp/llama3/svamp_test_llama3.json",
    }
    assert "cqa/llama3/cqa_train_random_llama3.json" in cqa.sources
    assert all(e.teacher_label in e.candidates for e in cqa.train if e.teacher_label)
    assert all(e.label == e.teacher_label for e in cqa.train + svamp.train)
    assert all(equation_value(e.teacher_label) is not None for e in svamp.train if e.teacher_label)
    unparsed = sum(not e.teacher_label for e in cqa.train + cqa.valid)
    assert unparsed == 9741 - 8890


@pytest.mark.parametrize(
    ("name", "split", "teacher", "labels", "accuracy"),
    [
        ("cqa", "train", "llama3-random", 8890, 62.31),
        ("cqa", "test", "llama3-rag", 1148, 64.05),
        ("svamp", "train", "llama3-random", 762, 69.38),
        ("svamp", "train", "llama3-rag", 780, 70.62),
        ("svamp", "test", "llama3-rag", 190, 72.50),
    ],
)
def test_check_reports_llama3_parse_rate_and_accuracy(
    check_table, name, split, teacher, labels, accuracy
):
    row = check_table[
        (check_table.dataset == name)
        & (check_table.split == split)
        & (check_table.teacher == teacher)
    ].iloc[0]
    assert (row.labels, round(100 * row.accuracy, 2), row.status) == (labels, accuracy, "ok")


@pytest.mark.parametrize(
    ("name", "teacher", "label_type", "message"),
    [
        ("esnli", "llama3", "gt", "no outputs for esnli"),
        ("anli1", "llama3", "llm", "no outputs for anli1"),
        ("cqa", "gpt", "gt", "teacher: expected one of palm, llama3"),
        ("svamp", "palm", "silver", "label_type: expected one of gt, llm"),
    ],
)
def test_unsatisfiable_requests_raise_config_error(
    dss_data_dir, name, teacher, label_type, message
):
    with pytest.raises(ConfigError, match=message):
        load_dataset(name, LoadOptions(dss_data_dir, teacher=teacher, label_type=label_type))


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- parse rules and the equation evaluator (no data needed) ---------------------------------


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Because x. So the answer is (b) two.\n\nQ: more", ("Because x.", "two")),
        ("Because x. So the answer is (b) two", ("Because x.", "two")),
        ("Because x. So the answer is two.", ("Because x.", " ")),
        ("Because x. So the answer is (c) .", ("Because x.", "")),  # DSS strips the "."
        ("No marker at all.", (" ", " ")),
    ],
)
def test_parse_cqa(output, expected):
    assert parse_cqa(output) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("3 + 4 = 7. The answer is (3 + 4).\n\nQ: next", ("3 + 4 = 7.", "(3 + 4)")),
        ("3 + 4 = 7. The answer is 7.", ("3 + 4 = 7.", " ")),
        ("Twice: The answer is (1). The answer is (2).", (" ", " ")),
        ("Nothing here", (" ", " ")),
    ],
)
def test_parse_svamp(output, expected):
    assert parse_svamp(output) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "A dog is an animal.\nAnswer: entailment\n\nPremise: x",
            ("A dog is an animal.", "entailment"),
        ),
        ("Maybe.\nAnswer: neutral\n\nPre", ("Maybe.", "neutral\n\nPre")),
        ("Maybe.\nAnswer:neutral", ("Maybe.", " ")),
    ],
)
def test_parse_esnli(output, expected):
    assert parse_esnli(output) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("It says so. So the answer is neutral.\n\nPremise: x", ("It says so.", "neutral")),
        ("No marker.\n\nPremise: x", ("", "")),
    ],
)
def test_parse_anli(output, expected):
    assert parse_anli(output) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("( 84.0 / 2.0 )", 42.0),
        ("((18 - 10) * 15)", 120.0),
        ("-3 + -(2 * 4)", -11.0),
        ("(34 + 40) and (62 - 17)", 45.0),  # Python's `and`, as DSS's eval scores it
        ("0 or 7", 7.0),
        ("42", 42.0),
    ],
)
def test_equation_value(text, value):
    assert equation_value(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "2**99999999",
        "9 ** 9 ** 9",
        "x + 1",
        "abs(-1)",
        "(1).real",
        "[1, 2]",
        "{1: 2}",
        "'a' * 10",
        "1 if 1 else 2",
        "lambda: 1",
        "1 // 2",
        "7 % 3",
        "1 < 2",
        "True + 1",
        "1j",
        "1 / 0",
        "1e308 * 10",
        "(1,) * 10**9",
        "-(1, 2)",
        "9" * 5000,
        "-" * 900 + "1",
        "(" * 500 + "1" + ")" * 500,
        "+".join(["1"] * 400),
        "",
        " ",
        "(",
    ],
)
def test_equation_value_rejects_hostile_and_invalid_input(text):
    assert equation_value(text) is None


def test_equation_evaluates_accepts_tuples_like_dss_eval():
    assert equation_evaluates("(175, 5)") and equation_value("(175, 5)") is None
    assert not equation_evaluates("__import__('os')")


def test_labels_match():
    assert labels_match("equation", "(84 / 2)", "( 84.0 / 2.0 )")
    assert not labels_match("equation", "( 1 / 0 )", "( 1 / 0 )")
    assert labels_match("exact", "neutral", "neutral")
    assert not labels_match("exact", "neutral\n\nPre", "neutral")


CHOICES = ("park", "coloring book", "garden center", "math problem", "gravity")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            " Rationale: It is arithmetic. Hence the answer is Answer: (d) math problem",
            ("It is arithmetic.", "math problem"),
        ),
        (" Rationale: Apples fall, hence the answer is (e)", ("Apples fall", "gravity")),
        (
            "(c) garden center\n\nPlants grow there.",
            ("(c) garden center\n\nPlants grow there.", "garden center"),
        ),
        (" It is a math problem, clearly.", ("It is a math problem, clearly.", "math problem")),
        (" Either a park or gravity.", ("Either a park or gravity.", "")),
        (" The answer is coloring book.", ("", "coloring book")),
    ],
)
def test_parse_llama3_cqa(text, expected):
    assert parse_llama3("cqa", text, CHOICES) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Rationale: 84 / 2 = 42 points. Hence the answer is 42.", ("84 / 2 = 42 points.", "42")),
        (" Rationale: 7 rows, hence the answer is 30 * 7 = 210 crayons.", ("7 rows", "210")),
        (" Rationale: sum. Answer: 1,250", ("sum.", "1250")),
        (" 15.0 / 3.0 = 5.0", ("15.0 / 3.0 = 5.0", "5.0")),
        (" 12", ("12", "12")),
        (" She has some eggs.", ("She has some eggs.", "")),
    ],
)
def test_parse_llama3_svamp(text, expected):
    assert parse_llama3("svamp", text) == expected
