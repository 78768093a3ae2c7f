"""Resume, failure isolation, determinism, the end-to-end smoke run and a third-party adapter."""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import crossdomain.runner as runner
from crossdomain.cli import main
from crossdomain.config import apply_overrides
from crossdomain.suites import load_suite
from tests.conftest import write_task

REPO = Path(__file__).resolve().parents[1]


def small_suite(**overrides):
    suite = load_suite("smoke")
    settings = [f"{k}={v}" for k, v in {"tasks": "[dna/splice]", "seeds": "[0,1]", "train.max_steps": 12,
                                          "train.eval_every": 6, **overrides}.items()]
    return apply_overrides(suite, settings)


def unit_metrics(out: Path) -> dict:
    return {r["unit_id"]: (r["metrics"], [p["dev"] for p in r["curve"]]) for r in runner.load_unit_records(out)}


@pytest.mark.mirror
def test_interrupted_run_resumes_without_rerunning_finished_units(tmp_path, mirror, monkeypatch):
    suite = small_suite()
    out = tmp_path / "run"
    finished = []

    def interrupt_after_two(record):
        finished.append(record["unit_id"])
        if len(finished) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C after the second unit

    with pytest.raises(KeyboardInterrupt):
        runner.run_suite(suite, out, progress=False, on_unit_done=interrupt_after_two)
    first_files = {p.name: p.stat().st_mtime_ns for p in (out / "units").glob("*.json")}
    assert len(first_files) == 2 and len(pd.read_csv(out / "results.csv")) == 2

    executed = []
    real_run_unit = runner.run_unit
    monkeypatch.setattr(runner, "run_unit", lambda unit, o: executed.append(unit.unit_id) or real_run_unit(unit, o))
    frame = runner.run_suite(suite, out, progress=False)
    all_ids = [u.unit_id for u in runner.expand_units(suite)]
    assert sorted(executed) == sorted(set(all_ids) - set(finished))  # no unit ran twice
    assert {p.name: p.stat().st_mtime_ns for p in (out / "units").glob("*.json") if p.name in first_files} == first_files
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}

    fresh = tmp_path / "fresh"
    monkeypatch.setattr(runner, "run_unit", real_run_unit)
    runner.run_suite(suite, fresh, progress=False)
    assert unit_metrics(fresh) == unit_metrics(out)  # same seed, same machine → identical metrics and curves


@pytest.mark.mirror
def test_a_failing_unit_is_recorded_and_the_grid_goes_on(tmp_path, mirror, monkeypatch):
    tasks = tmp_path / "tasks"
    write_task(tasks, "dna/broken", f"""
name: dna/broken
adapter: dna
version: "1"
description: points at a file whose checksum is wrong
labels: [EI, IE, N]
sources: [{{name: splice.data, path: uci_splice/splice.data, sha256: "{'0' * 64}"}}]
""")
    monkeypatch.setenv("CROSSDOMAIN_TASKS", str(tasks))
    from crossdomain.tasks import get_task

    get_task.cache_clear()
    import crossdomain.sources as sources

    monkeypatch.setattr(sources, "_download", lambda url, target: (_ for _ in ()).throw(OSError("offline")))
    suite = small_suite(tasks="[dna/broken,dna/splice]", seeds="[0]", inits="[random]")
    frame = runner.run_suite(suite, tmp_path / "run", progress=False).set_index("task")
    assert frame.loc["dna/broken", "status"] == "failed"
    assert "sha256" in frame.loc["dna/broken", "error"] and "dna/broken" in frame.loc["dna/broken", "error"]
    assert frame.loc["dna/splice", "status"] == "ok"
    failed = [r for r in runner.load_unit_records(tmp_path / "run") if r["status"] == "failed"][0]
    assert "Traceback" in failed["traceback"] and failed["git"] and failed["libraries"]["torch"]
    get_task.cache_clear()


@pytest.mark.mirror
def test_smoke_suite_end_to_end(tmp_path, mirror, capsys):
    out = tmp_path / "smoke"
    assert main(["run", "--suite", "smoke", "--out", str(out), "--no-progress"]) == 0
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 8 and set(frame["status"]) == {"ok"}
    assert set(frame["init"]) == {"pretrained", "random"} and set(frame["task"]) == {"dna/splice", "dna/promoters"}
    record = json.loads(next((out / "units").glob("dna-splice__fold0__random__seed0*.json")).read_text())
    for key in ("config", "task", "model", "mapping", "sizes", "metrics", "curve", "wall_seconds", "peak_memory_mb",
                "device", "libraries", "git", "status", "error", "unit"):
        assert key in record, key
    assert record["task"]["checksum"] and record["task"]["sources"]["splice.data"]["sha256"].startswith("ebbae10c")
    assert record["unit"]["seed"] == 0 and record["unit"]["mapping_seed"] == 0 and record["unit"]["init"] == "random"
    assert set(record["mapping"]["symbols"]) == {"A", "C", "G", "T", "N"}
    assert {"accuracy", "macro_f1", "mcc", "primary"} <= set(record["metrics"])
    assert record["metrics"]["primary"] == record["metrics"]["mcc"]
    assert record["sizes"] == {"train": 256, "dev": 64, "test": 64, "train_available": 2402, "dev_available": 301,
                               "test_available": 301}
    assert [p["step"] for p in record["curve"]] == [0, 20, 40, 60]
    predictions = pd.read_csv(out / "units" / (record["unit_id"] + ".predictions.csv"))
    assert len(predictions) == 64 and set(predictions["label"]) <= {"EI", "IE", "N"}
    assert (predictions[["p_EI", "p_IE", "p_N"]].sum(axis=1) - 1).abs().max() < 1e-3
    for name in ("summary.csv", "summary.md", "summary.tex", "report.md", "bars.pdf", "forest.png", "curves.svg",
                 "overview.png"):
        assert (out / "report" / name).stat().st_size > 0, name


def test_unknown_suite_on_the_command_line_is_a_clear_error(capsys):
    assert main(["run", "--suite", "quik"]) == 2
    assert "Did you mean 'quick'" in capsys.readouterr().err


def test_bad_override_on_the_command_line_is_a_clear_error(capsys):
    assert main(["run", "--suite", "smoke", "--set", "train.lr=fast", "--show-config"]) == 2
    assert "train.lr: expected float, got 'fast'" in capsys.readouterr().err


def readme_adapter_code() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- adapter-example -->", 1)[1]
    return re.search(r"```python\n(.*?)```", block, re.S).group(1)


def test_readme_adapter_is_short():
    assert len(readme_adapter_code().strip().splitlines()) <= 40


@pytest.mark.mirror
def test_third_party_adapter_registers_through_an_entry_point_and_runs(tmp_path):
    """Install the README's adapter as an outside distribution and run a task with it, in a new process."""
    site = tmp_path / "site"
    (site / "smiles_plugin").mkdir(parents=True)
    (site / "smiles_plugin" / "__init__.py").write_text(readme_adapter_code())
    dist = site / "smiles_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: smiles-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[crossdomain.adapters]\nsmiles = smiles_plugin:SmilesAdapter\n")

    molecules = ["CCO", "CC(=O)O", "c1ccccc1", "CCN", "CCCl", "C#N", "CC(C)O", "OCC(O)CO", "CC=C", "ClCCl"]
    rows = ["smiles,label"] + [f"{m}{'C' * k},{'polar' if 'O' in m or 'N' in m else 'apolar'}"
                               for k in range(6) for m in molecules]
    data = tmp_path / "mirror" / "mols" / "mols.csv"
    data.parent.mkdir(parents=True)
    data.write_text("\n".join(rows) + "\n")
    import hashlib

    write_task(tmp_path / "tasks", "chem/polarity", f"""
name: chem/polarity
adapter: smiles
version: "1"
description: toy molecules, polar or not
labels: [polar, apolar]
sources: [{{name: mols, path: mols/mols.csv, sha256: "{hashlib.sha256(data.read_bytes()).hexdigest()}"}}]
split: {{kind: stratified, ratios: [0.6, 0.2, 0.2], seed: 0}}
""")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}", "CROSSDOMAIN_TASKS": str(tmp_path / "tasks"),
           "CROSSDOMAIN_DATA": str(tmp_path / "mirror")}
    listing = subprocess.run([sys.executable, "-m", "crossdomain", "list"], env=env, capture_output=True, text=True)
    assert re.search(r"smiles\s+SMILES molecules", listing.stdout), listing.stderr
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "crossdomain", "run", "--suite", "smoke", "--tasks", "chem/polarity", "--seeds", "0",
         "--inits", "random", "--out", str(out), "--no-progress", "--no-report", "--set", "train.max_steps=4"],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    record = runner.load_unit_records(out)[0]
    assert record["status"] == "ok", record.get("error")
    assert {"C", "O", "(", "=", "c", "1", "Cl", "#", "N"} <= set(record["mapping"]["symbols"])
    assert record["sizes"]["test"] == 12
