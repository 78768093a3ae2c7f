import pytest

from crossdomain.adapters import ADAPTERS, AdapterError, UnknownSymbolError
from crossdomain.adapters.music import parse_file, score_parts_to_symbols


def read(adapter_name, path, **options):
    adapter = ADAPTERS.get(adapter_name)(**options)
    return adapter, list(adapter.read({"src": [path]}))


def test_dna_uci_rows_parse(tmp_path):
    path = tmp_path / "tiny.data"
    path.write_text("EI, A-1,  ACGTAC\nN,B-2,\t\tacgtta\n")
    _, records = read("dna", path)
    assert [(r.id, r.label, "".join(r.symbols)) for r in records] == [("A-1", "EI", "ACGTAC"), ("B-2", "N", "ACGTTA")]
    assert records[1].origin.endswith("tiny.data:2")


def test_dna_unknown_symbol_names_file_and_line(tmp_path):
    path = tmp_path / "bad.data"
    path.write_text("EI,A,ACGT\nIE,B,ACXT\n")
    with pytest.raises(UnknownSymbolError, match=r"bad\.data:2: unknown symbol\(s\) \['X'\]"):
        read("dna", path)


def test_dna_replace_policy_counts_every_replacement(tmp_path):
    path = tmp_path / "amb.data"
    path.write_text("EI,A,ACNNT\nIE,B,ACGT\nN,C,RCGS\n")
    adapter, records = read("dna", path, unknown="replace")
    assert ["".join(r.symbols) for r in records] == ["ACNNT", "ACGT", "NCGN"]
    assert adapter.counts["records with replaced symbols"] == 2
    assert adapter.counts["unknown symbol 'N'"] == 2
    assert adapter.counts["unknown symbol 'R'"] == 1
    assert adapter.symbol_alphabet(records) == ["A", "C", "G", "T", "N"]


def test_dna_drop_policy_drops_and_counts(tmp_path):
    path = tmp_path / "amb.data"
    path.write_text("EI,A,ACNT\nIE,B,ACGT\n")
    adapter, records = read("dna", path, unknown="drop")
    assert [r.id for r in records] == ["B"]
    assert adapter.counts["records dropped: unknown symbols"] == 1


def test_malformed_row_is_reported_with_line(tmp_path):
    path = tmp_path / "short.data"
    path.write_text("EI,A,ACGT\nIE ACGT\n")
    with pytest.raises(AdapterError, match=r"short\.data:2: expected 3 comma-separated fields, found 1"):
        read("dna", path)


def test_unknown_reader_option_is_rejected():
    with pytest.raises(AdapterError, match=r"unknown reader option\(s\) \['fromat'\].*Did you mean 'format'"):
        ADAPTERS.get("dna")(fromat="uci")


def test_protein_deeploc_header_gives_location(tmp_path):
    path = tmp_path / "p.fasta"
    path.write_text(">P1 Cell.membrane-M test\nMKV\nLLA\n>P2 Lysosome/Vacuole-U\nMAAW\n")
    _, records = read("protein", path)
    assert [(r.id, r.label, "".join(r.symbols)) for r in records] == [
        ("P1", "Cell.membrane", "MKVLLA"), ("P2", "Lysosome/Vacuole", "MAAW")]
    assert records[1].origin.endswith("p.fasta:4")


def test_protein_bad_header_names_line(tmp_path):
    path = tmp_path / "p.fasta"
    path.write_text(">P1 Nucleus-U\nMKV\n>P2\nMAAW\n")
    with pytest.raises(AdapterError, match=r"p\.fasta:3: expected header"):
        read("protein", path)


def test_protein_modlamp_csv(tmp_path):
    path = tmp_path / "amp.csv"
    path.write_text("3,1,UniProt,AMP\nGLWSK, 1\nMKVA, 0\nKKLL,1\n")
    _, records = read("protein", path, format="modlamp_csv", label_names={"UniProt": "non-AMP"})
    assert [(r.label, "".join(r.symbols)) for r in records] == [("AMP", "GLWSK"), ("non-AMP", "MKVA"), ("AMP", "KKLL")]


def test_protein_modlamp_bad_class_index(tmp_path):
    path = tmp_path / "amp.csv"
    path.write_text("2,1,UniProt,AMP\nGLWSK, 1\nMKVA, 7\n")
    with pytest.raises(AdapterError, match=r"amp\.csv:3: class index '7'"):
        read("protein", path, format="modlamp_csv")


def test_music_symbols_are_pitches_and_rests_without_metadata():
    from music21 import chord, metadata, note, stream

    score = stream.Score()
    score.metadata = metadata.Metadata(title="A Title That Must Not Leak")
    part = stream.Part()
    for element in [note.Note("C4"), note.Rest(), note.Rest(), note.Note("E-4"), chord.Chord(["C4", "G4"]), note.Rest()]:
        part.append(element)
    score.append(part)
    assert score_parts_to_symbols(score) == [["p60", "rest", "p63", "p67"]]


def test_music_abc_opus_gives_one_piece_per_tune(tmp_path):
    path = tmp_path / "two.abc"
    path.write_text("X:1\nT:First\nM:4/4\nK:C\nCDEF|G4|]\n\nX:2\nT:Second\nM:4/4\nK:G\nGABc|d4|]\n")
    pieces = parse_file(str(path))
    assert [p[0] for p in pieces] == [f"{tmp_path.name}/two.abc#0", f"{tmp_path.name}/two.abc#1"]
    assert pieces[0][1] == [["p60", "p62", "p64", "p65", "p67"]]
    assert pieces[1][1] == [["p67", "p69", "p71", "p72", "p74"]]


@pytest.mark.parametrize("corpus_path", ["bach/bwv269.mxl", "palestrina/Agnus_01.krn", "monteverdi/madrigal.3.1.mxl",
                                         "essenFolksong/erk5.abc"])
def test_music_fast_parse_gives_the_same_symbols_as_the_default_parse(corpus_path, tmp_path, monkeypatch):
    """Parsing without music21's pickle cache must not change a single symbol."""
    from pathlib import Path

    from music21 import converter, stream
    from music21 import corpus as m21corpus

    path = Path(m21corpus.__file__).parent / corpus_path
    if not path.exists():
        pytest.skip(f"{corpus_path} not in this music21 corpus")
    default = converter.parse(str(path))
    expected = ([score_parts_to_symbols(s) for s in default.scores] if isinstance(default, stream.Opus)
                else [score_parts_to_symbols(default)])
    fast = [parts for _, parts in parse_file(str(path))]
    assert fast == expected and sum(len(p) for parts in fast for p in parts) > 20


def essen_sample(tmp_path, source: str, numbers: set[int]):
    """The tunes with these X: numbers from an Essen folksong file of music21's corpus, as a small ABC file."""
    from pathlib import Path

    from music21 import corpus as m21corpus

    text = (Path(m21corpus.__file__).parent / "essenFolksong" / source).read_text(encoding="utf-8", errors="replace")
    tunes = ["X:" + tune for tune in text.split("\nX:")[1:]]
    kept = [tune for tune in tunes if int(tune[2:].split("\n", 1)[0].strip()) in numbers]
    path = tmp_path / source
    path.write_text("\n".join(kept))
    return path


def test_abc_token_stream_gives_the_symbols_of_the_full_score_build(tmp_path):
    """Sharps and flats from the key, accidentals carried in a bar, tuplets, chords, grace notes, and measures
    longer than the metre (music21 re-bars them, splitting the crossing note into two tied notes)."""
    from crossdomain.adapters.music import abc_fast_path_applies, parse_abc, parse_with_music21

    han = essen_sample(tmp_path, "han1.abc", set(range(70, 110)))  # X:79 and X:102 have overfull measures
    handmade = tmp_path / "made.abc"
    handmade.write_text("X:1\nM:2/4\nL:1/8\nK:G\nFG ^c2|(3cde f=f|{g}a[ceg]2 z|F3 A2|]\n"
                        "X:2\nM:3/4\nL:1/4\nK:Bb\nB e _e|d3/2 c/ B|[M:2/4] A G F|]\n")
    for path in (han, handmade):
        text = path.read_text()
        assert abc_fast_path_applies(text)
        fast, built = parse_abc(str(path), text), parse_with_music21(str(path))
        assert [piece for piece, _ in fast] == [piece for piece, _ in built]
        assert [parts for _, parts in fast] == [parts for _, parts in built]
    assert len(fast) == 2 and fast[0][1][0][:4] == ["p66", "p67", "p73", "p72"]  # F# G c# then c (bar resets)
    assert fast[0][1][0][-3:] == ["p66", "p69", "p69"]  # F3 A2 overfills 2/4: A is split at the bar line


def test_abc_with_chord_symbols_takes_the_full_score_build(tmp_path, monkeypatch):
    import crossdomain.adapters.music as music

    path = tmp_path / "chords.abc"
    path.write_text('X:1\nM:4/4\nL:1/4\nK:C\n"C"CDEF|"G7"G4|]\n')
    assert not music.abc_fast_path_applies(path.read_text())
    monkeypatch.setattr(music, "parse_abc", lambda *a: pytest.fail("the token stream cannot see chord symbols"))
    assert music.parse_file(str(path))[0][1]
