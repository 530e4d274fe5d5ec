"""The one example record shared by every dataset."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    """One training or evaluation example.

    ``input_parts`` is the task input as DSS builds it: one string, or ``(premise, hypothesis)``
    for NLI, joined at tokenization time by the tokenizer's EOS token (``text_input``).
    ``label`` is the target the student learns (gold, or the teacher's label under
    ``label_type=llm``); ``gold`` is always the gold label (None where unknown).
    ``candidates`` lists the answer options of closed tasks (NLI labels, CQA choices, synth
    options) and is empty for open tasks (SVAMP).
    """

    id: str
    input_parts: tuple[str, ...]
    label: str
    rationale: str
    teacher_label: str
    gold: str | None
    candidates: tuple[str, ...] = ()

    def text_input(self, sep: str) -> str:
        """The input as one string, NLI parts joined by ``sep`` (the tokenizer's EOS token)."""
        return sep.join(self.input_parts)


@dataclass(frozen=True)
class DatasetSplits:
    """The three splits of one dataset, as example tuples, plus where they came from."""

    name: str
    train: tuple[Example, ...]
    valid: tuple[Example, ...]
    test: tuple[Example, ...]
    kind: str  # "closed" (answer candidates) or "open" (generated answer, e.g. an equation)
    metric: str  # "exact" or "equation"
    sources: dict[str, str] = field(default_factory=dict)  # file -> sha256 of what was read
