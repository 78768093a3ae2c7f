"""Report statistics against hand-computed values, unpaired/failed handling, LaTeX sanity, figure contents."""
import dataclasses
import json
import math

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from scipy import stats as scipy_stats

from crossdomain.record import UnitRecord
from crossdomain.report import ReportError, figures, speedup, stats, tables, write_report

CURVE = [(0, 0.0, 0.1), (10, 1.0, 0.5), (20, 2.0, 0.78), (30, 3.0, 0.80)]  # (step, seconds, dev)


def write_unit(units, task, init, seed, score, status="ok", n_test=40, fold=0, curve=CURVE, correct=None):
    unit_id = f"{task.replace('/', '-')}__fold{fold}__{init}__seed{seed}__map0__x"
    record = UnitRecord(
        unit_id=unit_id, status=status, error=None if status == "ok" else "RuntimeError: boom",
        unit={"task": task, "task_version": "1", "fold": fold, "init": init, "seed": seed, "mapping_seed": 0,
              "model": "tiny", "mapping": "random", "train": {}},
        metrics={"accuracy": score, "macro_f1": score, "mcc": score, "primary": score, "primary_metric": "accuracy"}
        if status == "ok" else {},
        curve=[{"step": s, "seconds": t, "dev": d} for s, t, d in curve] if status == "ok" else [],
        wall_seconds=12.0, device="cpu", git={"commit": "abc123"}, libraries={"torch": "x"},
    )
    record.write(units / f"{unit_id}.json")
    if status == "ok":
        labels = ["a", "b"] * (n_test // 2)
        hits = correct if correct is not None else int(round(score * n_test))
        predictions = [label if i < hits else ("b" if label == "a" else "a") for i, label in enumerate(labels)]
        pd.DataFrame({"id": [f"i{i}" for i in range(n_test)], "label": labels, "prediction": predictions}).to_csv(
            units / f"{unit_id}.predictions.csv", index=False)
    return unit_id


def test_a_task_with_only_lr_selection_units_is_named_as_absent_from_the_tables(run_dir, tmp_path):
    path = run_dir / "units" / f"{write_unit(run_dir / 'units', 'protein/fluorescence', 'random', 0, 0.1)}.json"
    data = json.loads(path.read_text())
    data["roles"], data["unit"]["train"] = ["selection"], {"lr": 1e-4}
    path.write_text(json.dumps(data))
    report = (write_report([run_dir], tmp_path / "report") / "report.md").read_text()
    assert ("- tasks: dna/splice, music/my_task; without main units, so in none of the tables below: "
            "protein/fluorescence (its lr-selection or baseline units only)") in report
    assert "1 lr-selection only" in report and "| protein/fluorescence" not in report


def test_a_run_still_in_lr_selection_says_why_it_has_nothing_to_report(tmp_path):
    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    for seed, init in enumerate(["pretrained", "random", "random"]):
        path = units / f"{write_unit(units, 'dna/splice', init, seed, 0.7)}.json"
        record = UnitRecord.load(path)
        record.roles = ["selection"]
        record.write(path)
    with pytest.raises(ReportError, match="no finished main-grid units .*3 lr-selection and 0 baseline units"):
        write_report([tmp_path / "run"], tmp_path / "report")


@pytest.fixture
def run_dir(tmp_path):
    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    for seed, (p, r) in enumerate([(0.80, 0.70), (0.86, 0.72), (0.90, 0.81)]):
        write_unit(units, "dna/splice", "pretrained", seed, p)
        write_unit(units, "dna/splice", "random", seed, r)
    write_unit(units, "dna/splice", "pretrained", 3, 0.88)  # its random partner is missing
    write_unit(units, "dna/splice", "random", 4, 0.0, status="failed")
    write_unit(units, "music/my_task", "pretrained", 0, 0.75, correct=30)
    write_unit(units, "music/my_task", "random", 0, 0.5, correct=20)
    return tmp_path / "run"


def test_arm_statistics_match_hand_computed_values(run_dir):
    table = stats.load_units([run_dir])
    arms = stats.summarise_arms(table).set_index(["task", "arm"])
    random_arm = arms.loc[("dna/splice", "random")]
    assert random_arm["n"] == 3
    assert random_arm["mean"] == pytest.approx((0.70 + 0.72 + 0.81) / 3)
    assert random_arm["std"] == pytest.approx(np.std([0.70, 0.72, 0.81], ddof=1))
    half = scipy_stats.t.ppf(0.975, 2) * random_arm["std"] / math.sqrt(3)
    assert random_arm["ci_low"] == pytest.approx(random_arm["mean"] - half)
    assert arms.loc[("dna/splice", "pretrained"), "n"] == 4  # the unpaired unit still counts for its arm
    assert arms.loc[("music/my_task", "pretrained"), "ci_method"] == "bootstrap over test items"


def test_paired_difference_interval_and_wilcoxon(run_dir):
    table = stats.load_units([run_dir])
    pairs, unpaired = stats.pair_units(table, "pretrained", "random")
    deltas = stats.paired_differences(table, pairs).set_index("task")
    splice = deltas.loc["dna/splice"]
    assert splice["pairs"] == 3
    assert splice["delta_mean"] == pytest.approx(0.11)
    # by hand: deltas 0.10, 0.14, 0.09; sd = sqrt(0.0014 / 2); t(0.975, 2) = 4.302653
    assert splice["delta_ci_low"] == pytest.approx(0.11 - 4.302653 * math.sqrt(0.0007) / math.sqrt(3), abs=1e-6)
    assert splice["delta_ci_high"] == pytest.approx(0.175725, abs=1e-5)
    assert splice["p_value"] == pytest.approx(scipy_stats.wilcoxon([0.10, 0.14, 0.09]).pvalue)
    assert splice["p_value"] == pytest.approx(0.25)  # exact: 2 × (1/2)^3
    # the unpaired pretrained seed 3 and the failed unit are listed, never paired
    assert set(unpaired["seed"]) == {3, 4} and set(unpaired["status"]) == {"ok", "failed"}
    assert 3 not in set(pairs["seed"])


def test_single_pair_uses_a_paired_bootstrap_over_items(run_dir):
    table = stats.load_units([run_dir])
    pairs, _ = stats.pair_units(table, "pretrained", "random")
    row = stats.paired_differences(table, pairs).set_index("task").loc["music/my_task"]
    assert row["pairs"] == 1 and row["delta_mean"] == pytest.approx(0.25)
    assert row["ci_method"] == "paired bootstrap over test items" and math.isnan(row["p_value"])
    assert row["delta_ci_low"] < 0.25 < row["delta_ci_high"]


def test_convergence_by_hand():
    measures = stats.convergence([{"step": s, "seconds": t, "dev": d} for s, t, d in CURVE])
    assert measures["dev_auc"] == pytest.approx((3 + 6.4 + 7.9) / 30)
    assert (measures["best_dev"], measures["final_dev"]) == (0.80, 0.80)


def test_steps_to_a_common_target_interpolate_and_count_a_unit_that_never_reaches_it():
    curve = [{"step": s, "dev": d} for s, _, d in CURVE]  # 0.1, 0.5, 0.78, 0.80 at steps 0, 10, 20, 30
    assert speedup.steps_to(curve, 0.64) == (pytest.approx(15.0), True)  # halfway from 0.5 (10) to 0.78 (20)
    assert speedup.steps_to(curve, 0.05) == (0.0, True)
    assert speedup.steps_to(curve, 0.9) == (30.0, False)


def test_speedup_is_the_ratio_of_mean_steps_to_the_lower_arms_target(tmp_path):
    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    fast = [(0, 0.0, 0.0), (10, 1.0, 0.8), (20, 2.0, 0.9), (40, 4.0, 0.9)]
    slow = [(0, 0.0, 0.0), (10, 1.0, 0.2), (20, 2.0, 0.4), (40, 4.0, 0.8)]
    for seed in range(3):
        write_unit(units, "dna/splice", "pretrained", seed, 0.9, curve=fast)
        write_unit(units, "dna/splice", "random", seed, 0.8, curve=slow)
    table = stats.load_units([tmp_path / "run"])
    pairs, _ = stats.pair_units(table, "pretrained", "random")
    (row,) = speedup.speedups(table.records, pairs).to_dict("records")
    assert row["target"] == pytest.approx(0.9 * 0.8)  # the lower arm's mean best dev
    # pretrained: 0.72 between 0 (step 0) and 0.8 (step 10) → 9 steps; random: between 0.4 (20) and 0.8 (40) → 36
    assert row["treatment_steps"] == pytest.approx(9.0) and row["control_steps"] == pytest.approx(36.0)
    assert row["speedup"] == pytest.approx(4.0) and row["speedup_ci_low"] == pytest.approx(4.0)
    assert row["treatment_censored"] == row["control_censored"] == 0


def test_holm_adjusts_within_the_family_and_leaves_untested_tasks_out():
    adjusted = stats.holm([0.01, 0.04, float("nan"), 0.03])
    assert adjusted[0] == pytest.approx(0.03) and adjusted[3] == pytest.approx(0.06)
    assert adjusted[1] == pytest.approx(0.06) and math.isnan(adjusted[2])  # monotone: max(0.04 × 1, 0.06)


def test_units_still_improving_or_at_their_initial_weights_are_named_with_the_reason(run_dir):
    path = next((run_dir / "units").glob("dna-splice__fold0__random__seed1*.json"))
    record = UnitRecord.load(path)
    record.best_step, record.steps = 0, 30
    record.curve = [{"step": 0, "seconds": 0, "dev": 0.9}, {"step": 30, "seconds": 3, "dev": 0.5}]
    record.write(path)
    path = next((run_dir / "units").glob("dna-splice__fold0__random__seed2*.json"))
    record = UnitRecord.load(path)
    record.best_step, record.steps = 30, 30  # CURVE peaks at its last evaluation
    record.write(path)
    path = next((run_dir / "units").glob("dna-splice__fold0__random__seed0*.json"))
    record = UnitRecord.load(path)
    record.config = {**record.config, "early_stopping_patience": 2, "early_stopping_min_steps": 20, "eval_every": 10}
    record.best_step, record.steps = 10, 20
    record.curve = [{"step": 0, "seconds": 0, "dev": 0.4}, {"step": 10, "seconds": 1, "dev": 0.6},
                    {"step": 20, "seconds": 2, "dev": 0.5}]
    record.write(path)
    out = write_report([run_dir], run_dir / "report")
    report = (out / "report.md").read_text()
    assert "kept its initial weights: no dev evaluation beat step 0 in 30 steps" in report
    # the curve's best before step 27 (90% of 30) is 0.78, at step 20; its last evaluation reached 0.80
    assert "still improving: best dev at step 30 of 30, +0.020 on its best before step 27" in report
    assert "stopped at the minimum: early stopping ended it at step 20, the first it allowed, with its best dev at " \
           "step 10" in report
    summary = pd.read_csv(out / "summary.csv")
    random_splice = summary[(summary["task"] == "dna/splice") & (summary["arm"] == "random")]
    assert random_splice[["still_improving", "stopped_at_minimum", "initial_weights"]].values.tolist() == [[1, 1, 1]]


def test_latex_table_is_sane(run_dir):
    write_report([run_dir], run_dir / "report")
    tex = (run_dir / "report" / "summary.tex").read_text()
    assert tex.startswith(r"\begin{table}") and tex.rstrip().endswith(r"\end{table}")
    assert tex.count("{") == tex.count("}")
    assert r"music/my\_task" in tex and "my_task" not in tex.replace(r"my\_task", "")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert tex.count(r"\textbf{") == 2  # best arm per task
    assert "±" not in tex and "Δ" not in tex  # written as LaTeX math, not raw unicode


def test_report_files_and_markdown(run_dir):
    out = write_report([run_dir], run_dir / "report")
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4 and {"delta_mean", "p_value", "p_holm", "best_dev_mean", "dev_auc_mean", "ci_method",
                                  "initial_weights"} <= set(summary)
    report = (out / "report.md").read_text()
    assert "dna-splice__fold0__random__seed4__map0__x" in report and "boom" in report  # the failed unit is listed
    assert "![forest_pretrained_vs_random](forest_pretrained_vs_random.png)" in report
    assert not (out / "forest.png").exists()  # one file per contrast, no unprefixed duplicate
    assert "smallest two-sided Wilcoxon p attainable is 0.25" in report  # 3 pairs: 2 / 2**3
    assert "+0.110" in (out / "summary.md").read_text()
    per_seed = pd.read_csv(out / "per_seed_dna-splice.csv")
    # seeds 0-3; the failed seed 4 is listed in report.md
    assert list(per_seed.columns[-2:]) == ["pretrained", "random"] and len(per_seed) == 4


def test_figures_are_valid_images_with_the_expected_elements(run_dir):
    out = write_report([run_dir], run_dir / "report")
    image = mpimg.imread(out / "bars.png")
    assert image.shape[:2] == (int(3.0 * figures.PNG_DPI), int(figures.SINGLE_COLUMN_IN * figures.PNG_DPI))
    assert image.std() > 0.01  # not blank
    for ext in ("pdf", "svg"):
        assert (out / f"forest_pretrained_vs_random.{ext}").stat().st_size > 1000

    table = stats.add_convergence(stats.load_units([run_dir]))
    arm_stats = stats.summarise_arms(table)
    bars = figures.bars_figure(arm_stats, table.ok, ["pretrained", "random"])
    ax = bars.axes[0]
    assert len(ax.patches) == 4  # 2 tasks × 2 arms
    heights = sorted(round(p.get_height(), 4) for p in ax.patches)
    assert heights == sorted(round(v, 4) for v in arm_stats["mean"])
    dots = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert dots == len(table.ok)  # one dot per finished unit

    pairs, _ = stats.pair_units(table, "pretrained", "random")
    forest = figures.forest_figure(stats.paired_differences(table, pairs)).axes[0]
    assert len(forest.lines) == 2 * 2 + 1  # interval + point per task, and the zero line

    curves = figures.curves_figure(stats.curves_frame(table), ["pretrained", "random"], ["dna/splice", "music/my_task"])
    assert [len(a.lines) for a in curves.axes if a.get_visible()] == [2, 2]


def test_curve_panels_span_the_units_scores_not_a_two_seed_interval(tmp_path):
    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    for seed, final in enumerate([0.9, 0.1]):  # two seeds far apart: their t-interval is about ±5
        write_unit(units, "dna/splice", "random", seed, final, curve=[(0, 0.0, 0.0), (10, 1.0, final)])
    table = stats.load_units([tmp_path / "run"])
    ax = figures.curves_figure(stats.curves_frame(table), ["random"], ["dna/splice"]).axes[0]
    low, high = ax.get_ylim()
    assert math.isclose(low, -0.045) and math.isclose(high, 0.945)  # 0..0.9 with 5% margins


def test_figures_are_deterministic(run_dir):
    first = write_report([run_dir], run_dir / "r1")
    second = write_report([run_dir], run_dir / "r2")
    for name in ("bars.svg", "forest_pretrained_vs_random.pdf", "curves.png", "figures.tex"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


# -- N arms: contrasts and recovered fraction ---------------------------------------------------------

SCORES = {  # seed → (pretrained, random, stats-matched)
    0: (0.90, 0.60, 0.70), 1: (0.86, 0.62, 0.66), 2: (0.92, 0.58, 0.73), 3: (0.88, 0.61, 0.69),
}


@pytest.fixture
def three_arm_run(tmp_path):
    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    for seed, scores in SCORES.items():
        for arm, score in zip(("pretrained", "random", "stats-matched"), scores):
            write_unit(units, "dna/splice", arm, seed, score)
    write_unit(units, "dna/splice", "stats-matched", 9, 0.5)  # no pretrained/random partner
    return tmp_path / "run"


def test_fieller_interval_endpoints_are_where_the_paired_t_test_turns():
    gained = np.array([0.10, 0.06, 0.15, 0.08, 0.12])
    benefit = np.array([0.30, 0.24, 0.34, 0.27, 0.31])
    ratio, low, high, status = stats.fieller_interval(gained, benefit)
    assert status == "bounded" and ratio == pytest.approx(gained.mean() / benefit.mean())
    assert low < ratio < high
    t_critical = scipy_stats.t.ppf(0.975, len(gained) - 1)
    for theta in (low, high):  # by definition: the t statistic of gained − θ·benefit is exactly ± t_critical there
        residual = gained - theta * benefit
        t = residual.mean() / (residual.std(ddof=1) / math.sqrt(len(residual)))
        assert abs(t) == pytest.approx(t_critical, rel=1e-9)
    # pretrained ≈ random: the advantage to recover is not established, so the fraction is unbounded
    assert stats.fieller_interval([0.1, -0.1, 0.05], [0.02, -0.03, 0.01])[3] == "unbounded"
    assert stats.fieller_interval([0.1], [0.2])[3] == "undefined"


def test_seeds_for_a_half_width_goal_are_where_the_fieller_interval_first_meets_it():
    gained = np.array([0.10, 0.06, 0.15, 0.08, 0.12])
    benefit = np.array([0.30, 0.24, 0.34, 0.27, 0.31])
    covariance = np.cov(gained, benefit, ddof=1)

    def half_width(n):
        low, high, status = stats.fieller_bounds(gained.mean(), benefit.mean(), covariance, n)
        return (high - low) / 2 if status == "bounded" else math.inf

    _, low, high, _ = stats.fieller_interval(gained, benefit)
    assert half_width(5) == pytest.approx((high - low) / 2)  # the projection starts from the observed interval
    assert half_width(5) > 0.05
    needed = stats.pairs_for_half_width(gained, benefit, 0.05)
    assert needed > 5 and half_width(needed) <= 0.05 < half_width(needed - 1)
    assert stats.pairs_for_half_width(gained, benefit, (high - low) / 2 + 1e-9) <= 5  # already met
    # no advantage to recover (benefit centred on 0): no number of seeds bounds the fraction
    assert stats.pairs_for_half_width(gained, benefit - benefit.mean() + 1e-4, 0.3, most=50) is None


def test_every_arm_is_contrasted_with_random_and_recovered_fraction_is_by_hand(three_arm_run):
    out = write_report([three_arm_run], three_arm_run / "report")
    contrasts = pd.read_csv(out / "contrasts.csv")
    assert set(zip(contrasts["treatment"], contrasts["control"])) == {("pretrained", "random"), ("stats-matched", "random")}
    deltas = contrasts.set_index("treatment")
    assert deltas.loc["stats-matched", "delta_mean"] == pytest.approx(np.mean([s - r for _, r, s in SCORES.values()]))
    assert deltas.loc["stats-matched", "pairs"] == 4  # seed 9 has no random partner
    recovered = pd.read_csv(out / "recovered.csv").set_index("arm").loc["stats-matched"]
    by_hand = np.mean([s - r for _, r, s in SCORES.values()]) / np.mean([p - r for p, r, _ in SCORES.values()])
    assert recovered["recovered"] == pytest.approx(by_hand) and recovered["n"] == 4
    assert recovered["interval"] == "bounded" and recovered["ci_low"] < by_hand < recovered["ci_high"]
    report = (out / "report.md").read_text()
    assert "## Recovered fraction" in report and "Fieller" in report
    gained = [s - r for _, r, s in SCORES.values()]
    benefit = [p - r for p, r, _ in SCORES.values()]
    needed = stats.pairs_for_half_width(gained, benefit, stats.RECOVERED_HALF_WIDTH_GOAL)
    met = recovered["half_width"] <= stats.RECOVERED_HALF_WIDTH_GOAL
    assert recovered["pairs_for_goal"] == needed and met == (needed <= 4)
    seeds_section = report.split("### Seeds for a recovered fraction")[1].split("\n\n")[1]
    assert ("met (4)" if met else f"≈ {needed}") in seeds_section
    assert "no partner under stats-matched − random" in report  # seed 9 listed, never silently dropped
    for name in ("forest_pretrained_vs_random.png", "forest_stats-matched_vs_random.png", "recovered.png"):
        assert (out / name).stat().st_size > 1000, name
    head = (out / "summary.md").read_text().splitlines()[0]
    assert head.index("pretrained") < head.index("random") < head.index("stats-matched")


def test_recovered_tables_give_the_matched_seeds_as_a_range_where_arms_differ():
    from crossdomain.report import captions, tables

    rows = pd.DataFrame({"task": ["t/a", "t/a", "t/b"], "arm": ["stats-matched", "frozen", "stats-matched"],
                         "n": [12, 6, 6], "recovered": [0.5, 0.2, 1.0], "ci_low": [0.1, -0.5, 0.4],
                         "ci_high": [0.9, 0.9, 1.6], "interval": ["bounded"] * 3})
    table = tables.recovered_table(rows, ["stats-matched", "frozen"]).set_index("task")
    assert table.loc["t/a", "n"] == "6–12" and table.loc["t/b", "n"] == "6"
    assert table.loc["t/a", "frozen"] == "0.20 [-0.50, 0.90]" and table.loc["t/b", "frozen"] == "–"
    assert "over 6–12 seed-matched units (per task and arm" in captions.recovered("p", "r", tables.count_range(rows["n"]))
    assert "over 6 seed-matched units." in captions.recovered("p", "r", tables.count_range([6, 6]))


def test_suite_contrasts_from_run_json_replace_the_default(three_arm_run):
    (three_arm_run / "run.json").write_text(json.dumps({
        "arms": ["stats-matched", "random", "pretrained"],
        "suite": {"contrasts": [["pretrained", "stats-matched"]]}}))
    out = write_report([three_arm_run], three_arm_run / "r")
    contrasts = pd.read_csv(out / "contrasts.csv")
    assert list(zip(contrasts["treatment"], contrasts["control"])) == [("pretrained", "stats-matched")]
    assert contrasts["delta_mean"].iloc[0] == pytest.approx(np.mean([p - s for p, _, s in SCORES.values()]))
    head = (out / "summary.md").read_text().splitlines()[0]
    assert head.index("stats-matched") < head.index("random") < head.index("pretrained")  # the suite's order


def test_the_plans_full_and_reference_arms_define_recovered_fractions_and_default_contrasts(three_arm_run):
    (three_arm_run / "run.json").write_text(json.dumps({
        "arms": ["pretrained", "random", "stats-matched"], "full_arm": "stats-matched", "reference_arm": "random"}))
    out = write_report([three_arm_run], three_arm_run / "r")
    contrasts = pd.read_csv(out / "contrasts.csv")
    assert list(dict.fromkeys(zip(contrasts["treatment"], contrasts["control"]))) == [
        ("stats-matched", "random"), ("pretrained", "random")]  # the declared full arm's contrast first
    recovered = pd.read_csv(out / "recovered.csv").set_index("arm")
    assert list(recovered.index) == ["pretrained"] and recovered.loc["pretrained", "full"] == "stats-matched"
    by_hand = np.mean([p - r for p, r, _ in SCORES.values()]) / np.mean([s - r for _, r, s in SCORES.values()])
    assert recovered.loc["pretrained", "recovered"] == pytest.approx(by_hand)
    assert "(arm − random) / (stats-matched − random)" in (out / "report.md").read_text()


def test_a_run_of_a_third_party_arm_is_reported_without_its_plugin(tmp_path):
    """The plan holds canonical contrasts: the report never asks the init registry about an arm."""
    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    for seed, (p, r, _) in SCORES.items():
        write_unit(units, "dna/splice", "my-lab-arm:depth=2", seed, p)
        write_unit(units, "dna/splice", "random", seed, r)
    (tmp_path / "run" / "run.json").write_text(json.dumps({
        "arms": ["my-lab-arm:depth=2", "random"], "contrasts": [["my-lab-arm:depth=2", "random"]],
        "suite": {"contrasts": [["my-lab-arm:depth=2", "random"]]}}))
    out = write_report([tmp_path / "run"], tmp_path / "report")
    contrasts = pd.read_csv(out / "contrasts.csv")
    assert list(zip(contrasts["treatment"], contrasts["control"])) == [("my-lab-arm:depth=2", "random")]
    assert contrasts["delta_mean"].iloc[0] == pytest.approx(np.mean([p - r for p, r, _ in SCORES.values()]))


def test_recovered_figure_draws_one_interval_per_arm_and_task(three_arm_run):
    table = stats.load_units([three_arm_run])
    recovered = stats.recovered_fractions(table, "pretrained", "random")
    figure = figures.recovered_figure(recovered, ["pretrained", "random", "stats-matched"])
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["stats-matched"]
    assert len(ax.lines) == 2 + 2  # interval + point, and the reference lines at 0 and 1


def test_report_and_runner_name_no_arm_but_the_reference_ones():
    """Adding an arm must not need an edit here: arm names come from the data and crossdomain.inits."""
    from pathlib import Path

    import crossdomain
    from crossdomain.inits import INITS

    package = Path(crossdomain.__file__).parent
    sources = [package / "run" / "grid.py", package / "run" / "units.py", package / "training" / "stages.py",
               *(package / "report").glob("*.py")]
    for path in sources:
        text = path.read_text()
        for name in INITS.names():
            assert f'"{name}"' not in text and f"'{name}'" not in text, f"{path.name} names the arm {name!r}"


def test_learning_rates_and_per_seed_scores_are_written_for_reading():
    assert [tables.lr_text(v) for v in (3e-5, 1e-4, 2.5e-4, 1e-3, 0.01)] == ["3e-5", "1e-4", "2.5e-4", "1e-3", "1e-2"]
    frame = pd.DataFrame({"seed": pd.array([0, 1], dtype="Int64"), "pretrained": [0.80945, float("nan")]})
    assert tables.rounded(frame).to_dict("list") == {"seed": [0, 1], "pretrained": ["0.809", "–"]}


def test_a_chosen_lr_on_an_edge_of_its_grid_is_marked():
    rows = [("t", "pretrained", lr, lr == 3e-5) for lr in (3e-5, 1e-4, 3e-4)]  # chose its smallest
    rows += [("t", "random", lr, lr == 1e-4) for lr in (3e-5, 1e-4, 3e-4)]  # inside
    rows += [("u", "random", lr, lr == 1e-3) for lr in (1e-4, 1e-3)]  # its largest
    rows += [("u", "pretrained", 2e-4, True)]  # a one-value grid has no edge to speak of
    frame = pd.DataFrame(rows, columns=["task", "arm", "lr", "chosen"])
    edges = tables.grid_edges(frame).set_index(["task", "arm"])["edge"].to_dict()
    assert edges == {("t", "pretrained"): "bottom", ("t", "random"): "", ("u", "pretrained"): "",
                     ("u", "random"): "top"}
    table = tables.chosen_lr_table(frame).set_index("task")
    assert table.loc["t", "pretrained"] == "3e-5 (bottom of grid)" and table.loc["t", "random"] == "1e-4"
    assert table.loc["u", "random"] == "1e-3 (top of grid)" and table.loc["u", "pretrained"] == "2e-4"


def test_seeds_and_folds_stay_integers_in_the_report(run_dir, tmp_path):
    report = (write_report([run_dir], tmp_path / "report") / "report.md").read_text()
    assert "- seeds: [0, 1, 2, 3]; mapping seeds: [0]" in report
    splice = report.split("### dna/splice")[1].split("###")[0]
    first_row = [cell.strip() for cell in splice.strip().splitlines()[2].strip("|").split("|")]
    assert first_row == ["0", "0", "0", "0.800", "0.700"]  # fold, mapping seed, seed, pretrained, random


def test_the_report_states_the_precision_and_flags_a_mixed_run(run_dir, tmp_path):
    report = (write_report([run_dir], tmp_path / "one") / "report.md").read_text()
    assert "- precision: not recorded (9 trained units)" in report  # these hand-written records carry none
    for path in sorted((run_dir / "units").glob("*.json")):
        record = UnitRecord.load(path)
        record.precision = "bf16" if record.unit.seed == 0 else "fp32"
        record.write(path)
    report = (write_report([run_dir], tmp_path / "mixed") / "report.md").read_text()
    assert "- precision: **mixed**: bf16 (4 trained units), fp32 (5 trained units)." in report
    for path in sorted((run_dir / "units").glob("*.json")):
        record = UnitRecord.load(path)
        record.precision, record.eval_precision = "bf16", "fp32" if record.unit.seed == 0 else "bf16"
        record.write(path)
    report = (write_report([run_dir], tmp_path / "evaluation") / "report.md").read_text()
    assert ("- precision: bf16 (9 trained units) (bf16 autocast; weights, optimiser and loss in fp32); evaluated in "
            "bf16 (5), fp32 (4): outputs that barely vary") in report


def test_a_speedup_interval_with_an_unbounded_tail_says_inf_not_nan():
    import numpy as np

    low, high = speedup.ratio_interval(np.array([10.0, 20.0, 30.0]), np.array([0.0, 0.0, 10.0]))
    assert high == np.inf and 0 < low < np.inf


def test_an_arm_whose_every_lr_kept_its_initial_weights_is_said_unable_to_learn(run_dir):
    """frozen arms on a hard task can sit at step 0 at every lr: the report says that is the arm, not the budget."""
    units = run_dir / "units"
    flat = [(0, 0.0, 0.5), (10, 1.0, 0.5), (20, 2.0, 0.4), (30, 3.0, 0.5)]  # never beats step 0
    for seed, lr in enumerate([1e-3, 1e-2]):
        path = units / f"{write_unit(units, 'dna/splice', 'random', 10 + seed, 0.5, curve=flat)}.json"
        record = UnitRecord.load(path)
        record.unit = dataclasses.replace(record.unit, train={"lr": lr})
        record.roles, record.best_step, record.steps = ["selection"], 0, 30
        record.write(path)
    path = next(units.glob("dna-splice__fold0__random__seed1*.json"))
    record = UnitRecord.load(path)
    record.best_step, record.steps, record.curve = 0, 30, [{"step": s, "seconds": t, "dev": d} for s, t, d in flat]
    record.write(path)
    table = stats.load_units([run_dir])
    from crossdomain.report import convergence

    unable = convergence.unlearnable_arms(table)
    assert unable[["task", "arm"]].values.tolist() == [["dna/splice", "random"]]
    assert unable["grid"].iloc[0] == [1e-3, 1e-2]
    report = (write_report([run_dir], run_dir / "report") / "report.md").read_text()
    assert "**random cannot learn dna/splice at any lr of its grid** (1e-3, 1e-2)" in report
    assert "no dev evaluation beat step 0 in 30 steps; no lr of its grid learned" in report
    # one selection unit that learned is enough to withdraw the statement
    path = next(units.glob("dna-splice__fold0__random__seed11*.json"))
    record = UnitRecord.load(path)
    record.best_step = 10
    record.write(path)
    assert convergence.unlearnable_arms(stats.load_units([run_dir])).empty


def test_the_report_names_library_versions_and_cpus_and_flags_units_that_differ(run_dir, tmp_path):
    report = (write_report([run_dir], tmp_path / "one") / "report.md").read_text()
    assert "- versions: torch x\n" in report and "- machines: not recorded (9 units)" in report
    for path in sorted((run_dir / "units").glob("*.json")):
        record = UnitRecord.load(path)
        newer = record.unit.seed == 0
        record.libraries = {"torch": "x", "transformers": "5.25.0" if newer else "5.24.0"}
        record.machine = {"cpu": "AMD EPYC" if newer else "Intel Xeon", "cpu_bf16": "avx512_bf16" if newer else "amx"}
        record.write(path)
    report = (write_report([run_dir], tmp_path / "mixed") / "report.md").read_text()
    # 10 units (a failed one too) carry versions; the 9 trained ones that finished ran on a CPU
    assert ("- versions: torch x; **differing between units**: transformers 5.24.0 (6 units) / 5.25.0 (4 units)\n"
            in report)
    assert "- machines: Intel Xeon, native bf16: amx (5 units) / AMD EPYC, native bf16: avx512_bf16 (4 units)" in report
    from crossdomain.report.build import cpus_line

    on_gpu = UnitRecord.load(next(p for p in sorted((run_dir / "units").glob("*.json"))
                                  if UnitRecord.load(p).ok and UnitRecord.load(p).unit.seed == 0))
    on_gpu.device, on_gpu.machine = "NVIDIA H200", {"cpu": "GPU Host CPU", "cpu_bf16": None}  # as a GPU unit records
    on_gpu.write(on_gpu.path)
    line = cpus_line([UnitRecord.load(p) for p in sorted((run_dir / "units").glob("*.json"))])
    assert line == ("- machines: Intel Xeon, native bf16: amx (5 units) / AMD EPYC, native bf16: avx512_bf16 (3 units)"
                    " / NVIDIA H200 (1 units)")


def test_the_units_line_counts_main_selection_only_and_baseline_units_apart(tmp_path):
    from crossdomain.report.build import units_line

    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    roles = {0: ["main"], 1: ["main", "selection"], 2: ["selection"], 3: ["selection"]}
    for seed, role in roles.items():
        path = units / f"{write_unit(units, 'dna/splice', 'random', seed, 0.7)}.json"
        record = UnitRecord.load(path)
        record.roles = role
        record.write(path)
    write_unit(units, "dna/splice", "pretrained", 9, 0.7, status="failed")
    baseline = UnitRecord(unit_id="dna-splice__fold0__majority", status="ok", error=None,
                          unit={"task": "dna/splice", "task_version": "1", "fold": 0, "baseline": "majority", "data": {}},
                          metrics={"accuracy": 0.5, "primary_metric": "accuracy"})
    baseline.write(units / f"{baseline.unit_id}.json")
    line = units_line(stats.load_units([tmp_path / "run"]))
    assert line == "- units: 5 finished (2 main, 2 lr-selection only, 1 baseline), 1 failed"


def test_a_run_stopped_part_way_says_how_many_planned_units_it_lacks(three_arm_run):
    units = three_arm_run / "units"
    finished = sorted(path.stem for path in units.glob("*.json"))
    planned = [{"id": unit_id, "task": "dna/splice", "arm": "x", "phase": "main"} for unit_id in finished]
    planned += [{"id": "dna-splice__fold0__random__seed9__map0__x", "task": "dna/splice", "arm": "random",
                 "phase": "main"},  # never run
                {"id": None, "task": "music/my_task", "arm": "random", "phase": "main", "awaiting": "lr selection"},
                {"id": None, "task": "music/my_task", "arm": "pretrained", "phase": "main", "awaiting": "lr selection"},
                {"id": None, "task": "music/my_task", "arm": "stats-matched", "phase": "main",
                 "awaiting": "lr selection", "reuses_selection_unit": True}]  # counted as its selection unit
    planned.append({"id": "music-my_task__sel", "task": "music/my_task", "arm": "stats-matched",
                    "phase": "selection"})  # that selection unit, not run
    write_unit(units, "dna/splice", "random", 10, 0.1, status="failed")
    planned.append({"id": "dna-splice__fold0__random__seed10__map0__x", "task": "dna/splice", "arm": "random",
                    "phase": "main"})  # failed: not finished either
    (three_arm_run / "run.json").write_text(json.dumps({"arms": ["pretrained", "random", "stats-matched"],
                                                        "units": planned}))
    report = (write_report([three_arm_run], three_arm_run / "r") / "report.md").read_text()
    assert "- **not finished: 5 planned units** (dna/splice 2, music/my_task 3) have no finished record" in report
    (three_arm_run / "run.json").write_text(json.dumps({"arms": ["pretrained", "random", "stats-matched"],
                                                        "units": planned[:len(finished)]}))
    assert "not finished" not in (write_report([three_arm_run], three_arm_run / "r") / "report.md").read_text()


def test_a_unit_without_partners_under_several_contrasts_is_listed_once_with_all_of_them():
    unpaired = pd.DataFrame({
        "unit_id": ["u-random-3", "u-random-3", "u-failed", "u-random-1"],
        "status": ["ok", "ok", "failed", "ok"], "task": ["t/a", "t/a", "t/a", "t/a"],
        "init": ["random", "random", "frozen", "random"], "seed": [3, 3, 0, 1],
        "reason": [f"{stats.NO_PARTNER} k=1 − random", f"{stats.NO_PARTNER} k=3 − random", "failed",
                   f"{stats.NO_PARTNER} k=1 − random"], "error": [None, None, "boom", None]})
    table = tables.unpaired_table(unpaired)
    assert list(table["unit_id"]) == ["u-failed", "u-random-1", "u-random-3"]
    assert table.set_index("unit_id").loc["u-random-3", "reason"] == "no partner under k=1 − random, k=3 − random"
    assert table.set_index("unit_id").loc["u-failed", "reason"] == "failed"


def test_seeds_for_the_goal_are_not_projected_from_one_matched_seed():
    rows = pd.DataFrame({"task": ["t/a", "t/a"], "arm": ["shuffled", "frozen"], "n": [12, 1],
                         "recovered": [0.2, 0.8], "ci_low": [-0.4, math.nan], "ci_high": [1.2, math.nan],
                         "interval": ["bounded", "undefined"], "half_width": [0.8, math.inf],
                         "pairs_for_goal": [45.0, math.nan]})
    table = tables.seeds_for_goal_table(rows, ["shuffled", "frozen"]).set_index("task")
    assert table.loc["t/a", "shuffled"] == "≈ 45" and table.loc["t/a", "frozen"] == "–"
