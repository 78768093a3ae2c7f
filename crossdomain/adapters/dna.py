"""DNA: one symbol per base, A/C/G/T; IUPAC ambiguity codes follow the unknown policy."""
from __future__ import annotations

from pathlib import Path

from crossdomain.adapters import register_adapter
from crossdomain.adapters.base import Adapter, AdapterError, RawRecord
from crossdomain.adapters.formats import TABLE_OPTIONS, comma_rows, fasta_records, table_records


@register_adapter("dna")
class DNAAdapter(Adapter):
    """Reads UCI molecular-biology files (``CLASS,NAME,SEQUENCE``), FASTA (label = first header word after the id)
    or a CSV ``table`` (see :func:`crossdomain.adapters.formats.table_records`; ``symbol_map: {U: T}`` reads RNA).

    Ambiguity codes (N, D, R, S, ...) are not in the alphabet: with ``unknown: replace`` they all
    become ``N`` (one "unknown base" symbol), with ``drop`` the record is dropped; both are counted.
    """

    alphabet = ("A", "C", "G", "T")
    unknown_symbol = "N"
    accepted_options = ("format", *TABLE_OPTIONS)
    description = "DNA bases A/C/G/T; IUPAC ambiguity codes by policy"

    def read_raw(self, sources: dict[str, list[Path]]):
        fmt = self.options.get("format", "uci")
        for files in sources.values():
            for path in files:
                if fmt == "uci":
                    yield from self._read_uci(path)
                elif fmt == "table":
                    yield from table_records(path, self.options, self.name)
                elif fmt == "fasta":
                    for origin, header, seq in fasta_records(path):
                        parts = header.split()
                        if len(parts) < 2:
                            raise AdapterError(f"{origin}: FASTA header needs '>ID LABEL', got {header!r}")
                        yield RawRecord(parts[0], parts[1], list(seq.upper()), origin)
                else:
                    raise AdapterError(f"adapter 'dna': unknown format {fmt!r}; expected 'uci', 'fasta' or 'table'")

    @classmethod
    def symbol_similarity(cls, symbols):
        """Watson-Crick complementarity: 1 for A-T and C-G, 0 for other pairs of bases, undefined for N."""
        import numpy as np

        pairs = {frozenset("AT"), frozenset("CG")}
        known = set(cls.alphabet)
        return np.array([[float(frozenset((a, b)) in pairs) if a in known and b in known and a != b else np.nan
                          for b in symbols] for a in symbols])

    @staticmethod
    def _read_uci(path: Path):
        for origin, (label, name, sequence) in comma_rows(path, n_fields=3):
            if not sequence:
                raise AdapterError(f"{origin}: empty sequence")
            yield RawRecord(name, label, list(sequence.upper()), origin)
