"""The task suite: checksums, label order, de-duplication, leak-free deterministic splits, real counts."""
import json
import shutil

import pytest

from crossdomain.adapters import AdapterError
from crossdomain.data.prepare import prepare_task
from crossdomain.data.sources import SourceError
from crossdomain.data.tasks import available_tasks, get_task, load_task_file
from tests.conftest import write_task

SPLICE_SHA = "ebbae10c85d3c285e2a2489a37e42bc2ee8d91d15005e391a9962fa3389a114f"


def tiny_task(tmp_path, rows: str, labels="[N, EI, IE]", split="{kind: stratified, ratios: [0.6, 0.2, 0.2], seed: 1}",
              sha=None):
    data = tmp_path / "mirror" / "tiny" / "rows.data"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text(rows)
    if sha is None:
        import hashlib

        sha = hashlib.sha256(data.read_bytes()).hexdigest()
    path = write_task(tmp_path / "tasks", "dna/tiny", f"""
name: dna/tiny
adapter: dna
version: "1"
description: test task
labels: {labels}
sources: [{{name: rows, path: tiny/rows.data, sha256: "{sha}"}}]
unknown: replace
split: {split}
""")
    return load_task_file(path), str(tmp_path / "mirror")


def rows(n_per_class=10):
    import random

    rng = random.Random(0)
    lines = []
    for label in ("EI", "IE", "N"):
        for i in range(n_per_class):
            lines.append(f"{label},{label}-{i},{''.join(rng.choice('ACGT') for _ in range(12))}")
    return "\n".join(lines) + "\n"


def test_label_order_comes_from_the_definition(tmp_path):
    task, mirror = tiny_task(tmp_path, rows())
    data = prepare_task(task, (mirror,), use_cache=False)
    first = data.records[0]
    assert first.label == "EI" and data.label_ids[0] == 1  # file order is EI first, the definition says N, EI, IE
    assert list(data.stats["class_counts"]) == ["N", "EI", "IE"]


def test_undeclared_label_names_the_line(tmp_path):
    task, mirror = tiny_task(tmp_path, rows() + "XX,bad,ACGT\n")
    with pytest.raises(AdapterError, match=r"rows\.data:31: label 'XX' is not declared.*\['N', 'EI', 'IE'\]"):
        prepare_task(task, (mirror,), use_cache=False)


def test_dedup_drops_conflicts_and_counts(tmp_path):
    extra = "EI,dup1,ACGTACGTACGT\nEI,dup2,ACGTACGTACGT\nN,conf1,TTTTAAAACCCC\nIE,conf2,TTTTAAAACCCC\n"
    task, mirror = tiny_task(tmp_path, rows() + extra)
    data = prepare_task(task, (mirror,), use_cache=False)
    assert data.stats["dropped"] == {"duplicate sequence": 1, "conflicting labels": 2}
    sequences = ["".join(r.symbols) for r in data.records]
    assert sequences.count("ACGTACGTACGT") == 1 and "TTTTAAAACCCC" not in sequences


def test_checksum_mismatch_names_task_file_and_places(tmp_path, monkeypatch):
    task, mirror = tiny_task(tmp_path, rows(), sha="0" * 64)
    monkeypatch.setenv("CROSSDOMAIN_DATA", str(mirror))  # a mirror from the environment: other places are tried too
    with pytest.raises(SourceError) as error:
        prepare_task(task, (), use_cache=False)
    message = str(error.value)
    assert "task 'dna/tiny'" in message and "'rows'" in message and "sha256" in message and "does not match" in message
    assert f"mirror:{mirror}/tiny/rows.data" in message and "cache:" in message


def test_corrupted_real_mirror_copy_is_refused(tmp_path, mirror, monkeypatch):
    import crossdomain.data.sources as sources

    copy = tmp_path / "corrupt" / "uci_splice" / "splice.data"
    copy.parent.mkdir(parents=True)
    shutil.copy(mirror / "uci_splice" / "splice.data", copy)
    with open(copy, "r+b") as handle:
        handle.seek(100)
        handle.write(b"X")
    monkeypatch.setattr(sources, "mirror_dirs", lambda extra=(): [(tmp_path / "corrupt", False)])
    monkeypatch.setattr(sources, "_download", lambda url, target: (_ for _ in ()).throw(OSError("no network")))
    with pytest.raises(SourceError, match=r"task 'dna/splice': source file 'splice.data' has a sha256 mismatch") as error:
        sources.resolve_source("dna/splice", get_task("dna/splice").sources[0])
    assert f"mirror:{copy}: sha256" in str(error.value)


def test_missing_file_lists_every_place(tmp_path, monkeypatch):
    import crossdomain.data.sources as sources

    monkeypatch.setattr(sources, "mirror_dirs", lambda extra=(): [(tmp_path / "empty", False)])
    spec = get_task("dna/splice").sources[0]
    monkeypatch.setattr(sources, "_download", lambda url, target: (_ for _ in ()).throw(OSError("no network")))
    with pytest.raises(SourceError) as error:
        sources.resolve_source("dna/splice", spec)
    message = str(error.value)
    assert "was not found" in message and "empty/uci_splice/splice.data: not found" in message
    assert "download failed (OSError: no network)" in message


def test_group_split_keeps_pieces_together_and_is_deterministic():
    from crossdomain.data.splits import make_folds
    from crossdomain.data.tasks import SplitPolicy

    labels = [i % 2 for i in range(200)]
    groups = [f"piece{i // 5}" for i in range(200)]
    policy = SplitPolicy(kind="group", ratios=[0.8, 0.1, 0.1], seed=3)
    fold = make_folds(policy, labels, groups)[0]
    parts = [{groups[i] for i in split} for split in (fold.train, fold.dev, fold.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sorted(fold.train + fold.dev + fold.test) == list(range(200))
    assert make_folds(policy, labels, groups) == make_folds(policy, labels, groups)


def test_kfold_test_parts_cover_every_row_once_per_repeat():
    from crossdomain.data.splits import make_folds
    from crossdomain.data.tasks import SplitPolicy

    labels = [i % 2 for i in range(50)]
    folds = make_folds(SplitPolicy(kind="kfold", folds=5, repeats=2, seed=0), labels, [str(i) for i in range(50)])
    assert len(folds) == 10
    for repeat in range(2):
        tests = [i for f in folds[repeat * 5:(repeat + 1) * 5] for i in f.test]
        assert sorted(tests) == list(range(50))
    for fold in folds:
        assert not set(fold.train) & set(fold.test) and not set(fold.dev) & set(fold.test)


def assert_leak_free(data):
    for fold in data.folds:
        seen = {}
        for name in ("train", "dev", "test"):
            for i in getattr(fold, name):
                key = tuple(data.records[i].symbols)
                assert seen.setdefault(key, name) == name, f"{data.task.name}: a sequence is in {seen[key]} and {name}"
        groups = [{data.records[i].group for i in getattr(fold, name)} for name in ("train", "dev", "test")]
        assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])


# -- the real mirror: counts from ../shared/data/README.md and the PROVENANCE files -----------------

EXPECTED = {
    # task: (raw rows, rows kept, class counts)
    "dna/splice": (3190, 3004, {"EI": 679, "IE": 672, "N": 1653}),
    "dna/promoters": (106, 106, {"+": 53, "-": 53}),
    "protein/localization": (5959, 5959, {"Nucleus": 837, "Cytoplasm": 1411, "Extracellular": 843, "Mitochondrion": 510,
                                          "Cell.membrane": 1238, "Endoplasmic.reticulum": 198, "Plastid": 449,
                                          "Golgi.apparatus": 150, "Lysosome/Vacuole": 166, "Peroxisome": 157}),
    "protein/amp": (5200, 4620, {"AMP": 2540, "non-AMP": 2080}),
}


@pytest.mark.mirror
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_task_counts_and_leakage(name, mirror):
    raw, kept, classes = EXPECTED[name]
    data = prepare_task(name, (str(mirror),))
    assert data.stats["raw_rows"] == raw
    assert data.stats["rows"] == kept
    assert data.stats["class_counts"] == classes
    assert_leak_free(data)
    again = prepare_task(name, (str(mirror),))
    assert again.folds == data.folds


@pytest.mark.mirror
def test_splice_drops_are_those_the_mirror_readme_describes(mirror):
    stats = prepare_task("dna/splice", (str(mirror),)).stats
    # 185 rows repeat an earlier sequence; one repeated sequence carries two labels, so both its rows go
    assert stats["dropped"] == {"duplicate sequence": 184, "conflicting labels": 2}
    assert stats["adapter_counts"]["records with replaced symbols"] == 15
    assert stats["length_before_segmenting"] == {"min": 60, "median": 60, "max": 60}


@pytest.mark.slow
@pytest.mark.parametrize("name,raw,classes", [
    ("music/region", 3005, {"China": 1567, "Germany": 1810}),
    ("music/composer", 8313, {"Bach": 1785, "Palestrina": 8474, "Monteverdi": 384}),
])
def test_music_tasks_from_the_music21_corpus(name, raw, classes):
    data = prepare_task(name)
    assert data.stats["raw_rows"] == raw
    assert data.stats["class_counts"] == classes
    assert data.stats["length"]["max"] <= get_task(name).length.segment
    assert_leak_free(data)


def test_every_builtin_task_definition_loads():
    assert set(available_tasks()) >= {"dna/splice", "dna/promoters", "protein/localization", "protein/amp",
                                      "music/composer", "music/region"}
    assert {"protein/fluorescence", "protein/gb1", "dna/splice-activity"} <= set(available_tasks())
    for name in available_tasks():
        task = get_task(name)
        assert (task.type == "regression" and not task.labels and task.primary_metric == "spearman") or \
            (task.type == "classification" and len(task.labels) >= 2), name


@pytest.mark.mirror
def test_datasets_command_prints_counts_as_table_and_json(mirror, capsys):
    from crossdomain.cli import main

    main(["datasets", "--tasks", "dna/splice", "dna/promoters", "--data-dir", str(mirror)])
    table = capsys.readouterr().out
    splice_row = next(line for line in table.splitlines() if "dna/splice" in line)
    assert "3190" in splice_row and "duplicate sequence: 184" in splice_row and "2402/301/301" in splice_row
    assert "10 folds" in next(line for line in table.splitlines() if "dna/promoters" in line)
    main(["datasets", "--tasks", "dna/splice", "--json", "--data-dir", str(mirror)])
    (splice,) = json.loads(capsys.readouterr().out)
    assert splice["dropped"]["conflicting labels"] == 2 and splice["class_counts"]["N"] == 1653
