"""User-facing errors: one line naming the file/field and what was expected, exit code 2.

The CLI catches :class:`BenchError` and prints ``error: <message>`` without a traceback
(unless ``--debug``). Library code raises it for every kind of bad input.
"""

from __future__ import annotations


class BenchError(Exception):
    """A problem with the user's input (data, config, flags): reported as one line, exit 2."""

    exit_code = 2


class DataError(BenchError):
    """A data file is missing, unreadable or malformed."""


class ConfigError(BenchError):
    """A configuration value, suite or profile is invalid."""


def check_choice(name: str, value: object, allowed: tuple) -> None:
    """ConfigError unless ``value`` is one of ``allowed`` (``name``: the config key)."""
    if value not in allowed:
        raise ConfigError(f"{name}: expected one of {', '.join(map(str, allowed))}; got {value!r}")


class FileFormatError(BenchError, ValueError):
    """A file (run store, bundle, suite) is not in the format its reader expects.

    Also a ``ValueError``, so code that treats unparsable input as a value error still does.
    """
