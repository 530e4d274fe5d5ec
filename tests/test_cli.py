"""The ``bench`` command line as a user meets it: ``--version``, help without docstring markup in
any subcommand, shell completion, one flag name per idea (old names kept as aliases), counted
nouns, quiet third-party libraries."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from importlib.metadata import EntryPoint

import pytest

from bench import __version__
from bench.cli import build_parser, main, quiet_third_party
from bench.text import plain_text, plural


def _parsers(parser: argparse.ArgumentParser):
    """``parser`` and every subcommand's parser, recursively."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"cotbench {__version__}"


def test_shell_completion(capsys):
    pytest.importorskip("shtab", reason="pip install 'cotbench[completion]'")
    with pytest.raises(SystemExit) as info:
        main(["--print-completion", "bash"])
    script = capsys.readouterr().out
    assert info.value.code == 0 and "complete" in script
    assert all(command in script for command in ("ablate", "report", "--save-model"))


def test_shell_completion_without_shtab_names_the_extra(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "shtab", None)  # the import fails
    with pytest.raises(SystemExit) as info:
        main(["--print-completion", "bash"])
    assert info.value.code == 2
    assert "pip install 'cotbench[completion]'" in capsys.readouterr().err


def test_help_is_plain_text_everywhere():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 10
    for parser in parsers:
        text = parser.format_help()
        assert "``" not in text and ":func:" not in text and ":class:" not in text, parser.prog
    assert "The bench command line" in build_parser().format_help()


def test_a_provider_that_fails_to_load_is_one_error_line(capsys, monkeypatch):
    broken = EntryPoint("broken", "no_such_package.cli:add_parsers", "cotbench.commands")
    monkeypatch.setattr("bench.cli.entry_points", lambda group: [broken])
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the 'broken' commands")
    assert "no_such_package" in err


def test_plain_text_and_plural():
    assert plain_text("the ``bench`` CLI calls :func:`~bench.plan.run`") == (
        "the bench CLI calls bench.plan.run"
    )
    assert [plural(n, "run") for n in (0, 1, 2, 1000)] == [
        "0 runs",
        "1 run",
        "2 runs",
        "1,000 runs",
    ]


@pytest.mark.parametrize(
    ("argv", "dest", "value"),
    [
        (
            ["sweep", "--study", "s", "--space", "alphas", "--trials", "1", "--jobs", "3"],
            "workers",
            3,
        ),
        (
            ["sweep", "--study", "s", "--space", "alphas", "--trials", "1", "--workers", "3"],
            "workers",
            3,
        ),
        (["perf", "--out", "p.json"], "output", "p.json"),
        (["perf", "--output", "p.json"], "output", "p.json"),
    ],
)
def test_one_flag_name_per_idea_with_the_old_names_as_aliases(argv, dest, value):
    assert getattr(build_parser().parse_args(argv), dest) == value


def test_third_party_chatter_is_silenced():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_party()
        warnings.warn_explicit("x", UserWarning, "legend.py", 1, module="matplotlib.legend")
        warnings.warn("No artists with labels found to put in legend.", UserWarning, stacklevel=1)
        warnings.warn("Version v4.12.0 introduces a better way", FutureWarning, stacklevel=1)
        warnings.warn("something of ours", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something of ours"]
    assert not logging.getLogger("matplotlib").isEnabledFor(logging.WARNING)
