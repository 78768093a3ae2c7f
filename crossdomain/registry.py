"""Named registries with lazy built-ins, entry-point plugins and did-you-mean errors.

A registry maps a short name ("dna", "random") to a class. Built-ins are listed as
lazy ``"module:Class"`` strings so importing crossdomain never imports music21 or
biopython; third-party packages add entries through a Python entry-point group.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
import sys
import warnings
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


class RegistryError(ValueError):
    """One name registered for two different objects; the message names both."""


def describe(entry) -> str:
    return entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__qualname__}"


def same_entry(old, new) -> bool:
    """The same object, or a lazy "module:Attr" string and the object it names (an upgrade, not a collision)."""
    if old is new or (isinstance(old, str) and isinstance(new, str) and old == new):
        return True
    lazy, loaded = (old, new) if isinstance(old, str) else (new, old) if isinstance(new, str) else (None, None)
    if lazy is None:
        return False
    module_name, _, attribute = lazy.partition(":")
    if (getattr(loaded, "__module__", None), getattr(loaded, "__qualname__", None)) == (module_name, attribute):
        return True  # also while its module is still being imported (a class registering itself)
    module = sys.modules.get(module_name)  # an object from that module exists, so the module is imported
    return module is not None and getattr(module, attribute, None) is loaded


class Registry(Generic[T]):
    """name → class. Built-ins are registered as lazy ``"module:Attr"`` strings (:meth:`register_modules` for a
    package whose modules are the entries); plugins come from an entry-point group. A name registered twice for
    different objects is an error; a class that is not a ``base`` subclass is a ``TypeError``; a plugin whose name
    is a built-in's is ignored with a warning naming both."""

    def __init__(self, kind: str, entry_point_group: str | None = None, base: type | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self.base = base
        self._entries: dict[str, T | str] = {}
        self._plugins_loaded = False

    def register(self, name: str, obj: T | str | None = None) -> Callable[[T], T] | None:
        """Register ``obj`` (a class or a lazy "module:Class" string), or use as a decorator."""
        if obj is not None:
            self._add(name, obj)
            return None

        def decorator(cls: T) -> T:
            self._add(name, cls)
            return cls

        return decorator

    def register_modules(self, package: str, path, attribute: str, skip: set[str] = frozenset()) -> None:
        """Every module of ``package`` not in ``skip`` is an entry: module ``stats_matched`` → name
        ``stats-matched`` → lazy ``"package.stats_matched:ATTRIBUTE"``."""
        for module in pkgutil.iter_modules(path):
            if module.name not in skip:
                self.register(module.name.replace("_", "-"), f"{package}.{module.name}:{attribute}")

    def _check_type(self, name: str, obj) -> None:
        if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise TypeError(f"{self.kind} {name!r}: {describe(obj) if isinstance(obj, type) else repr(obj)} is not "
                            f"a subclass of {self.base.__module__}.{self.base.__qualname__}")

    def _add(self, name: str, obj) -> None:
        if not isinstance(obj, str):
            self._check_type(name, obj)
        if name in self._entries:
            old = self._entries[name]
            if not same_entry(old, obj):
                raise RegistryError(f"{self.kind} {name!r} is already registered as {describe(old)}; "
                                    f"refusing {describe(obj)} (choose another name)")
            if isinstance(old, str) and not isinstance(obj, str):
                self._entries[name] = obj  # the lazy entry, loaded
            return
        self._entries[name] = obj

    def _load_plugins(self) -> None:
        if self._plugins_loaded or not self.entry_point_group:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name in self._entries:
                if not same_entry(self._entries[ep.name], ep.value):
                    warnings.warn(f"{self.kind} plugin {ep.name!r} ({ep.value}, entry point group "
                                  f"{self.entry_point_group}) has the name of the built-in "
                                  f"{describe(self._entries[ep.name])}; the built-in is kept", stacklevel=3)
                continue
            self._entries[ep.name] = ep.value

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
                loaded = load_object(entry)
            except Exception as error:  # noqa: BLE001 - any import-time failure of a plugin is reported by name
                raise PluginLoadError(f"{self.kind} {name!r} ({entry}) failed to load: "
                                      f"{error.__class__.__name__}: {error}") from error
            self._check_type(name, loaded)
            self._entries[name] = entry = loaded
        return entry

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._entries
