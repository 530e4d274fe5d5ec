"""Parse rules for PaLM chain-of-thought outputs, label checks, and a safe equation evaluator.

The PaLM parse rules reproduce ``DatasetLoader._parse_llm_output`` of each DSS loader in
``data_utils.py`` of https://github.com/google-research/distilling-step-by-step (commit ef94426),
rewritten here. They return exactly what DSS returns, including its failure values: a blank
label ``" "`` (CQA, SVAMP, e-SNLI) or ``""`` (ANLI), and for SVAMP a blank rationale ``" "``.
DSS trains on these values as they are; so do we (see ``bench.data.dss``).

One deviation: the DSS CQA parser has no guard around ``split("So the answer is")`` and would
raise when the marker is absent or repeated; here that case returns ``(" ", " ")`` like the DSS
GPT-output parser of the same loader. No PaLM output in the released data triggers it.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Sequence

NLI_LABELS = ("entailment", "neutral", "contradiction")  # DSS text labels for 0 / 1 / 2
DSS_BLANK = " "  # what the DSS parsers return for a label they could not find

MAX_EQUATION_CHARS = 1000
MAX_EQUATION_DEPTH = 100

_CHOICE_MARK = re.compile(r"\(.\)")  # "(a)" ... "(e)"; "." does not match a newline
_PARENTHESISED = re.compile(r"\(.*\)")  # greedy, first line only


def parse_cqa(output: str) -> tuple[str, str]:
    """CQA: text before ``Q:``, split at ``So the answer is``; label = text after ``(x)``."""
    parts = output.split("Q:")[0].rstrip().split("So the answer is")
    if len(parts) != 2:
        return DSS_BLANK, DSS_BLANK
    rationale, tail = parts[0].rstrip(), parts[1]
    pieces = _CHOICE_MARK.split(tail)
    label = pieces[1].strip() if len(pieces) > 1 else ""
    if not label:
        return rationale, DSS_BLANK
    return rationale, label[:-1] if label.endswith(".") else label


def parse_svamp(output: str) -> tuple[str, str]:
    """SVAMP: text before ``Q:``, split at ``The answer is``; label = the ``( ... )`` after it."""
    parts = output.split("Q:")[0].rstrip().split("The answer is")
    if len(parts) != 2:
        return DSS_BLANK, DSS_BLANK
    match = _PARENTHESISED.search(parts[1])
    return parts[0].rstrip(), match.group(0) if match else DSS_BLANK


def parse_esnli(output: str) -> tuple[str, str]:
    """e-SNLI: rationale = text before ``Answer:``; label = after ``Answer: `` up to ``Premise``."""
    rationale = output.split("Answer:")[0].rstrip()
    parts = output.split("Answer: ")
    label = parts[1].split("Premise")[0].rstrip() if len(parts) > 1 else DSS_BLANK
    return rationale, label


def parse_anli(output: str) -> tuple[str, str]:
    """ANLI: text before ``Premise:``, split at ``So the answer is``; label drops its last char."""
    parts = output.split("Premise:")[0].rstrip().split("So the answer is")
    if len(parts) != 2:
        return "", ""
    return parts[0].rstrip(), parts[1].lstrip()[:-1]


PALM_PARSERS: dict[str, Callable[[str], tuple[str, str]]] = {
    "cqa": parse_cqa,
    "svamp": parse_svamp,
    "esnli": parse_esnli,
    "anli1": parse_anli,
}


def is_blank(text: str) -> bool:
    """Whether a parsed rationale or label is empty (DSS's failure values included)."""
    return not text.strip()


def is_strict_label(dataset: str, label: str, candidates: Sequence[str]) -> bool:
    """A well-formed label: a CQA choice, an NLI label word, a SVAMP label that DSS's ``eval``
    accepts (:func:`equation_evaluates`)."""
    if dataset == "svamp":
        return equation_evaluates(label)
    if dataset == "cqa":
        return label in candidates
    return label in NLI_LABELS


def labels_match(metric: str, predicted: str, gold: str) -> bool:
    """DSS accuracy of one label: exact text match, or equal equation values for ``equation``."""
    if metric != "equation":
        return predicted == gold
    value = equation_value(predicted)
    return value is not None and value == equation_value(gold)


def equation_value(text: str) -> float | None:
    """The numeric value of an arithmetic expression, or None; never executes code.

    The grammar is a safe subset of what DSS's ``eval`` accepts: int/float literals,
    ``+ - * /``, unary minus, parentheses, and ``and``/``or`` with Python's semantics (PaLM
    writes labels such as ``(34 + 40) and (62 - 17)``, which DSS's ``eval`` scores as 45).
    At most ``MAX_EQUATION_CHARS`` characters and ``MAX_EQUATION_DEPTH`` levels. Anything else,
    a tuple, a division by zero, an overflow or a non-finite result gives None.
    """
    value = _safe_eval(text)
    if isinstance(value, tuple) or value is None:
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def equation_evaluates(text: str) -> bool:
    """Whether DSS's ``eval`` would succeed on ``text`` (within the safe grammar, tuples
    such as ``(175, 5)`` included): the README's "strict" SVAMP label."""
    return _safe_eval(text) is not None


Value = float | int | tuple


def _safe_eval(text: str) -> Value | None:
    if not isinstance(text, str) or len(text) > MAX_EQUATION_CHARS:
        return None
    try:
        return _evaluate(ast.parse(text.strip(), mode="eval").body, 0)
    except (SyntaxError, ValueError, TypeError, ArithmeticError, RecursionError, MemoryError):
        return None


_BINARY: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def _evaluate(node: ast.AST, depth: int) -> Value:
    if depth > MAX_EQUATION_DEPTH:
        raise ValueError("expression nested too deeply")
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_number(_evaluate(node.operand, depth + 1))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _number(_evaluate(node.left, depth + 1))
        right = _number(_evaluate(node.right, depth + 1))
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.BoolOp):
        return _boolean(node, depth)
    if isinstance(node, ast.Tuple):
        return tuple(_evaluate(item, depth + 1) for item in node.elts)
    raise ValueError(f"not allowed in an equation: {type(node).__name__}")


def _number(value: Value) -> float | int:
    if isinstance(value, tuple):
        raise TypeError("arithmetic on a tuple")
    return value


def _boolean(node: ast.BoolOp, depth: int) -> Value:
    """Python's ``and``/``or``: the first falsy/truthy operand, else the last one."""
    stop_when = isinstance(node.op, ast.Or)
    value: Value = 0
    for operand in node.values:
        value = _evaluate(operand, depth + 1)
        if bool(value) == stop_when:
            return value
    return value
