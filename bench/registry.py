"""Name -> plugin registries filled by decorators (strategies, datasets, model presets).

Example::

    STRATEGIES = Registry("strategy")

    @STRATEGIES.register("dss")
    class DSS(Strategy): ...

    STRATEGIES.get("dss")  # -> DSS; an unknown name raises ConfigError listing the known names

A registry may name an entry-point group; its entries are imported on first lookup so that
plug-in packages (``baselines``, ``method``, third-party ones) register themselves without the
core importing them by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from bench.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of plugins; duplicates raise, unknown names list the known ones."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._group = entry_point_group
        self._loaded = entry_point_group is None

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``."""

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def _load_plugins(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for entry in entry_points(group=self._group):
            import_module(entry.value)

    def get(self, name: str) -> T:
        """The plugin registered as ``name``; ConfigError naming the known ones otherwise."""
        self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
