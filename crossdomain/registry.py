"""Named registries with lazy built-ins, entry-point plugins and did-you-mean errors.

A registry maps a short name ("dna", "random") to a class. Built-ins are listed as
lazy ``"module:Class"`` strings so importing crossdomain never imports music21 or
biopython; third-party packages add entries through a Python entry-point group.
"""
from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """An unknown registry name; the message lists the closest valid names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class PluginLoadError(ImportError):
    """A registered entry (often a third-party entry point) that cannot be imported; the message names it."""


def did_you_mean(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Valid: {', '.join(sorted(valid)) or '(none)'}."


def load_object(spec: str):
    """Import ``"package.module:Attribute"``."""
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T | str] = {}
        self._plugins_loaded = False

    def register(self, name: str, obj: T | str | None = None) -> Callable[[T], T] | None:
        """Register ``obj`` (a class or a lazy "module:Class" string), or use as a decorator."""
        if obj is not None:
            self._entries[name] = obj
            return None

        def decorator(cls: T) -> T:
            self._entries[name] = cls
            return cls

        return decorator

    def _load_plugins(self) -> None:
        if self._plugins_loaded or not self.entry_point_group:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            self._entries.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def get(self, name: str) -> T:
        self._load_plugins()
        if name not in self._entries:
            raise UnknownNameError(f"Unknown {self.kind} {name!r}.{did_you_mean(name, self.names())}")
        entry = self._entries[name]
        if isinstance(entry, str):
            try:
                entry = load_object(entry)
            except Exception as error:  # noqa: BLE001 - any import-time failure of a plugin is reported by name
                raise PluginLoadError(f"{self.kind} {name!r} ({entry}) failed to load: "
                                      f"{error.__class__.__name__}: {error}") from error
            self._entries[name] = entry
        return entry

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries
