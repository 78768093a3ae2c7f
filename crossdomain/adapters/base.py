"""The adapter API: one class turns raw records of a domain into symbol sequences.

An adapter reads the resolved source files of a task and yields :class:`Record` objects,
each a list of string symbols plus a label (a class name, or the target of a regression task as written
in the file) and, where the file defines one, its own split assignment. It declares its alphabet (or ``None`` when the
alphabet is derived from the data) and what happens to a symbol outside it:

* ``unknown="error"`` (default): raise :class:`UnknownSymbolError` naming file and line;
* ``unknown="replace"``: replace it by the adapter's ``unknown_symbol``; counted;
* ``unknown="drop"``: drop the whole record; counted.

Counts land in ``adapter.counts`` and are reported by ``crossdomain datasets``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterable, Iterator

UNKNOWN_POLICIES = ("error", "replace", "drop")


class AdapterError(ValueError):
    """Bad input for an adapter: malformed file, unknown symbol, unknown option."""


class UnknownSymbolError(AdapterError):
    pass


@dataclass
class Record:
    id: str
    label: str
    symbols: list[str]
    origin: str  # "file:line" (or "file#piece"), for error messages and provenance
    group: str = ""  # records sharing a group never straddle splits (e.g. one piece of music)
    split: str = ""  # the file's own assignment (train | dev | test), read by the predefined split kind

    def __post_init__(self):
        self.group = self.group or self.id


@dataclass
class RawRecord:
    """What a format reader yields before symbols are checked against the alphabet."""

    id: str
    label: str  # a class name, or a regression target as written in the file
    symbols: list[str]
    origin: str
    group: str = ""
    split: str = ""


def source_file_sha256(cls) -> str:
    """sha256 of the file a class is defined in, read when the class is created (the code that runs)."""
    import hashlib
    import inspect

    try:
        return hashlib.sha256(Path(inspect.getsourcefile(cls)).read_bytes()).hexdigest()
    except (TypeError, OSError):
        return hashlib.sha256(f"{cls.__module__}.{cls.__qualname__}".encode()).hexdigest()


class Adapter:
    """Subclass, set ``name``/``alphabet``, implement :meth:`read_raw`, register it."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    alphabet: ClassVar[tuple[str, ...] | None] = None
    unknown_symbol: ClassVar[str | None] = None
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._source_sha256 = source_file_sha256(cls)

    def __init__(self, unknown: str = "error", **options):
        if unknown not in UNKNOWN_POLICIES:
            raise AdapterError(f"adapter {self.name!r}: unknown policy {unknown!r}; expected one of {UNKNOWN_POLICIES}")
        if unknown == "replace" and self.unknown_symbol is None:
            raise AdapterError(f"adapter {self.name!r} has no unknown_symbol, so unknown='replace' is not available")
        self.unknown = unknown
        self.options = options
        self.counts: Counter = Counter()
        self.check_options()

    # -- to implement ------------------------------------------------------------------
    def read_raw(self, sources: dict[str, list[Path]]) -> Iterable[RawRecord]:
        """Yield raw records from the task's resolved sources (name → files)."""
        raise NotImplementedError

    # -- optional ----------------------------------------------------------------------
    accepted_options: ClassVar[tuple[str, ...]] = ()

    def check_options(self) -> None:
        unknown = sorted(set(self.options) - set(self.accepted_options))
        if unknown:
            from crossdomain.registry import did_you_mean

            raise AdapterError(
                f"adapter {self.name!r}: unknown reader option(s) {unknown}."
                f"{did_you_mean(unknown[0], list(self.accepted_options))}"
            )

    # -- provided ----------------------------------------------------------------------
    def read(self, sources: dict[str, list[Path]]) -> Iterator[Record]:
        for raw in self.read_raw(sources):
            symbols = self.check_symbols(raw.symbols, raw.origin)
            if symbols is None:
                continue
            yield Record(raw.id, raw.label, symbols, raw.origin, raw.group, raw.split)

    def check_symbols(self, symbols: list[str], origin: str) -> list[str] | None:
        if self.alphabet is None:
            return symbols
        allowed = set(self.alphabet)
        bad = [s for s in symbols if s not in allowed]
        if not bad:
            return symbols
        if self.unknown == "error":
            raise UnknownSymbolError(
                f"{origin}: unknown symbol(s) {sorted(set(bad))} for adapter {self.name!r}; "
                f"expected one of {''.join(self.alphabet) if all(len(a) == 1 for a in self.alphabet) else list(self.alphabet)} "
                f"(or set the task's unknown policy to 'replace' or 'drop')"
            )
        self.counts.update(f"unknown symbol {s!r}" for s in bad)
        if self.unknown == "drop":
            self.counts["records dropped: unknown symbols"] += 1
            return None
        self.counts["records with replaced symbols"] += 1
        return [s if s in allowed else self.unknown_symbol for s in symbols]

    @classmethod
    def symbol_similarity(cls, symbols: list[str]):
        """Optional: the domain's own similarity of each symbol pair (len × len, NaN where undefined), or None.

        ``crossdomain analyze`` correlates it with the learned geometry of the mapped tokens' embeddings.
        """
        return None

    def symbol_alphabet(self, records: Iterable[Record]) -> list[str]:
        """The alphabet the token mapping covers: declared, or every symbol seen, sorted."""
        if self.alphabet is not None:
            declared = list(self.alphabet)
            if self.unknown == "replace" and self.unknown_symbol not in declared:
                declared.append(self.unknown_symbol)
            return declared
        return sorted({s for r in records for s in r.symbols})


Adapter._source_sha256 = source_file_sha256(Adapter)
