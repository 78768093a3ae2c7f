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


def abc_voice_symbols(handler) -> list[str]:
    """Pitch/rest symbols of one ABC voice, read from music21's processed tokens.

    The same symbols as building the score and reading it, at a tenth of the cost: music21 makes one
    note, rest or chord per note token (pitches from ``pitchName``), and then re-bars measures longer
    than the time signature, splitting the note that crosses the bar line in two (tied), which reads as
    that pitch twice; :func:`_abc_measure_symbols` does the same.
    """
    from music21 import abcFormat

    bars = abcFormat.mergeLeadingMetaData(handler.splitByMeasure()) if handler.definesMeasures() else [handler]
    use_measures = len(bars) > 1
    bar_length = None  # quarter lengths of the last time signature, as music21's reBar sees it
    symbols: list[str] = []
    for bar in bars:
        events, bar_length = _abc_measure_symbols(bar, bar_length)
        if use_measures and bar.hasNotes() and bar_length is not None:
            events = _split_at_bar_line(events, bar_length)
        for symbol, _ in events:
            if symbol == REST:
                if symbols and symbols[-1] != REST:
                    symbols.append(REST)
            else:
                symbols.append(symbol)
    while symbols and symbols[-1] == REST:
        symbols.pop()
    return symbols


def _abc_measure_symbols(bar, bar_length):
    """(symbol, duration in quarters) of one measure's note tokens, and the time signature in force after it."""
    from music21 import abcFormat, pitch

    events = []
    for token in bar.tokens:
        if isinstance(token, abcFormat.ABCMetadata):
            if token.isMeter():
                signature = token.getTimeSignatureObject()
                if signature is not None:
                    bar_length = signature.barDuration.quarterLength
            continue
        if not isinstance(token, abcFormat.ABCNote):
            continue
        length = 0.0 if token.inGrace else token.quarterLength
        if token.activeTuplet is not None and length:
            length = length * token.activeTuplet.tupletMultiplier()
        if isinstance(token, abcFormat.ABCChord):
            pitches = [pitch.Pitch(sub.pitchName).midi for sub in token.subTokens if isinstance(sub, abcFormat.ABCNote)]
            if not token.subTokens:
                continue
            events.append((f"p{max(pitches)}" if pitches else REST, length))
        elif token.isRest:
            events.append((REST, length))
        else:
            events.append((f"p{pitch.Pitch(token.pitchName).midi}", length))
    return events, bar_length


def _split_at_bar_line(events, bar_length):
    """A measure longer than ``bar_length``: the event that crosses the bar line is split in two."""
    from fractions import Fraction

    limit = Fraction(bar_length).limit_denominator(10_000)
    offset = Fraction(0)
    for index, (symbol, length) in enumerate(events):
        end = offset + Fraction(length).limit_denominator(10_000)
        if offset < limit < end:
            return events[:index + 1] + [(symbol, 0.0)] + events[index + 1:]
        offset = end
    return events


def abc_fast_path_applies(text: str) -> bool:
    """ABC without what changes pitches or adds symbols after tokenising: chord symbols, clefs/transposition."""
    body = "\n".join(line for line in text.splitlines() if not line[1:2] == ":" or line[:1] == "|")
    return '"' not in body and "clef" not in text and "transpose" not in text and "%%MIDI" not in text


def parse_abc(path: str, text: str) -> list[tuple[str, list[list[str]]]]:
    """An ABC file (one tune or an opus) from music21's token stream, pieces in reference-number order."""
    from music21 import abcFormat

    handler = abcFormat.ABCFile().readstr(text)
    name = f"{Path(path).parent.name}/{Path(path).name}"
    if not handler.definesReferenceNumbers():
        return [(name, _abc_parts(handler))]
    pieces = sorted(handler.splitByReferenceNumber().items())
    return [(f"{name}#{index}", _abc_parts(piece)) for index, (_, piece) in enumerate(pieces)]


def _abc_parts(handler) -> list[list[str]]:
    voices = handler.splitByVoice()
    parts = voices if len(voices) == 1 else [voices[0] + voice for voice in voices[1:]]
    return [symbols for symbols in map(abc_voice_symbols, parts) if symbols]


def parse_file(path: str) -> list[tuple[str, list[list[str]]]]:
    """(piece id, per-part symbols) for each piece in a file; an ABC opus holds many pieces.

    ABC files go through music21's token stream (:func:`parse_abc`, identical symbols, ~15× faster) unless
    they use what only the full score build handles (chord symbols, clefs, transposition).
    """
    if path.endswith(".abc"):
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        if abc_fast_path_applies(text):
            try:
                return parse_abc(path, text)
            except Exception as error:  # music21 raises many exception types for bad files
                raise AdapterError(f"{path}: music21 could not read this ABC file: {error}") from error
    return parse_with_music21(path)


def parse_with_music21(path: str) -> list[tuple[str, list[list[str]]]]:
    """Any format music21 reads: build the score, then read its parts."""
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
