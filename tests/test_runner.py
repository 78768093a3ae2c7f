"""Resume, failure isolation, determinism, the end-to-end smoke run and a third-party adapter."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import crossdomain.run.grid as runner
import crossdomain.run.units as units_module
from crossdomain.cli import main
from crossdomain.config import ExecutionConfig, apply_overrides
from crossdomain.run.suites import load_suite
from crossdomain.training.precision import cpu_has_native_bf16, resolve_precision
from tests.conftest import write_task

REPO = Path(__file__).resolve().parents[1]


def small_suite(**overrides):
    suite = load_suite("smoke")
    settings = [f"{k}={v}" for k, v in {"tasks": "[dna/splice]", "seeds": "[0,1]", "train.max_steps": 12,
                                          "train.eval_every": 6, **overrides}.items()]
    return apply_overrides(suite, settings)


def unit_metrics(out: Path) -> dict:
    return {r.unit_id: (r.metrics, [p["dev"] for p in r.curve]) for r in runner.load_unit_records(out)}


@pytest.mark.mirror
def test_interrupted_run_resumes_without_rerunning_finished_units(tmp_path, mirror, monkeypatch):
    suite = small_suite()
    out = tmp_path / "run"
    finished = []

    def interrupt_after_two(record):
        finished.append(record.unit_id)
        if len(finished) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C after the second unit

    with pytest.raises(KeyboardInterrupt):
        runner.run_suite(suite, out, progress=False, on_unit_done=interrupt_after_two)
    first_files = {p.name: p.stat().st_mtime_ns for p in (out / "units").glob("*.json")}
    assert len(first_files) == 2 and len(pd.read_csv(out / "results.csv")) == 2

    executed = []
    real_run_unit = units_module.run_unit
    monkeypatch.setattr(units_module, "run_unit", lambda unit, o: executed.append(unit.unit_id) or real_run_unit(unit, o))
    frame = runner.run_suite(suite, out, progress=False)
    all_ids = [u.unit_id for u in runner.expand_units(suite)]
    assert sorted(executed) == sorted(set(all_ids) - set(finished))  # no unit ran twice
    assert {p.name: p.stat().st_mtime_ns for p in (out / "units").glob("*.json") if p.name in first_files} == first_files
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}

    fresh = tmp_path / "fresh"
    monkeypatch.setattr(units_module, "run_unit", real_run_unit)
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
    from crossdomain.data.tasks import get_task

    get_task.cache_clear()
    import crossdomain.data.sources as sources

    monkeypatch.setattr(sources, "_download", lambda url, target: (_ for _ in ()).throw(OSError("offline")))
    suite = small_suite(tasks="[dna/broken,dna/splice]", seeds="[0]", inits="[random]")
    frame = runner.run_suite(suite, tmp_path / "run", progress=False).set_index("task")
    assert frame.loc["dna/broken", "status"] == "failed"
    assert "sha256" in frame.loc["dna/broken", "error"] and "dna/broken" in frame.loc["dna/broken", "error"]
    assert frame.loc["dna/splice", "status"] == "ok"
    failed = [r for r in runner.load_unit_records(tmp_path / "run") if r.status == "failed"][0]
    assert "Traceback" in failed.traceback and failed.git and failed.libraries["torch"]
    get_task.cache_clear()


@pytest.mark.mirror
def test_smoke_suite_end_to_end(tmp_path, mirror, capsys):
    out = tmp_path / "smoke"
    assert main(["run", "--suite", "smoke", "--out", str(out), "--no-progress"]) == 0
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 8 and set(frame["status"]) == {"ok"}
    assert set(frame["init"]) == {"pretrained", "random"} and set(frame["task"]) == {"dna/splice", "dna/promoters"}
    record = json.loads(next((out / "units").glob("dna-splice__fold0__random__seed0*.json")).read_text())
    assert record["schema_version"] == 6 and record["resumed_from"] == []  # ran in one go
    execution = record["execution"]  # the default executor gives each worker its thread count
    assert set(execution) == {"threads", "eval_batch_size", "bf16", "bf16_eval", "device", "checkpoint_minutes"}
    assert execution["threads"] >= 1
    assert (execution["eval_batch_size"], execution["bf16"], execution["bf16_eval"], execution["device"]) == \
        (64, True, False, "auto")
    assert not {"threads", "eval_batch_size", "bf16", "save_model"} & set(record["config"])
    for key in ("config", "task", "model", "init", "mapping", "sizes", "metrics", "curve", "wall_seconds",
                "peak_memory_mb", "device", "precision", "libraries", "git", "status", "error", "unit"):
        assert key in record, key
    assert record["init"]["spec"] == "random" and record["init"]["frozen_parameters"] == 0
    assert record["task"]["checksum"] and record["task"]["sources"]["splice.data"]["sha256"].startswith("ebbae10c")
    assert record["unit"]["seed"] == 0 and record["unit"]["mapping_seed"] == 0 and record["unit"]["init"] == "random"
    assert set(record["mapping"]["symbols"]) == {"A", "C", "G", "T", "N"}
    assert {"accuracy", "macro_f1", "mcc", "primary"} <= set(record["metrics"])
    assert record["metrics"]["primary"] == record["metrics"]["mcc"]
    assert record["precision"] == resolve_precision(ExecutionConfig())  # bf16 where the machine has it natively
    assert record["eval_precision"] == "fp32"  # dev curve and test predictions: never ranked by bf16 rounding
    # the CPU is named, with the bf16 it computes natively (bf16 numbers are bit-identical only on the same kind)
    assert record["machine"]["cpu"] and record["machine"]["cpu_bf16"] in {"amx", "avx512_bf16", None}
    assert (record["machine"]["cpu_bf16"] is not None) == cpu_has_native_bf16()
    assert record["libraries"]["transformers"] and record["libraries"]["accelerate"]
    assert record["sizes"] == {"train": 256, "dev": 64, "test": 64, "train_available": 2402, "dev_available": 301,
                               "test_available": 301}
    assert [p["step"] for p in record["curve"]] == [0, 20, 40, 60]
    predictions = pd.read_csv(out / "units" / (record["unit_id"] + ".predictions.csv"))
    assert len(predictions) == 64 and set(predictions["label"]) <= {"EI", "IE", "N"}
    assert (predictions[["p_EI", "p_IE", "p_N"]].sum(axis=1) - 1).abs().max() < 1e-3
    for name in ("summary.csv", "summary.md", "summary.tex", "report.md", "bars.pdf", "forest_pretrained_vs_random.png",
                 "curves.svg", "overview.png"):
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
    assert record.status == "ok", record.error
    assert {"C", "O", "(", "=", "c", "1", "Cl", "#", "N"} <= set(record.mapping["symbols"])
    assert record.sizes["test"] == 12


# -- init arms end to end, validation before work, resume across execution settings --------------------

ALL_ARMS = ["pretrained", "random", "stats-matched", "shuffled", "pretrained-layers:k=1", "frozen:base=random",
            "reinit-embeddings"]


@pytest.mark.mirror
def test_every_arm_runs_on_the_tiny_model_and_says_what_it_did(tmp_path):
    out = tmp_path / "arms"
    assert main(["run", "--suite", "smoke", "--tasks", "dna/splice", "--seeds", "0", "--inits", *ALL_ARMS,
                 "--out", str(out), "--no-progress", "--set", "train.max_steps=6", "--set", "train.eval_every=3"]) == 0
    records = {r.unit.init: r for r in runner.load_unit_records(out)}
    assert set(records) == set(ALL_ARMS) and all(r.ok for r in records.values())
    assert records["frozen:base=random"].init["frozen_parameters"] > 0
    assert records["frozen:base=random"].init["trainable_parameters"] < records["random"].init["trainable_parameters"]
    assert records["stats-matched"].init["tensors_redrawn"] > 0 and records["shuffled"].init["tensors_shuffled"] > 0
    assert records["pretrained-layers:k=1"].init["pretrained_layers"] == [0]
    assert len({r.unit_id for r in records.values()}) == len(ALL_ARMS)
    contrasts = pd.read_csv(out / "report" / "contrasts.csv")
    assert len(contrasts) == len(ALL_ARMS) - 1 and set(contrasts["control"]) == {"random"}
    assert (out / "report" / "recovered.csv").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--model", "bert-bsae"], "Did you mean 'bert-base'"),
    (["--inits", "pretrained", "pretrainde"], "Did you mean 'pretrained'"),
    (["--inits", "pretrained-layers:k=9"], "k=9 but the model has 2 layers"),
    (["--inits", "frozen:bsae=random"], "Did you mean 'base'"),
    (["--seeds", "0", "0"], "given more than once"),
    (["--set", "folds=[99]", "--tasks", "dna/promoters"], "folds [99] do not exist"),
    (["--set", "train.lr=0"], "train.lr: expected a learning rate > 0"),
    (["--set", "train.batch_size=0"], "train.batch_size: expected >= 1"),
    (["--set", "train.max_length=1"], "train.max_length: expected >= 3"),
    (["--set", "train.max_length=999"], "max_length 999 for 'dna/splice' exceeds the 256 positions"),
    (["--set", "baselines=[kmer-logre]"], "Did you mean 'kmer-logreg'"),
    (["--set", "mapping=randm"], "Unknown mapping strategy 'randm'. Did you mean 'random'"),
    (["--executor", "slrum"], "Unknown executor 'slrum'. Did you mean 'slurm'"),
    (["--set", "lr_grid=[0.001,-1]"], "expected learning rates > 0"),
    (["--data-dir", "/nonexistent/mirror"], "--data-dir /nonexistent/mirror: does not exist"),
    (["--set", "contrasts=[[pretrained,shuffled]]"], "names arm 'shuffled', which is not in inits"),
])
def test_a_bad_request_fails_before_any_unit_and_writes_nothing(tmp_path, capsys, arguments, message):
    out = tmp_path / "never"
    assert main(["run", "--suite", "smoke", "--out", str(out), "--no-progress", *arguments]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.mirror
@pytest.mark.parametrize("native", [None, "avx512_bf16"])
def test_a_run_is_not_continued_in_another_precision_unless_asked(tmp_path, monkeypatch, capsys, native):
    import crossdomain.training.precision as precision

    monkeypatch.setattr(precision, "uses_cuda", lambda execution=None: False)
    here, other = ("bf16", "fp32") if native else ("fp32", "bf16")
    monkeypatch.setattr(precision, "cpu_native_bf16", lambda: "avx512_bf16")  # where the run's first unit trained
    suite = small_suite(seeds="[0]")
    out = tmp_path / "run"
    runner.run_suite(apply_overrides(suite, [f"execution.bf16={'false' if native else 'true'}", "inits=[random]"]),
                     out, progress=False)  # one unit, trained in the other precision
    assert [r.precision for r in runner.load_unit_records(out)] == [other]
    monkeypatch.setattr(precision, "cpu_native_bf16", lambda: native)  # this CPU: without, or with native bf16
    executed = []
    monkeypatch.setattr(units_module, "run_unit", lambda unit, o: executed.append(unit.unit_id))
    argv = ["run", "--suite", "smoke", "--tasks", "dna/splice", "--seeds", "0", "--set", "train.max_steps=12",
            "--set", "train.eval_every=6", "--out", str(out), "--no-progress", "--no-report"]
    assert main(argv) == 2
    said = capsys.readouterr().err
    assert f"its finished trained units ran 1 in {other}, but its 1 unfinished ones would train in {here} here" in said
    assert ("this CPU has no native bf16" if not native else "--set execution.bf16=false keeps") in said
    assert executed == []  # refused before the pretrained unit started

    if native:  # the run's precision is still available here
        assert main([*argv, "--set", "execution.bf16=false"]) == 0 and len(executed) == 1
        executed.clear()
    else:
        assert main([*argv, "--set", "execution.bf16=false"]) == 2  # fp32 asked for: still not the run's
        assert "(execution.bf16 is false); resume it on a machine with native bf16" in capsys.readouterr().err
    assert main([*argv, "--allow-mixed-precision"]) == 0 and len(executed) == 1  # asked for: mixed


@pytest.mark.mirror
def test_resuming_with_other_threads_and_eval_batch_recomputes_nothing(tmp_path, monkeypatch):
    suite = small_suite(seeds="[0]")
    out = tmp_path / "run"
    runner.run_suite(suite, out, progress=False)
    executed = []
    monkeypatch.setattr(units_module, "run_unit", lambda unit, o: executed.append(unit.unit_id))
    changed = apply_overrides(suite, ["execution.threads=1", "execution.eval_batch_size=7", "execution.bf16=false",
                                      "execution.device=cpu"])
    runner.run_suite(changed, out, progress=False)
    assert executed == []
    assert [u.unit_id for u in runner.expand_units(changed)] == [u.unit_id for u in runner.expand_units(suite)]
    assert apply_overrides(suite, ["train.lr=0.002"]) and \
        runner.expand_units(apply_overrides(suite, ["train.lr=0.002"]))[0].unit_id != runner.expand_units(suite)[0].unit_id


@pytest.mark.mirror
def test_a_truncated_unit_file_is_named_and_run_again(tmp_path):
    suite = small_suite(seeds="[0]", inits="[random]")
    out = tmp_path / "run"
    runner.run_suite(suite, out, progress=False)
    path = next((out / "units").glob("*.json"))
    path.write_text(path.read_text()[:100])
    with pytest.warns(UserWarning, match=rf"{path.name}: unreadable unit record.*run again"):
        frame = runner.run_suite(suite, out, progress=False)
    assert list(frame["status"]) == ["ok"]


ARM_PLUGIN = '''
from dataclasses import dataclass

import torch

from crossdomain.inits import InitArm, InitResult
from crossdomain.inits.base import body_parameters


@dataclass
class Scaled(InitArm):
    """Pretrained weights multiplied by a factor: does the weights' scale matter?"""

    name = "scaled"
    factor: float = 0.5

    def build(self, context):
        model = context.pretrained()
        with torch.no_grad():
            for parameter in body_parameters(model).values():
                parameter.mul_(self.factor)
        return InitResult(model, {"factor": self.factor})
'''


@pytest.mark.mirror
def test_third_party_init_arm_registers_through_an_entry_point_and_runs(tmp_path, mirror):
    site = tmp_path / "site"
    (site / "scaled_arm").mkdir(parents=True)
    (site / "scaled_arm" / "__init__.py").write_text(ARM_PLUGIN)
    dist = site / "scaled_arm-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: scaled-arm\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[crossdomain.inits]\nscaled = scaled_arm:Scaled\n")
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}"}
    listing = subprocess.run([sys.executable, "-m", "crossdomain", "list"], env=env, capture_output=True, text=True)
    assert re.search(r"scaled \(factor: float=0.5\)\s+Pretrained weights multiplied", listing.stdout), listing.stderr
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "crossdomain", "run", "--suite", "smoke", "--tasks", "dna/splice", "--seeds", "0",
         "--inits", "scaled:factor=0.25", "random", "--out", str(out), "--no-progress", "--set", "train.max_steps=4",
         "--set", "train.eval_every=2"], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    records = {r.unit.init: r for r in runner.load_unit_records(out)}
    assert records["scaled:factor=0.25"].ok and records["scaled:factor=0.25"].init["factor"] == 0.25
    assert "scaled:factor=0.25 − random" in (out / "report" / "report.md").read_text()


@pytest.mark.mirror
def test_save_model_hook_leaves_weights_that_reproduce_the_test_predictions(tmp_path):
    import numpy as np
    from transformers import AutoModelForSequenceClassification

    from crossdomain.training import stages as pipeline
    from crossdomain.training.trainer import predict_probabilities

    suite = apply_overrides(small_suite(seeds="[0]", inits="[pretrained]"), ["hooks=[save-model]"])
    out = tmp_path / "run"
    runner.run_suite(suite, out, progress=False)
    record = runner.load_unit_records(out)[0]
    folder = out / "units" / record.unit_id / "save-model"
    assert "model.safetensors" in record.artifacts["save-model"]["files"] and (folder / "model.safetensors").exists()
    assert not list((out / "units").glob(".*artifacts"))  # the staging folder was renamed into place
    keep = json.loads((folder / "vocabulary_ids.json").read_text())
    unit = runner.expand_units(suite)[0]
    prepared = pipeline.prepare(unit)
    remap = {old: new for new, old in enumerate(keep)}
    test = pipeline.remap_split(prepared.splits["test"], remap)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    probabilities = predict_probabilities(model, test, 64, remap[prepared.pad_id], record.eval_precision)
    saved = pd.read_csv(out / "units" / f"{record.unit_id}.predictions.csv")
    np.testing.assert_allclose(probabilities, saved.filter(like="p_").to_numpy(), atol=2e-5)


def test_resuming_a_run_in_another_environment_says_how_it_differs(tmp_path, capsys):
    from crossdomain.record import UnitRecord
    from crossdomain.run import provenance
    from tests.test_report import write_unit

    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    here = provenance.library_versions()
    for seed in range(3):
        path = units / f"{write_unit(units, 'dna/splice', 'random', seed, 0.7)}.json"
        record = UnitRecord.load(path)
        record.libraries = {**here, "transformers": "4.0.0" if seed else "3.0.0"}  # both unlike this one
        record.machine = {"cpu": "Some Other CPU", "cpu_bf16": "amx"}
        if seed == 0:  # a unit trained on a GPU: its host's CPU does not decide its numbers
            record.device, record.machine = "NVIDIA H200", {"cpu": "GPU Host CPU", "cpu_bf16": None}
        record.write(path)
    runner.warn_of_another_environment(runner.load_unit_records(tmp_path / "run"), tmp_path / "run")
    said = capsys.readouterr().out
    assert f"transformers {here['transformers']} here, 4.0.0 in 2 of the 3 trained units" in said
    assert "torch" not in said  # the same version
    if provenance.machine()["cpu"] != "Some Other CPU":
        assert "Some Other CPU, native bf16: amx in 2 trained units" in said
    assert "GPU Host CPU" not in said
    for path in units.glob("*.json"):  # the same environment: nothing to say
        record = UnitRecord.load(path)
        record.libraries, record.machine = here, provenance.machine()
        record.write(path)
    runner.warn_of_another_environment(runner.load_unit_records(tmp_path / "run"), tmp_path / "run")
    assert capsys.readouterr().out == ""
