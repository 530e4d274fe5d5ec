"""Small text helpers of console output: counted nouns and docstring markup as plain text."""

from __future__ import annotations

import re


def plural(n: int, noun: str) -> str:
    """``plural(1, "run")`` -> ``"1 run"``, ``plural(3, "run")`` -> ``"3 runs"``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def plain_text(text: str) -> str:
    """Docstring markup as plain text: ````bench```` -> ``bench``, ``:func:`~a.f``` -> ``a.f``."""
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", text).replace("``", "")
