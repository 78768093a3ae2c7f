"""Small readers for the file formats the built-in adapters share."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from crossdomain.adapters.base import AdapterError


def text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; a binary or non-UTF-8 file is an error naming the file, line and byte."""
    data = Path(path).read_bytes()
    nul = data.find(b"\x00", 0, 8192)
    if nul >= 0:
        raise AdapterError(f"{path}: binary file (NUL byte at offset {nul}); expected UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise AdapterError(f"{path}:{line}: not UTF-8 text (byte {error.start}: {data[error.start:error.start + 4]!r}); "
                           "expected UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # as open()'s universal newlines


def comma_rows(path: Path, n_fields: int, skip_header: bool = False) -> Iterator[tuple[str, list[str]]]:
    """Yield ("file:line", stripped fields) for each non-empty line of a comma-separated file."""
    for line_no, line in enumerate(text_lines(path), start=1):
        if skip_header and line_no == 1 or not line.strip():
            continue
        fields = [f.strip() for f in line.rstrip("\n").split(",")]
        origin = f"{path}:{line_no}"
        if len(fields) != n_fields:
            raise AdapterError(f"{origin}: expected {n_fields} comma-separated fields, found {len(fields)}: {line.strip()[:80]!r}")
        yield origin, fields


def fasta_records(path: Path) -> Iterator[tuple[str, str, str]]:
    """Yield ("file:line", header description, sequence) with Biopython's FASTA parser."""
    from Bio import SeqIO

    header_lines = _header_line_numbers(path)
    for index, record in enumerate(SeqIO.parse(str(path), "fasta")):
        origin = f"{path}:{header_lines[index] if index < len(header_lines) else '?'}"
        if not record.seq:
            raise AdapterError(f"{origin}: FASTA record {record.id!r} has an empty sequence")
        yield origin, record.description, str(record.seq)
    if not header_lines:
        raise AdapterError(f"{path}: no FASTA records found (expected lines starting with '>')")


def _header_line_numbers(path: Path) -> list[int]:
    return [n for n, line in enumerate(text_lines(path), start=1) if line.startswith(">")]
