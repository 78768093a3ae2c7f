"""Proteins: one symbol per residue, the 20 amino acids plus X/B/Z/U/O."""
from __future__ import annotations

from pathlib import Path

from crossdomain.adapters import register_adapter
from crossdomain.adapters.base import Adapter, AdapterError, RawRecord
from crossdomain.adapters.formats import TABLE_OPTIONS, comma_rows, fasta_records, table_records, text_lines


@register_adapter("protein")
class ProteinAdapter(Adapter):
    """Reads DeepLoc-style FASTA (``>ACCESSION Location-M [test]``) or a modlamp CSV.

    ``format: deeploc_fasta`` takes the label from the header's location (the ``-M/-S/-U``
    membrane suffix and any ``test`` tag are ignored: the harness makes its own split).
    ``format: modlamp_csv`` reads ``SEQUENCE, CLASS_INDEX`` rows after modlamp's header line
    ``N,FEATURES,NAME0,NAME1``; ``label_names`` (optional) renames the class names.
    ``format: table`` reads a CSV with named columns (:func:`crossdomain.adapters.formats.table_records`).
    """

    alphabet = tuple("ACDEFGHIKLMNPQRSTVWY") + ("X", "B", "Z", "U", "O")
    unknown_symbol = "X"
    accepted_options = ("format", "label_names", *TABLE_OPTIONS)
    description = "amino acids (20 standard + X/B/Z/U/O)"

    def read_raw(self, sources: dict[str, list[Path]]):
        fmt = self.options.get("format", "deeploc_fasta")
        readers = {"deeploc_fasta": self._read_deeploc, "modlamp_csv": self._read_modlamp,
                   "table": lambda path: table_records(path, self.options, self.name)}
        if fmt not in readers:
            raise AdapterError(f"adapter 'protein': unknown format {fmt!r}; expected one of {sorted(readers)}")
        for files in sources.values():
            for path in files:
                yield from readers[fmt](path)

    @staticmethod
    def _read_deeploc(path: Path):
        for origin, header, seq in fasta_records(path):
            parts = header.split()
            if len(parts) < 2 or "-" not in parts[1]:
                raise AdapterError(f"{origin}: expected header '>ACCESSION Location-M [test]', got {header!r}")
            location = parts[1].rsplit("-", 1)[0]
            yield RawRecord(parts[0], location, list(seq.upper()), origin)

    @classmethod
    def symbol_similarity(cls, symbols):
        """BLOSUM62 substitution scores (Biopython), undefined for symbols the matrix lacks."""
        import numpy as np
        from Bio.Align import substitution_matrices

        blosum = substitution_matrices.load("BLOSUM62")
        letters = set(blosum.alphabet)
        return np.array([[float(blosum[a][b]) if a in letters and b in letters else np.nan for b in symbols]
                         for a in symbols])

    def _read_modlamp(self, path: Path):
        lines = text_lines(path)
        header = lines[0].strip().split(",") if lines else []
        if len(header) < 4:
            raise AdapterError(f"{path}:1: expected modlamp header 'N,FEATURES,CLASS0,CLASS1', got {','.join(header)!r}")
        class_names = header[2:]
        renames = self.options.get("label_names") or {}
        for origin, (sequence, class_index) in comma_rows(path, n_fields=2, skip_header=True):
            if not class_index.isdigit() or int(class_index) >= len(class_names):
                raise AdapterError(f"{origin}: class index {class_index!r} is not one of 0..{len(class_names) - 1}")
            name = class_names[int(class_index)]
            yield RawRecord(f"{path.stem}:{origin.rsplit(':', 1)[1]}", renames.get(name, name), list(sequence.upper()), origin)
