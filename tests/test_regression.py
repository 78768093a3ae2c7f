"""The regression task type end to end: task definitions, tables, predefined splits, the model's one output,
metrics and their direction, baselines, records, reports of mixed runs, and bad input."""
import csv
import hashlib
import json

import numpy as np
import pytest

from crossdomain.config import ConfigError, ExecutionConfig, SuiteConfig, TrainConfig
from crossdomain.run import grid as runner
from tests.conftest import write_task

BASES = "ACGT"


def synthetic_rows(n: int, length: int = 12, seed: int = 0) -> list[dict]:
    """DNA sequences whose target is the number of A's plus a little noise: learnable by counting one token."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n):
        sequence = "".join(rng.choice(list(BASES), size=length))
        role = "test" if index % 5 == 0 else ("validation" if index % 5 == 1 else "training")
        rows.append({"set": role, "seq": sequence, "y": f"{sequence.count('A') + rng.normal(0, 0.1):.4f}",
                     "flag": ""})
    return rows


def write_table(path, rows, fields=("set", "seq", "y", "flag")):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def task_body(name: str, sha: str, extra: str = "", split: str = "{kind: predefined, seed: 0}",
              reader: str = "{format: table, sequence_column: seq, target_column: y, split_column: set}") -> str:
    return f"""
name: {name}
adapter: dna
type: regression
version: "1"
description: synthetic counts of A
sources: [{{name: table, path: synthetic/{name.split('/')[1]}.csv, sha256: "{sha}"}}]
reader: {reader}
split: {split}
{extra}
"""


@pytest.fixture
def synthetic_task(tmp_path, monkeypatch):
    """dna/count-a: 500 sequences, the file's own 300/100/100 split, in a task folder of its own."""
    from crossdomain.data.tasks import get_task

    sha = write_table(tmp_path / "mirror" / "synthetic" / "count-a.csv", synthetic_rows(500))
    write_task(tmp_path / "tasks", "dna/count-a", task_body("dna/count-a", sha))
    monkeypatch.setenv("CROSSDOMAIN_TASKS", str(tmp_path / "tasks"))
    get_task.cache_clear()
    yield "dna/count-a", str(tmp_path / "mirror")
    get_task.cache_clear()


# -- metrics: one table, with directions ------------------------------------------------------------------


def test_the_metrics_table_knows_each_metrics_type_and_direction():
    from crossdomain.metrics import METRICS, metric_names

    assert metric_names("regression") == ("spearman", "pearson", "rmse", "r2")
    assert not METRICS["rmse"].higher_is_better and METRICS["spearman"].higher_is_better
    assert METRICS["rmse"].better(0.5, 0.7) and not METRICS["spearman"].better(0.5, 0.7)
    assert METRICS["rmse"].best([0.9, 0.4, 0.6]) == 0.4


def test_vectorised_regression_resamples_agree_with_scipy_and_sklearn():
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import r2_score

    from crossdomain.metrics import regression_metrics, resampled_scores

    rng = np.random.default_rng(1)
    truth = np.round(rng.normal(size=60), 1)  # rounded: ties, which Spearman must rank as scipy does
    guess = np.round(truth + rng.normal(scale=0.8, size=60), 1)
    indices = rng.integers(0, 60, (25, 60))
    for metric in ("spearman", "pearson", "rmse", "r2"):
        fast = resampled_scores(truth, guess, indices, metric)
        slow = [regression_metrics(truth[row], guess[row])[metric] for row in indices]
        np.testing.assert_allclose(fast, slow, atol=1e-10, err_msg=metric)
    assert regression_metrics(truth, guess)["spearman"] == pytest.approx(spearmanr(truth, guess)[0])
    assert regression_metrics(truth, guess)["pearson"] == pytest.approx(pearsonr(truth, guess)[0])
    assert regression_metrics(truth, guess)["r2"] == pytest.approx(r2_score(truth, guess))
    assert regression_metrics(truth, np.full(60, 2.0))["spearman"] == 0.0  # a constant prediction ranks nothing


# -- task definitions and bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("extra, expected", [
    ("labels: [low, high]", "labels: a regression task has no classes"),
    ("label_map: {a: b}", "label_map: a regression task has no classes"),
    ("primary_metric: mcc", "primary_metric 'mcc' is not a regression metric; expected one of spearman"),
])
def test_a_classification_option_on_a_regression_task_is_refused_naming_the_key(tmp_path, extra, expected):
    from crossdomain.data.tasks import load_task_file

    path = write_task(tmp_path, "dna/bad", task_body("dna/bad", "0" * 64, extra))
    with pytest.raises(ConfigError, match=expected) as caught:
        load_task_file(path)
    assert str(path) in str(caught.value)


def test_a_stratified_split_on_a_regression_task_is_refused(tmp_path):
    from crossdomain.data.tasks import load_task_file

    path = write_task(tmp_path, "dna/bad", task_body("dna/bad", "0" * 64, split="{kind: stratified}"))
    with pytest.raises(ConfigError, match="stratifies by class, which a regression task has not; use random"):
        load_task_file(path)


def test_a_classification_task_without_labels_is_refused(tmp_path):
    from crossdomain.data.tasks import load_task_file

    body = task_body("dna/bad", "0" * 64).replace("type: regression\n", "")
    with pytest.raises(ConfigError, match="labels: a classification task declares its labels"):
        load_task_file(write_task(tmp_path, "dna/bad", body))


@pytest.mark.parametrize("target, found", [("high", "found 'high'"), ("", "found nothing"), ("nan", "found 'nan'")])
def test_a_non_numeric_or_missing_target_names_the_file_and_line(tmp_path, monkeypatch, target, found):
    from crossdomain.adapters import AdapterError
    from crossdomain.data.prepare import prepare_task
    from crossdomain.data.tasks import get_task

    rows = synthetic_rows(20)
    rows[6]["y"] = target
    table = tmp_path / "mirror" / "synthetic" / "bad.csv"
    sha = write_table(table, rows)
    write_task(tmp_path / "tasks", "dna/bad", task_body("dna/bad", sha))
    monkeypatch.setenv("CROSSDOMAIN_TASKS", str(tmp_path / "tasks"))
    get_task.cache_clear()
    with pytest.raises(AdapterError, match=f"{table}:8: the target of regression task 'dna/bad' must be a finite "
                                           f"number; {found}"):
        prepare_task("dna/bad", (str(tmp_path / "mirror"),), use_cache=False)
    get_task.cache_clear()


def test_a_missing_column_and_an_unknown_split_value_are_named(tmp_path):
    from crossdomain.adapters import AdapterError
    from crossdomain.adapters.formats import table_records

    table = tmp_path / "t.csv"
    write_table(table, synthetic_rows(5))
    with pytest.raises(AdapterError, match=r"t.csv:1: no column 'sequence' \(reader option 'sequence_column'\)"):
        list(table_records(table, {"sequence_column": "sequence", "target_column": "y"}, "dna"))
    rows = synthetic_rows(5)
    rows[3]["set"] = "holdout"
    write_table(table, rows)
    with pytest.raises(AdapterError, match=r"t.csv:5: split value 'holdout' in column 'set' is not one of"):
        list(table_records(table, {"sequence_column": "seq", "target_column": "y", "split_column": "set"}, "dna"))


# -- splits -------------------------------------------------------------------------------------------------


def test_the_predefined_split_is_the_files_own_assignment(synthetic_task):
    from crossdomain.data.prepare import prepare_task

    name, mirror = synthetic_task
    data = prepare_task(name, (mirror,), use_cache=False)
    rows = synthetic_rows(500)
    fold = data.folds[0]
    by_role = {role: [i for i, r in enumerate(rows) if r["set"] == role] for role in ("training", "validation", "test")}
    assert (list(fold.train), list(fold.dev), list(fold.test)) == (by_role["training"], by_role["validation"],
                                                                    by_role["test"])
    assert data.label_ids[:3] == [float(r["y"]) for r in rows[:3]]
    assert data.stats["target"]["max"] == max(float(r["y"]) for r in rows)


def test_a_dev_flag_column_and_a_threshold_assign_dev_and_test_and_dev_is_carved_when_absent(tmp_path):
    from crossdomain.adapters.formats import table_records
    from crossdomain.data.splits import make_folds
    from crossdomain.data.tasks import SplitPolicy

    rows = synthetic_rows(40)
    for index, row in enumerate(rows):
        row["set"], row["flag"] = "train", "True" if index in (3, 4) else ""
    table = tmp_path / "t.csv"
    write_table(table, rows)
    options = {"sequence_column": "seq", "target_column": "y", "split_column": "set", "dev_flag_column": "flag"}
    assert [r.split for r in table_records(table, options, "dna")][:6] == ["train"] * 3 + ["dev"] * 2 + ["train"]
    threshold = {"sequence_column": "seq", "target_column": "y", "test_when": {"column": "y", "at_least": 3}}
    roles = [r.split for r in table_records(table, threshold, "dna")]
    assert roles == ["test" if float(r["y"]) >= 3 else "train" for r in rows]
    fold = make_folds(SplitPolicy(kind="predefined", dev_fraction=0.25, seed=0), [0.0] * 40, [""] * 40,
                      ["train"] * 32 + ["test"] * 8, classes=False)[0]
    assert (len(fold.train), len(fold.dev), list(fold.test)) == (24, 8, list(range(32, 40)))


@pytest.mark.mirror
def test_gb1_and_fluorescence_read_their_published_splits(mirror):
    from crossdomain.data.prepare import prepare_task

    gb1 = prepare_task("protein/gb1", (str(mirror),))
    assert gb1.folds[0].sizes() == {"train": 2691, "dev": 299, "test": 5743}
    rows = list(csv.DictReader(open(mirror / "flip_gb1" / "three_vs_rest.csv", encoding="utf-8")))
    assert [i for i, r in enumerate(rows) if r["validation"] == "True"] == list(gb1.folds[0].dev)
    assert [i for i, r in enumerate(rows) if r["set"] == "test"] == list(gb1.folds[0].test)
    fluorescence = prepare_task("protein/fluorescence", (str(mirror),))
    assert fluorescence.folds[0].sizes() == {"train": 21446, "dev": 5362, "test": 27217}


@pytest.mark.mirror
def test_gb1_low_vs_high_trains_below_the_wild_type_and_tests_at_or_above_it(mirror):
    from crossdomain.data.prepare import prepare_task

    task = prepare_task("protein/gb1-low-vs-high", (str(mirror),))
    fold = task.folds[0]
    assert fold.sizes() == {"train": 4580, "dev": 509, "test": 3644}
    targets = np.asarray(task.label_ids, dtype=float)
    seen = np.concatenate([np.asarray(fold.train), np.asarray(fold.dev)])
    assert targets[seen].max() < 1.0 <= targets[list(fold.test)].min()  # wild type = 1.0: extrapolation upwards


# -- training, records, baselines and reports --------------------------------------------------------------


def regression_suite(tasks: str, **train) -> SuiteConfig:
    settings = {"lr": 2e-3, "max_steps": 250, "batch_size": 16, "eval_every": 50, "max_length": 16,
                "warmup_ratio": 0.1} | train
    return SuiteConfig(name="regression-test", tasks=tasks.split(","), folds=[0], inits=["random"], seeds=[0],
                       mapping_seeds=[0], model="tiny", baselines=["mean", "kmer-ridge", "onehot-ridge"],
                       train=TrainConfig(**settings), execution=ExecutionConfig(threads=1))


def test_a_tiny_model_learns_a_synthetic_regression_and_its_record_round_trips(synthetic_task, tmp_path):
    from crossdomain.record import UnitRecord
    from crossdomain.run.units import Unit

    name, mirror = synthetic_task
    out = tmp_path / "run"
    runner.run_suite(regression_suite(name), out, data_dirs=(mirror,), progress=False)
    records = {r.unit.arm: r for r in runner.load_unit_records(out)}
    trained = records["random"]
    assert trained.ok, trained.error
    # the target is the count of one token (0-12, noise 0.1): a model that counts it ranks the 100 test items
    # almost perfectly (0.96 here); one that learned nothing scores |rho| < 0.3 (3 standard errors at n = 100)
    assert trained.metrics["spearman"] > 0.8, trained.curve
    assert trained.metrics["primary_metric"] == "spearman" and trained.task["type"] == "regression"
    assert trained.task["target_scaling"]["std"] > 0
    predictions = list(csv.DictReader(open(trained.predictions_path, encoding="utf-8")))
    rows = [r for r in synthetic_rows(500) if r["set"] == "test"]
    assert [float(p["label"]) for p in predictions] == [float(r["y"]) for r in rows]  # the original scale, exactly
    from crossdomain.metrics import regression_metrics

    again = regression_metrics([float(p["label"]) for p in predictions], [float(p["prediction"]) for p in predictions])
    assert again == pytest.approx({k: trained.metrics[k] for k in again})
    loaded = UnitRecord.from_json(json.loads(json.dumps(trained.to_json())))
    assert loaded.to_json() == trained.to_json()
    assert Unit.from_record(trained).unit_id == trained.unit_id
    assert records["mean"].metrics["spearman"] == 0.0 and abs(records["mean"].metrics["r2"]) < 0.05
    # an additive target is what a one-hot ridge fits: near-perfect, and above the mean's R² of about 0
    assert records["onehot-ridge"].metrics["spearman"] > 0.9 and records["onehot-ridge"].metrics["r2"] > 0.8
    assert records["kmer-ridge"].init["alpha"] in (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


@pytest.mark.mirror
def test_the_report_of_a_mixed_run_scores_each_task_in_its_own_metric(synthetic_task, mirror, tmp_path):
    import pandas as pd

    from crossdomain.report import write_report

    name, synthetic_mirror = synthetic_task
    suite = regression_suite(f"{name},dna/splice", max_steps=20, eval_every=10)
    suite.inits, suite.seeds = ["pretrained", "random"], [0, 1]
    suite.baselines = ["majority", "mean"]
    out = tmp_path / "run"
    runner.run_suite(suite, out, data_dirs=(synthetic_mirror, str(mirror)), progress=False)
    baselines = {(r.unit.task, r.unit.baseline) for r in runner.load_unit_records(out) if r.is_baseline}
    assert baselines == {(name, "mean"), ("dna/splice", "majority")}  # each baseline on the tasks of its type
    write_report([out], out / "report")
    summary = pd.read_csv(out / "report" / "summary.csv").set_index(["task", "arm"])
    assert summary.loc[(name, "random"), "metric"] == "spearman" and summary.loc[("dna/splice", "random"), "metric"] == "mcc"
    units = pd.read_csv(out / "results.csv")
    mine = units[(units["task"] == name) & (units["init"] == "random")]["primary"]
    assert summary.loc[(name, "random"), "mean"] == pytest.approx(mine.mean())
    pairs = pd.read_csv(out / "report" / "pairs.csv")
    assert set(pairs["task"]) == {name, "dna/splice"}
    report = (out / "report" / "report.md").read_text(encoding="utf-8")
    assert "spearman" in report and "mean†" in report and "majority†" in report
    assert "![scatter](scatter.png)" in report and (out / "report" / "scatter.png").exists()
    from crossdomain.report import compute, draw_figures
    from crossdomain.report.style import layout_problems

    figure, caption = draw_figures(compute([out]))["scatter"]
    assert len(figure.axes) == 2 and "2 arms" not in caption  # one task (the regression one) × two arms
    assert layout_problems(figure) == []
    drawn = figure.axes[0].collections[0].get_offsets()
    scatter = pd.read_csv(next((out / "units").glob("dna-count-a__fold0__pretrained__seed0__*.predictions.csv")))
    np.testing.assert_allclose(np.asarray(drawn), scatter[["label", "prediction"]].to_numpy())


def test_a_bootstrap_over_test_items_works_for_a_continuous_metric():
    from crossdomain.report.stats import bootstrap_interval

    rng = np.random.default_rng(0)
    truth = rng.normal(size=200)
    good, bad = truth + rng.normal(scale=0.3, size=200), rng.normal(size=200)
    low, high = bootstrap_interval(truth, good, "spearman")
    assert 0.85 < low < high < 0.99
    low, high = bootstrap_interval(truth, good, "rmse", other_predictions=bad)
    assert high < 0  # the good predictions' error is lower, on every resample's items


def test_an_interrupted_regression_unit_resumes_to_the_same_result(synthetic_task, tmp_path, monkeypatch):
    """Resume on the regression path: float targets, MSE, a best Spearman kept across the interruption."""
    import dataclasses

    from crossdomain.run.units import run_unit
    from tests.test_resume import EVERY_EVALUATION, interrupt_after_checkpoint

    name, mirror = synthetic_task
    suite = dataclasses.replace(regression_suite(name, max_steps=60, eval_every=10), baselines=[],
                                execution=ExecutionConfig(threads=1, checkpoint_minutes=EVERY_EVALUATION))
    [unit] = runner.expand_units(suite, (mirror,))
    whole = run_unit(unit, tmp_path / "whole")
    with monkeypatch.context() as patch:
        interrupt_after_checkpoint(patch, 30)
        assert not run_unit(unit, tmp_path / "cut").ok
    again = run_unit(unit, tmp_path / "cut")
    assert whole.ok and again.ok and again.resumed_from == [30]
    assert again.metrics == whole.metrics and again.curve[-1]["dev"] == whole.curve[-1]["dev"]
    assert [p["dev"] for p in again.curve] == [p["dev"] for p in whole.curve]
    assert whole.metrics["spearman"] > 0.3  # it learned something worth keeping across the interruption
