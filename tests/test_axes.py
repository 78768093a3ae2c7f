"""The model and data axes: expansion, lr selection per condition, and the report's Δ per model and per size."""
import pandas as pd
import pytest

from crossdomain.cli import main
from crossdomain.config import apply_overrides
from crossdomain.run import selection
from crossdomain.run.grid import baseline_units, expand_units
from crossdomain.run.suites import load_suite, validate_suite


def axes_suite(**overrides):
    settings = {"tasks": "[dna/promoters]", "folds": "[0]", "seeds": "[0,1]", "models": "[tiny,tiny-electra]",
                "train_sizes": "[16,0]", "baselines": "[majority]", "lr_grid": "[1e-3,3e-3]", **overrides}
    return apply_overrides(load_suite("smoke"), [f"{k}={v}" for k, v in settings.items()])


def test_the_grid_crosses_models_and_training_sizes_and_selects_an_lr_for_each():
    suite = axes_suite()
    validate_suite(suite)
    units = expand_units(suite)
    assert len(units) == 2 * 2 * 2 * 2  # models × sizes × seeds × arms
    assert len({u.unit_id for u in units}) == len(units)
    assert {(u.model, u.train.max_train_examples) for u in units} == {
        ("tiny", 16), ("tiny", 0), ("tiny-electra", 16), ("tiny-electra", 0)}
    assert sorted(u.train.max_train_examples for u in baseline_units(suite)) == [0, 16]  # per size, not per model
    plan = selection.selection_units(suite, units)
    assert set(plan) == {("dna/promoters", arm, model, size) for arm in ("pretrained", "random")
                         for model in ("tiny", "tiny-electra") for size in (16, 0)}
    assert all(len(by_lr) == 2 for by_lr in plan.values())


def test_without_axes_the_grid_and_its_ids_are_unchanged():
    plain = apply_overrides(load_suite("smoke"), ["tasks=[dna/promoters]", "folds=[0]"])
    same = apply_overrides(plain, ["models=[tiny]"])  # smoke's own model
    assert [u.unit_id for u in expand_units(plain)] == [u.unit_id for u in expand_units(same)]
    sized = apply_overrides(plain, ["train_sizes=[256]"])  # a size of the data axis is a nested draw: its own units
    assert not {u.unit_id for u in expand_units(plain)} & {u.unit_id for u in expand_units(sized)}


@pytest.mark.mirror
def test_training_sizes_are_nested_stratified_subsets_and_get_a_size_figure(mirror, tmp_path):
    from collections import Counter

    from crossdomain.training.stages import select_items

    suite = apply_overrides(load_suite("smoke"), ["tasks=[dna/splice]", "train_sizes=[16,32,64,0]"])
    sets = {}
    for unit in expand_units(suite, (str(mirror),)):
        data, items = select_items(unit)
        sets[unit.train.max_train_examples] = items["train"]
    assert [len(sets[n]) for n in (16, 32, 64)] == [16, 32, 64] and len(sets[0]) == 2402
    assert set(sets[16]) < set(sets[32]) < set(sets[64]) < set(sets[0])
    share = Counter(data.label_ids[i] for i in sets[0])
    for n in (16, 32, 64):  # each class's share of n, to within one item
        counts = Counter(data.label_ids[i] for i in sets[n])
        assert all(abs(counts[c] - n * share[c] / len(sets[0])) <= 1 for c in share), (n, counts)
    out = tmp_path / "run"
    assert main(["run", "--suite", "smoke", "--train-sizes", "16", "32", "64", "--tasks", "dna/splice", "--out", str(out),
                 "--no-progress", "--data-dir", str(mirror), "--set", "train.max_steps=4",
                 "--set", "train.eval_every=2"]) == 0
    by_size = pd.read_csv(out / "report" / "delta_by_train_size.csv")
    assert sorted(by_size["train_limit"]) == [16, 32, 64] and (out / "report" / "delta_by_train_size.png").exists()


@pytest.mark.parametrize("setting, message", [("train_sizes=[16,16]", r"train_sizes: \[16\] given more than once"),
                                              ("train_sizes=[-1]", "expected sizes >= 0")])
def test_bad_axis_values_are_refused(setting, message):
    from crossdomain.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        validate_suite(axes_suite(**dict([setting.split("=")])))


def test_the_report_gives_delta_per_model_and_per_size_and_reads_the_main_condition_elsewhere(synthetic):
    out = synthetic / "run"
    assert main(["run", "--suite", "smoke", "--tasks", "synthetic/motif", "--seeds", "0", "1", "--out", str(out),
                 "--no-progress", "--models", "tiny", "tiny-electra", "--train-sizes", "40", "0",
                 "--set", "train.max_steps=30", "--set", "train.eval_every=15", "--set", "train.lr=1e-3",
                 "--set", "baselines=[majority]"]) == 0
    results = pd.read_csv(out / "results.csv")
    trained = results[results["init"].notna()]
    assert len(trained) == 2 * 2 * 2 * 2 and set(trained["train"]) == {40, 168}  # the motif task's 168 training items
    assert sorted(results.loc[results["baseline"] == "majority", "train"]) == [40, 168]  # one per size
    report = out / "report"
    by_model = pd.read_csv(report / "delta_by_model.csv")
    by_size = pd.read_csv(report / "delta_by_train_size.csv")
    assert sorted(by_model["model"]) == ["tiny", "tiny-electra"] and set(by_model["train_limit"]) == {0}
    assert sorted(by_size["train_limit"]) == [0, 40] and set(by_size["model"]) == {"tiny"}
    units = pd.read_csv(out / "results.csv").merge(
        pd.DataFrame([{"unit_id": r.unit_id, "limit": r.config["max_train_examples"]}
                      for r in __import__("crossdomain.run.grid", fromlist=["x"]).load_unit_records(out)]))
    for _, row in by_size.iterrows():  # Δ by hand: mean over seeds of pretrained − random at that size, tiny
        chosen = units[(units["model"] == "tiny") & (units["limit"] == row["train_limit"])]
        by_arm = chosen.pivot_table(index="seed", columns="init", values="primary")
        assert row["delta_mean"] == pytest.approx((by_arm["pretrained"] - by_arm["random"]).mean())
        assert row["treatment_mean"] == pytest.approx(by_arm["pretrained"].mean())
        assert row["control_mean"] == pytest.approx(by_arm["random"].mean())
        assert row["treatment_lr"] == row["control_lr"] == pytest.approx(1e-3)  # --set train.lr, no selection
    assert by_model.loc[by_model["model"] == "tiny-electra", "parameters"].iloc[0] < \
        by_model.loc[by_model["model"] == "tiny", "parameters"].iloc[0]  # a 1000-token vocabulary against 30522
    summary = pd.read_csv(report / "summary.csv")
    trained_rows = summary[summary["arm"].isin(["pretrained", "random"])]
    assert set(trained_rows["n"]) == {2}  # the main condition (tiny, all items): 2 seeds, not 8 units pooled
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "main condition" in text and "## Model and data axes" in text
    assert "| pretrained (lr) " in text and f"{by_size['treatment_mean'].iloc[0]:.3f} (1e-3)" in text
    assert "![scores_by_train_size](scores_by_train_size.png)" in text and (report / "scores_by_model.png").exists()
    assert (by_size["treatment_ci_low"] <= by_size["treatment_mean"]).all()
    assert (by_size["control_mean"] <= by_size["control_ci_high"]).all()
    majority = pd.read_csv(report / "summary.csv")  # the main condition's baseline = the by-size row at size 0
    majority = majority.loc[majority["arm"] == "majority", "mean"].iloc[0]
    assert by_size.loc[by_size["train_limit"] == 0, "baseline_majority"].iloc[0] == pytest.approx(majority)
    assert "![delta_by_model](delta_by_model.png)" in text and "![delta_by_train_size](delta_by_train_size.png)" in text


def test_the_delta_by_size_figure_gives_each_task_its_own_panel_and_scale():
    """Tasks differ in metric and in how far Δ moves (0.35 MCC against 0.02 macro-F1): one shared axis hid the
    small ones, so each task gets a panel, its points at the frame's Δ."""
    from crossdomain.report.figures import axis_figure

    frame = pd.DataFrame([
        {"task": task, "metric": metric, "train_limit": size, "train_items": size, "model": "tiny",
         "delta_mean": delta, "delta_ci_low": delta - 0.01, "delta_ci_high": delta + 0.01, "pairs": 6}
        for task, metric, deltas in (("dna/splice", "mcc", (0.35, 0.08)), ("music/region", "macro_f1", (0.09, 0.02)))
        for size, delta in zip((64, 2000), deltas)])
    figure = axis_figure(frame, "train_limit", ("pretrained", "random"))
    shown = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["dna/splice", "music/region"]
    assert [ax.get_ylabel() for ax in shown] == ["Δ mcc", "Δ macro_f1"]
    for ax, expected in zip(shown, ((0.35, 0.08), (0.09, 0.02))):
        points = [line for line in ax.get_lines() if line.get_marker() == "o"]
        assert list(points[0].get_ydata()) == pytest.approx(expected)
    assert shown[1].get_ylim()[1] < 0.2 < shown[0].get_ylim()[1]  # music/region on its own scale, not splice's
