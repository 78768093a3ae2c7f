"""Bad input gets a clear error naming what is wrong, the right exit code, and no work done first."""
import gzip
import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from crossdomain.adapters import AdapterError
from crossdomain.cli import main
from tests.conftest import write_task

REPO = Path(__file__).resolve().parents[1]


def motif_task(tmp_path: Path, n: int = 240, name: str = "synthetic/motif") -> Path:
    """A task with an unmistakable signal: 'yes' sequences contain the base G, 'no' sequences never do."""
    rng = random.Random(0)
    lines = []
    for i in range(n):
        label = "yes" if i % 2 else "no"
        bases = [rng.choice("ACT") for _ in range(24)]
        if label == "yes":
            for position in rng.sample(range(24), 3):
                bases[position] = "G"
        lines += [f">s{i} {label}", "".join(bases)]
    data = tmp_path / "mirror" / "motif.fa"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("\n".join(lines) + "\n")
    write_task(tmp_path / "tasks", name, f"""
name: {name}
adapter: dna
version: "1"
description: class is whether the base G occurs
labels: ["no", "yes"]
reader: {{format: fasta}}
sources: [{{name: motif, path: motif.fa, sha256: "{hashlib.sha256(data.read_bytes()).hexdigest()}"}}]
split: {{kind: stratified, ratios: [0.7, 0.15, 0.15], seed: 0}}
primary_metric: accuracy
""")
    return tmp_path


@pytest.fixture
def synthetic(tmp_path, monkeypatch):
    from crossdomain.data import prepare_task_cached
    from crossdomain.tasks import get_task

    root = motif_task(tmp_path)
    monkeypatch.setenv("CROSSDOMAIN_TASKS", str(root / "tasks"))
    monkeypatch.setenv("CROSSDOMAIN_DATA", str(root / "mirror"))
    get_task.cache_clear()
    prepare_task_cached.cache_clear()
    yield root
    get_task.cache_clear()
    prepare_task_cached.cache_clear()


def test_the_harness_learns_a_task_with_an_unmistakable_signal_in_both_arms(synthetic):
    """A harness that silently trained nothing would fail here (the smoke tasks stay at MCC 0 on the tiny model)."""
    out = synthetic / "run"
    assert main(["run", "--suite", "smoke", "--tasks", "synthetic/motif", "--seeds", "0", "--out", str(out),
                 "--no-progress", "--no-report", "--set", "train.max_steps=40", "--set", "train.eval_every=20",
                 "--set", "train.lr=3e-3"]) == 0
    results = pd.read_csv(out / "results.csv").set_index("init")
    assert set(results.index) == {"pretrained", "random"}
    for arm in ("pretrained", "random"):
        assert results.loc[arm, "accuracy"] >= 0.9, (arm, results.loc[arm, "accuracy"])


def test_run_exits_non_zero_with_a_one_line_summary_when_units_fail(synthetic, capsys, monkeypatch):
    import crossdomain.pipeline as pipeline

    monkeypatch.setattr(pipeline, "train", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("out of luck")))
    out = synthetic / "failing"
    code = main(["run", "--suite", "smoke", "--tasks", "synthetic/motif", "--seeds", "0", "--out", str(out),
                 "--no-progress", "--set", "train.max_steps=2", "--executor", "sequential"])  # patched in-process
    err = capsys.readouterr().err
    assert code == 1
    assert "2 of 2 units failed" in err and "RuntimeError: out of luck" in err and "Traceback" not in err
    assert not (out / "report").exists()  # nothing finished, so no report (and no traceback from it)
    assert main(["report", str(out)]) == 1
    assert "no finished main-grid units" in capsys.readouterr().err


def test_a_typo_is_reported_without_importing_torch():
    code = ("import sys; from crossdomain.cli import main; rc = main(['run', '--suite', 'smoke', '--inits', 'randon']); "
            "print(rc, 'torch' in sys.modules, 'transformers' in sys.modules, 'pandas' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.split() == ["2", "False", "False", "False"], result.stderr
    assert "Did you mean 'random'" in result.stderr


def test_command_line_override_wins_over_the_suites_per_task_values(capsys):
    import yaml

    assert main(["run", "--suite", "quick", "--show-config", "--set", "train.max_steps=400"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)  # valid YAML only on stdout
    assert {task: train["max_steps"] for task, train in config["effective_train"].items()} == \
        {task: 400 for task in config["tasks"]}
    assert config["effective_train"]["dna/promoters"]["batch_size"] == 8  # the suite's other per-task values stay


@pytest.mark.parametrize("make_bad, message", [
    (lambda p: p.write_text("a file") and p, "is a file, not a folder"),
    (lambda p: Path("/proc/crossdomain-out"), "not writable"),  # not even root can create folders in /proc
])
def test_a_bad_out_folder_is_refused_before_any_training(tmp_path, capsys, make_bad, message, monkeypatch):
    import crossdomain.units as units

    monkeypatch.setattr(units, "run_unit", lambda *a: pytest.fail("a unit started"))
    out = make_bad(tmp_path / "out")
    assert main(["run", "--suite", "smoke", "--out", str(out), "--no-progress", "--executor", "sequential"]) == 2
    assert message in capsys.readouterr().err


def test_report_refuses_an_unknown_metric_and_an_empty_folder(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--metric", "macro-f1"]) == 2
    assert "--metric 'macro-f1' is not a metric. Did you mean 'macro_f1'" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no units/ folder" in capsys.readouterr().err


def test_report_skips_a_stray_file_in_units_with_a_warning(tmp_path):
    from tests.test_report import write_unit
    from crossdomain.report import write_report

    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    write_unit(units, "dna/splice", "pretrained", 0, 0.8)
    (units / "notes.json").write_text('{"my": "notes"}')
    with pytest.warns(UserWarning, match=r"notes\.json: not a crossdomain unit record"):
        write_report([tmp_path / "run"], tmp_path / "report")


def test_a_truncated_unit_file_is_named_in_the_report_and_warned_in_one_clean_line(tmp_path, capsys):
    from tests.test_report import write_unit

    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    write_unit(units, "dna/splice", "pretrained", 0, 0.8)
    truncated = units / f"{write_unit(units, 'dna/splice', 'random', 0, 0.7)}.json"
    truncated.write_text(truncated.read_text()[:50])
    assert main(["report", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"crossdomain report: warning: {truncated}: unreadable unit record")
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    section = report.split("## Files in units/ that are not unit records")[1].split("##")[0]
    assert f"- {truncated}: unreadable unit record (JSONDecodeError" in section


# -- data files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("content, message", [
    (b"EI,  ATT-1, ACGT\n\x00\x01binary", r"binary file \(NUL byte at offset 17\)"),
    (b"EI,  ATT-1, ACGT\nIE, ATT-2, AC\xff\xfeGT\n", r"bad\.data:2: not UTF-8 text \(byte 30"),
])
def test_binary_and_non_utf8_files_are_named_with_line_and_byte(tmp_path, content, message):
    from crossdomain.adapters.dna import DNAAdapter

    path = tmp_path / "bad.data"
    path.write_bytes(content)
    with pytest.raises(AdapterError, match=message):
        list(DNAAdapter().read({"x": [path]}))


def test_split_ratios_of_the_wrong_length_name_the_file(tmp_path):
    from crossdomain.config import ConfigError
    from crossdomain.tasks import load_task_file

    path = write_task(tmp_path, "dna/odd", """
name: dna/odd
adapter: dna
version: "1"
description: two ratios
labels: [a, b]
sources: [{name: x, path: x.fa, sha256: "0"}]
split: {kind: stratified, ratios: [0.8, 0.2]}
""")
    with pytest.raises(ConfigError, match=r"odd\.yaml: split\.ratios must be three positive"):
        load_task_file(path)
    path.write_text(path.read_text().replace("[0.8, 0.2]", "[0.8, 0.1, 0.1]").replace("x.fa", "../../etc/passwd"))
    with pytest.raises(ConfigError, match=r"path '\.\./\.\./etc/passwd' must be relative, without '\.\.'"):
        load_task_file(path)
    path.write_text(path.read_text().replace("../../etc/passwd", "x.fa").replace("adapter: dna", "adapter: dan"))
    with pytest.raises(ConfigError, match=r"adapter 'dan' is not registered\. Did you mean 'dna'"):
        load_task_file(path)


def test_a_class_too_small_to_split_is_named(tmp_path, monkeypatch):
    from crossdomain.data import prepare_task
    from crossdomain.tasks import get_task

    root = motif_task(tmp_path)
    data = root / "mirror" / "motif.fa"
    data.write_text("".join(f">n{i} no\nACACACTT\n" for i in range(40)) + ">y0 yes\nACGGGT\n")
    task_file = root / "tasks" / "synthetic" / "motif.yaml"
    old = task_file.read_text().split('sha256: "')[1].split('"')[0]
    task_file.write_text(task_file.read_text().replace(old, hashlib.sha256(data.read_bytes()).hexdigest()))
    monkeypatch.setenv("CROSSDOMAIN_TASKS", str(root / "tasks"))
    monkeypatch.setenv("CROSSDOMAIN_DATA", str(root / "mirror"))
    get_task.cache_clear()
    try:
        with pytest.raises(AdapterError, match=r"motif\.yaml: cannot make the stratified split.*'yes': 1"):
            prepare_task("synthetic/motif", use_cache=False)
    finally:
        get_task.cache_clear()


def test_ids_seen_with_two_sequences_are_counted_and_dropped(synthetic):
    from crossdomain.data import prepare_task
    from crossdomain.tasks import get_task

    data = synthetic / "mirror" / "motif.fa"
    data.write_text(data.read_text() + ">s0 no\nACACACACACACACACACACACAC\n")
    task_file = synthetic / "tasks" / "synthetic" / "motif.yaml"
    old = task_file.read_text().split('sha256: "')[1].split('"')[0]
    task_file.write_text(task_file.read_text().replace(old, hashlib.sha256(data.read_bytes()).hexdigest()))
    get_task.cache_clear()
    prepared = prepare_task("synthetic/motif", use_cache=False)
    assert prepared.stats["ids_with_different_sequences"] == 1
    assert prepared.stats["dropped"]["same id, different sequences"] == 2
    assert "s0" not in {r.id for r in prepared.records}


# -- data resolution ---------------------------------------------------------------------------------------


def test_datasets_checksums_prints_what_a_new_definition_needs(synthetic, capsys):
    assert main(["datasets", "--checksums", "--tasks", "synthetic/motif"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    data = synthetic / "mirror" / "motif.fa"
    assert rows[1][:4] == ["synthetic/motif", "motif", hashlib.sha256(data.read_bytes()).hexdigest(), "matches"]


def test_an_explicit_data_dir_must_exist(capsys):
    assert main(["datasets", "--data-dir", "/nonexistent/mirror"]) == 2
    assert "--data-dir /nonexistent/mirror: does not exist" in capsys.readouterr().err


def test_a_corrupt_copy_in_an_explicit_data_dir_is_an_error_naming_both_checksums(synthetic, tmp_path):
    from crossdomain.sources import SourceError, resolve_source
    from crossdomain.tasks import get_task

    explicit = tmp_path / "explicit"
    (explicit).mkdir()
    (explicit / "motif.fa").write_text(">s0 no\nACGT\n")
    spec = get_task("synthetic/motif").sources[0]
    with pytest.raises(SourceError, match=rf"motif\.fa has sha256 [0-9a-f]{{64}}, expected {spec.sha256}"):
        resolve_source("synthetic/motif", spec, (str(explicit),))


def test_a_download_is_announced_verified_confined_and_a_bad_one_deleted(tmp_path, monkeypatch, capsys):
    import crossdomain.sources as sources
    from crossdomain.sources import SourceError, SourceSpec, resolve_source

    payload = b">s0 no\nACGT\n"
    served = {"body": payload}

    class Response:
        def __init__(self, url, timeout):
            self.body = served["body"]

        def __enter__(self):
            import io

            return io.BytesIO(self.body)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(sources.urllib.request, "urlopen", Response)
    monkeypatch.setattr(sources, "mirror_dirs", lambda extra=(): [])
    spec = SourceSpec("motif", hashlib.sha256(payload).hexdigest(), path="dl/motif.fa", url="https://example.org/m.fa")
    resolved = resolve_source("t", spec)
    err = capsys.readouterr().err
    assert "downloading https://example.org/m.fa" in err and f"downloaded {len(payload)} bytes" in err
    assert resolved.files[0].read_bytes() == payload and resolved.location == "url:https://example.org/m.fa"
    served["body"] = b"tampered"
    resolved.files[0].unlink()
    with pytest.raises(SourceError, match="downloaded sha256 .* does not match"):
        resolve_source("t", spec)
    assert not list((resolved.files[0].parent).iterdir())  # the rejected file was deleted
    with pytest.raises(SourceError, match="leaves the cache folder"):
        sources.cache_target(SourceSpec("x", "0", path="../../outside"))


# -- cache: no pickle, rebuilt when corrupt, keyed by the adapter's code -------------------------------------


def test_records_cache_is_json_and_a_corrupt_one_is_rebuilt(synthetic, monkeypatch):
    from crossdomain.data import prepare_task
    from crossdomain.sources import cache_dir

    monkeypatch.setenv("CROSSDOMAIN_CACHE", str(synthetic / "cache"))
    first = prepare_task("synthetic/motif")
    cached = list((cache_dir() / "records").glob("synthetic-motif-*.jsonl.gz"))
    assert len(cached) == 1
    with gzip.open(cached[0], "rt") as handle:
        assert json.loads(handle.readline())["records"] == len(first.records)
    cached[0].write_bytes(gzip.compress(b'{"format": 1, "counts": {}, "alphabet": [], "records": 5}\n[1, 2'))
    with pytest.warns(UserWarning, match="corrupt records cache"):
        again = prepare_task("synthetic/motif")
    assert [r.symbols for r in again.records] == [r.symbols for r in first.records]


def test_the_cache_key_covers_the_adapters_code(tmp_path, monkeypatch):
    from crossdomain.adapters import ADAPTERS
    from crossdomain.adapters.dna import DNAAdapter
    from crossdomain.data import adapter_code_sha256

    # the edited copy registers itself as "dna" again: in a scratch registry, since a second "dna" is refused
    monkeypatch.setattr(ADAPTERS, "_entries", {k: v for k, v in ADAPTERS._entries.items() if k != "dna"})

    before = adapter_code_sha256(DNAAdapter)
    source = tmp_path / "edited_dna.py"
    source.write_text(Path(sys.modules[DNAAdapter.__module__].__file__).read_text() + "\n# edited\n")
    import importlib.util

    spec = importlib.util.spec_from_file_location("edited_dna", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    edited = adapter_code_sha256(module.DNAAdapter)
    assert edited != before
    source.write_text(source.read_text() + "# edited again while the class is loaded\n")
    assert adapter_code_sha256(module.DNAAdapter) == edited  # the key is of the code that runs, not the file now


# -- files, plugins, packaging ---------------------------------------------------------------------------------


def test_output_files_follow_the_umask(tmp_path):
    from crossdomain.adapters import Record
    from crossdomain.atomic import atomic_write_json
    from crossdomain.data import write_records_cache

    previous = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        write_records_cache(tmp_path / "cache.jsonl.gz", [Record("r", "a", ["A"], "f:1")], {}, ["A"])
        (tmp_path / "b.txt").write_text("x")
    finally:
        os.umask(previous)
    modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a.json", "cache.jsonl.gz", "b.txt")}
    assert set(modes.values()) == {0o644}, modes


def test_a_broken_plugin_and_a_broken_task_file_do_not_break_list(tmp_path):
    site = tmp_path / "site"
    dist = site / "broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[crossdomain.inits]\nghost = no_such_module:Ghost\n")
    write_task(tmp_path / "tasks", "dna/broken", "name: dna/broken\nadapter: [not, a, name\n")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}", "CROSSDOMAIN_TASKS": str(tmp_path / "tasks")}
    listing = subprocess.run([sys.executable, "-m", "crossdomain", "list"], env=env, capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    assert "ghost" in listing.stdout and "init arm 'ghost' (no_such_module:Ghost) failed to load" in listing.stdout
    assert "dna/broken" in listing.stdout and "not valid YAML" in listing.stdout
    assert "stats-matched" in listing.stdout and "dna/splice" in listing.stdout  # the rest still listed
    run = subprocess.run([sys.executable, "-m", "crossdomain", "run", "--suite", "smoke", "--inits", "ghost"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 2 and "failed to load: ModuleNotFoundError" in run.stderr and "Traceback" not in run.stderr


def test_a_built_wheel_carries_the_task_definitions_and_finds_them(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO),
                            "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "wheel").glob("crossdomain-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    definitions = sorted(n for n in names if n.startswith("crossdomain/task_definitions/") and n.endswith(".yaml"))
    shipped = sorted(f"crossdomain/task_definitions/{p.relative_to(REPO / 'datasets').as_posix()}"
                     for p in (REPO / "datasets").glob("*/*.yaml"))
    assert definitions == shipped and len(shipped) >= 10, definitions
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "crossdomain").rglob("*.py")}
    assert modules <= set(names), sorted(modules - set(names))  # every subpackage is listed in pyproject.toml
    target = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(target)  # what a non-editable install puts on sys.path
    code = "from crossdomain.tasks import available_tasks; print(sorted(available_tasks()))"
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(target)},
                            capture_output=True, text=True, cwd=tmp_path)
    assert "dna/splice" in result.stdout and "music/region" in result.stdout, result.stderr


def test_no_progress_silences_every_bar(synthetic, capfd):
    out = synthetic / "quiet"
    assert main(["run", "--suite", "smoke", "--tasks", "synthetic/motif", "--seeds", "0", "--inits", "pretrained",
                 "--out", str(out), "--no-progress", "--no-report", "--set", "train.max_steps=2"]) == 0
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err, err[-500:]


def test_peak_memory_is_measured_per_unit():
    """A unit after a memory-hungry one reports its own peak, not the process's high-water mark so far."""
    from crossdomain.units import peak_memory_mb, reset_peak_memory

    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc")
    hog = bytearray(400 * 2**20)
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    high = peak_memory_mb()
    del hog
    reset_peak_memory()
    assert peak_memory_mb() < high - 300


def test_figure_titles_fit_inside_their_figures(tmp_path):
    from tests.test_report import write_unit
    from crossdomain.report import figures, stats

    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    for seed in range(2):
        for arm in ("pretrained", "random"):
            write_unit(units, "music/composer", arm, seed, 0.6 + 0.1 * seed)
            write_unit(units, "protein/localization", arm, seed, 0.4 + 0.1 * seed)
    table = stats.load_units([tmp_path / "run"])
    for arms in (["pretrained", "random"], ["pretrained", "random", "a", "b"]):
        figure = figures.bars_figure(stats.summarise_arms(table), table.ok, arms)
        figure.canvas.draw()
        title = figure.axes[0].title.get_window_extent(figure.canvas.get_renderer())
        assert title.x0 >= 0 and title.x1 <= figure.bbox.x1, (arms, title, figure.bbox)
