"""Small readers for the file formats the built-in adapters share."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from crossdomain.adapters.base import AdapterError, RawRecord


def text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file (gzipped or not); a binary or non-UTF-8 file is an error naming the file,
    line and byte."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        import gzip

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise AdapterError(f"{path}: a damaged gzip file ({error})") from None
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
            raise AdapterError(f"{origin}: expected {n_fields} comma-separated fields, found {len(fields)}: "
                               f"{line.strip()[:80]!r}")
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


# -- tables: one row per sequence, with named columns -------------------------------------------------------

TABLE_OPTIONS = ("sequence_column", "target_column", "id_column", "split_column", "split_values",
                 "dev_flag_column", "test_when", "symbol_map")
DEFAULT_SPLIT_VALUES = {"train": "train", "training": "train", "dev": "dev", "valid": "dev", "validation": "dev",
                        "test": "test"}
TRUE_VALUES = ("true", "1", "yes")


def table_records(path: Path, options: dict, adapter: str) -> Iterator[RawRecord]:
    """Raw records from a CSV table (gzipped or not) with a header line.

    Options: ``sequence_column`` (required), ``target_column`` (the class or regression target, required),
    ``id_column`` (default: file stem and line), ``split_column`` with ``split_values`` (its values → train/dev/
    test; common spellings by default), ``dev_flag_column`` (rows marked true there are dev, as FLIP's
    ``validation``), ``test_when: {column, at_least}`` (rows at or above a threshold are test, the rest train, as
    TAPE's fluorescence split by Hamming distance), ``symbol_map`` (e.g. ``{U: T}`` for RNA written as DNA).
    """
    lines = text_lines(path)
    rows = csv.reader(lines)
    header = next(rows, None)
    if not header:
        raise AdapterError(f"{path}:1: expected a header line naming the columns")
    column = _column_finder(path, header, adapter)
    sequence_at, target_at = column(options, "sequence_column"), column(options, "target_column")
    id_at = column(options, "id_column") if "id_column" in options else None
    assign = _split_assigner(path, options, column)
    symbol_map = {str(k): str(v) for k, v in (options.get("symbol_map") or {}).items()}
    for line_no, fields in enumerate(rows, start=2):
        if not fields:
            continue
        origin = f"{path}:{line_no}"
        if len(fields) != len(header):
            raise AdapterError(f"{origin}: expected {len(header)} comma-separated fields (as the header), found "
                               f"{len(fields)}")
        sequence = fields[sequence_at].strip().upper()
        if not sequence:
            raise AdapterError(f"{origin}: empty sequence in column {header[sequence_at]!r}")
        record_id = fields[id_at].strip() if id_at is not None else f"{path.name.split('.')[0]}:{line_no}"
        symbols = [symbol_map.get(symbol, symbol) for symbol in sequence]
        yield RawRecord(record_id, fields[target_at].strip(), symbols, origin, split=assign(fields, origin))


def _column_finder(path: Path, header: list[str], adapter: str):
    def column(options: dict, key: str) -> int:
        name = options.get(key)
        if not name:
            raise AdapterError(f"adapter {adapter!r}: format 'table' needs the reader option {key!r}")
        if name not in header:
            from crossdomain.registry import did_you_mean

            raise AdapterError(f"{path}:1: no column {name!r} (reader option {key!r}); the header has "
                               f"{header}.{did_you_mean(name, header)}")
        return header.index(name)
    return column


def _split_assigner(path: Path, options: dict, column):
    """fields → "train" | "dev" | "test" | "" from the split options."""
    split_at = column(options, "split_column") if "split_column" in options else None
    values = {str(k): v for k, v in (options.get("split_values") or DEFAULT_SPLIT_VALUES).items()}
    bad_roles = sorted({v for v in values.values() if v not in ("train", "dev", "test")})
    if bad_roles:
        raise AdapterError(f"reader option split_values maps to {bad_roles}; expected train, dev or test")
    flag_at = column(options, "dev_flag_column") if "dev_flag_column" in options else None
    threshold = options.get("test_when")
    if threshold is not None:
        if not isinstance(threshold, dict) or set(threshold) != {"column", "at_least"}:
            raise AdapterError(f"reader option test_when must be {{column: NAME, at_least: NUMBER}}, got {threshold!r}")
        threshold_at = column(threshold, "column")

    def assign(fields: list[str], origin: str) -> str:
        role = ""
        if split_at is not None:
            raw = fields[split_at].strip()
            if raw not in values:
                raise AdapterError(f"{origin}: split value {raw!r} in column {options['split_column']!r} is not one of "
                                   f"{sorted(values)} (map it with the reader option split_values)")
            role = values[raw]
        if threshold is not None:
            role = "test" if _number(fields[threshold_at], origin, threshold["column"]) >= threshold["at_least"] \
                else "train"
        if flag_at is not None and fields[flag_at].strip().lower() in TRUE_VALUES:
            if role == "test":
                raise AdapterError(f"{origin}: a test row is flagged in {options['dev_flag_column']!r} as dev")
            role = "dev"
        return role
    return assign


def _number(text: str, origin: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise AdapterError(f"{origin}: column {column!r} holds {text!r}; expected a number") from None
