"""Music: scores parsed with music21 become pitch sequences, one sequence per voice.

Choices (documented in the README):
* every part (voice) of a score is its own sequence; all voices of a piece share a group,
  so a piece never straddles train/dev/test;
* a note is its MIDI pitch number (``p60`` = middle C), so enharmonic spellings coincide;
  a chord is its highest pitch; consecutive rests collapse to one ``rest`` symbol;
* durations, ties, dynamics and all metadata (titles, keys, ABC headers) are not symbols.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from crossdomain.adapters import register_adapter
from crossdomain.adapters.base import Adapter, AdapterError, RawRecord

REST = "rest"


def score_parts_to_symbols(score) -> list[list[str]]:
    """Pitch/rest symbols of each part of a music21 score (a part-less stream counts as one part)."""
    parts = list(score.parts) or [score]
    sequences = []
    for part in parts:
        symbols: list[str] = []
        for element in part.recurse().notesAndRests:
            if element.isRest:
                if symbols and symbols[-1] != REST:
                    symbols.append(REST)
            elif element.isChord:
                symbols.append(f"p{max(p.midi for p in element.pitches)}")
            elif hasattr(element, "pitch"):
                symbols.append(f"p{element.pitch.midi}")
        while symbols and symbols[-1] == REST:
            symbols.pop()
        if symbols:
            sequences.append(symbols)
    return sequences


def parse_file(path: str) -> list[tuple[str, list[list[str]]]]:
    """(piece id, per-part symbols) for each piece in a file; an ABC opus holds many pieces."""
    from music21 import converter, stream

    try:
        # from the file itself, without music21's own pickle cache: reading it would trust pickles in a shared
        # temporary folder, and writing it freezes and re-thaws every score (about as slow as parsing it)
        parsed = converter.parse(path, forceSource=True, storePickle=False)
    except Exception as error:  # music21 raises many exception types for bad files
        raise AdapterError(f"{path}: music21 could not parse this score: {error}") from error
    name = f"{Path(path).parent.name}/{Path(path).name}"
    if isinstance(parsed, stream.Opus):
        return [(f"{name}#{i}", score_parts_to_symbols(score)) for i, score in enumerate(parsed.scores)]
    return [(name, score_parts_to_symbols(parsed))]


@register_adapter("music")
class MusicAdapter(Adapter):
    """Reader option ``label_by_source`` maps each source name to the label of its pieces."""

    alphabet = None  # pitches seen in the data
    accepted_options = ("label_by_source", "workers")
    description = "music21 scores → MIDI-pitch/rest symbols, one sequence per voice"

    @classmethod
    def symbol_similarity(cls, symbols):
        """Minus the distance in semitones between two pitches (p60 vs p64: -4); undefined for rests."""
        import numpy as np

        midi = [int(s[1:]) if s.startswith("p") and s[1:].isdigit() else None for s in symbols]
        return np.array([[-abs(a - b) if a is not None and b is not None else np.nan for b in midi] for a in midi],
                        dtype=float)

    def read_raw(self, sources: dict[str, list[Path]]):
        label_by_source = self.options.get("label_by_source") or {}
        missing = sorted(set(sources) - set(label_by_source))
        if missing:
            raise AdapterError(f"adapter 'music': reader option label_by_source has no label for source(s) {missing}")
        jobs = [(label_by_source[name], str(path)) for name, files in sources.items() for path in files]
        workers = int(self.options.get("workers") or min(len(jobs), os.cpu_count() or 1, 8))
        with ProcessPoolExecutor(max_workers=max(workers, 1)) as pool:
            for (label, path), pieces in zip(jobs, pool.map(parse_file, [p for _, p in jobs], chunksize=4)):
                for piece_id, parts in pieces:
                    for part_index, symbols in enumerate(parts):
                        yield RawRecord(f"{piece_id}/part{part_index}", label, symbols, f"{path}#{piece_id}", group=piece_id)
