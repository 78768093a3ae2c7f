"""The command line: one-line errors before any work, exit codes, resumable runs, quiet output."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crossdomain.cli import main
from tests.conftest import write_task

REPO = Path(__file__).resolve().parents[1]


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
    import crossdomain.training.stages as pipeline

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
    import crossdomain.run.units as units

    monkeypatch.setattr(units, "run_unit", lambda *a: pytest.fail("a unit started"))
    out = make_bad(tmp_path / "out")
    assert main(["run", "--suite", "smoke", "--out", str(out), "--no-progress", "--executor", "sequential"]) == 2
    assert message in capsys.readouterr().err


def test_report_refuses_an_unknown_metric_and_an_empty_folder(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--metric", "macro-f1"]) == 2
    assert "--metric 'macro-f1' is not a metric. Did you mean 'macro_f1'" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "no units/ folder" in capsys.readouterr().err


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


def test_no_progress_silences_every_bar(synthetic, capfd):
    out = synthetic / "quiet"
    assert main(["run", "--suite", "smoke", "--tasks", "synthetic/motif", "--seeds", "0", "--inits", "pretrained",
                 "--out", str(out), "--no-progress", "--no-report", "--set", "train.max_steps=2"]) == 0
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err, err[-500:]


def test_tasks_narrows_the_per_task_settings_but_a_misspelt_task_still_fails(tmp_path, capsys):
    import yaml

    assert main(["run", "--suite", "reference-cpu", "--tasks", "protein/localization", "--show-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["tasks"] == ["protein/localization"]
    assert config["task_lr_grid"] == {} and config["task_lr_selection_folds"] == {}  # promoters' own went with it
    suite = yaml.safe_load((REPO / "crossdomain/suites/reference-cpu.yaml").read_text())
    suite["task_lr_grid"]["dna/promotors"] = suite["task_lr_grid"].pop("dna/promoters")
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["run", "--suite", str(path), "--tasks", "protein/localization", "--show-config"]) == 2
    assert "dna/promotors" in capsys.readouterr().err


def test_task_seeds_give_one_task_more_seeds_and_dash_dash_seeds_replaces_them_all(tmp_path, capsys):
    import yaml

    def unit_seeds(suite, *extra):
        assert main(["run", "--suite", suite, "--show-units", *extra]) == 0
        seeds = {}
        for line in capsys.readouterr().out.split():
            if "__seed" in line:
                task = line.split("__")[0]
                seeds.setdefault(task, set()).add(int(line.split("__seed")[1].split("__")[0]))
        return seeds

    suite = yaml.safe_load((REPO / "crossdomain/suites/smoke.yaml").read_text())
    path = tmp_path / "more.yaml"
    path.write_text(yaml.safe_dump({**suite, "task_seeds": {"dna/promoters": [0, 1, 2, 3]}}))
    assert unit_seeds(str(path)) == {"dna-splice": {0, 1}, "dna-promoters": {0, 1, 2, 3}}
    assert unit_seeds(str(path), "--seeds", "5") == {"dna-splice": {5}, "dna-promoters": {5}}
    assert unit_seeds(str(path), "--tasks", "dna/splice") == {"dna-splice": {0, 1}}
    # on the command line too; like task_train.TASK.KEY, it targets one task whatever --seeds says
    assert unit_seeds("smoke", "--seeds", "5", "--set", "task_seeds.dna/splice=[7]") == {
        "dna-splice": {7}, "dna-promoters": {5}}
    assert main(["run", "--suite", "smoke", "--show-units", "--set", "task_seeds.dna/promotors=[0]"]) == 2
    assert "task_seeds names 'dna/promotors'" in capsys.readouterr().err
    assert main(["run", "--suite", "smoke", "--show-units", "--set", "task_seeds.dna/promoters=[0,0]"]) == 2
    assert "task_seeds.dna/promoters: [0] given more than once" in capsys.readouterr().err


def shown_seeds(capsys, *args) -> dict[tuple[str, str], set[int]]:
    """(task, arm) → the seeds of the units ``crossdomain run --show-units`` plans."""
    assert main(["run", "--show-units", *args]) == 0
    seeds = {}
    for line in capsys.readouterr().out.split():
        if "__seed" in line:
            task, _fold, arm, seed = line.split("__")[:4]
            seeds.setdefault((task, arm), set()).add(int(seed[len("seed"):]))
    return seeds


def test_task_arm_seeds_give_some_arms_more_seeds_on_one_task(tmp_path, capsys):
    import yaml

    suite = yaml.safe_load((REPO / "crossdomain/suites/smoke.yaml").read_text())
    path = tmp_path / "arm-seeds.yaml"
    path.write_text(yaml.safe_dump({**suite, "inits": ["pretrained", "random", "shuffled"],
                                    "task_arm_seeds": {"dna/splice": {"pretrained": [0, 1, 2, 3],
                                                                      "random": [0, 1, 2, 3]}}}))
    assert shown_seeds(capsys, "--suite", str(path)) == {
        ("dna-splice", "pretrained"): {0, 1, 2, 3}, ("dna-splice", "random"): {0, 1, 2, 3},
        ("dna-splice", "shuffled"): {0, 1}, **{("dna-promoters", arm): {0, 1} for arm in
                                                ("pretrained", "random", "shuffled")}}
    assert shown_seeds(capsys, "--suite", str(path), "--seeds", "5") == {
        (task, arm): {5} for task in ("dna-splice", "dna-promoters") for arm in ("pretrained", "random", "shuffled")}
    typed = shown_seeds(capsys, "--suite", str(path), "--set", "task_arm_seeds.dna/promoters.shuffled=[7,8]")
    assert typed[("dna-promoters", "shuffled")] == {7, 8} and typed[("dna-splice", "random")] == {0, 1, 2, 3}
    # --inits takes an arm's own seeds away with the arm (as it does the arm's lr grid and contrasts)
    assert shown_seeds(capsys, "--suite", str(path), "--inits", "shuffled", "--tasks", "dna/splice") == {
        ("dna-splice", "shuffled"): {0, 1}}
    assert main(["run", "--suite", "why", "--inits", "pretrained", "random", "--show-config"]) == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["arm_lr_grid"] == {}  # the frozen arms' grids went with them
    assert config["task_arm_seeds"]["protein/amp"].keys() == {"pretrained", "random"}


@pytest.mark.parametrize(("assignment", "message"), [
    ("task_arm_seeds.dna/splice.pretraind=[0]", "task_arm_seeds.dna/splice names 'pretraind', which is not one of "
                                                "its inits' canonical specs. Did you mean 'pretrained'"),
    ("task_arm_seeds.dna/splice.random=[]", "task_arm_seeds.dna/splice.random: expected at least one seed"),
    ("task_arm_seeds.dna/splice.random=[2,2]", "task_arm_seeds.dna/splice.random: [2] given more than once"),
    ("task_arm_seeds.dna/splise.random=[2]", "task_arm_seeds names 'dna/splise'"),
    ("task_arm_seeds.dna/splice.random=[a]", "expected int, got 'a'"),
])
def test_a_wrong_task_arm_seeds_entry_is_refused_before_any_work(capsys, assignment, message):
    assert main(["run", "--suite", "smoke", "--show-units", "--set", assignment]) == 2
    assert message in capsys.readouterr().err
    # a misspelt arm still fails when --inits narrows the arms: only the settings of the suite's own arms go
    assert main(["run", "--suite", "smoke", "--inits", "random", "--show-units", "--set", assignment]) == 2
