"""report.md: the words around the report's tables and figures (the prose a reader sees, kept in one place)."""
from __future__ import annotations

import pandas as pd

from crossdomain.report import aggregate, convergence, speedup, stats, tables
from crossdomain.report.build import ReportData, contrast_figure_name, describe_run, not_yet_run_line
from crossdomain.report.captions import figure_lines as caption_lines
from crossdomain.report.style import BASELINE_STYLES, N_TOO_SMALL, TOO_FEW_RUNS

DASHED_BASELINES = {name for name, style in BASELINE_STYLES.items() if style["linestyle"] == "--"}


def figure_lines(name: str, captions: dict) -> list[str]:
    return caption_lines(name, captions[name]) if name in captions else []


def convergence_lines(table: stats.UnitTable, summary: pd.DataFrame, speedups: pd.DataFrame,
                      captions: dict) -> list[str]:
    conv = summary[["task", "arm", "n", "steps_median", "best_dev_mean", "dev_auc_mean", "still_improving",
                    "stopped_at_minimum", "initial_weights"]]
    flagged = convergence.flagged_units(table)
    lines = ["## Convergence", "", tables.to_markdown(conv.round(3)), "",
             tables.to_markdown(convergence.totals_by_arm(table)), "",
             f"best_dev: the unit's best dev score; dev AUC: its mean dev score over training (area under the dev "
             f"curve ÷ steps); still_improving: units whose best dev score came in the last "
             f"{100 - 100 * stats.STILL_IMPROVING_FRACTION:.0f}% of their steps (more training might help); "
             "stopped_at_minimum: units that early stopping ended at the first step it allowed, their best dev score "
             "from before that minimum (early overfitting, which is fine, or a plateau, which a longer minimum would wait "
             "out: the curves tell which); "
             "initial_weights: units tested with their initial weights (no dev evaluation beat step 0).", ""]
    if not flagged.empty:
        lines += ["### Units to look at: still improving, stopped at the minimum, or at their initial weights", "",
                  tables.to_markdown(tables.rounded(flagged)), ""]
    for row in convergence.unlearnable_arms(table).itertuples():
        lines += [f"**{row.arm} cannot learn {row.task} at any lr of its grid** "
                  f"({', '.join(tables.lr_text(lr) for lr in row.grid)}): no lr-selection unit's dev score beat its "
                  "initial weights (step 0), so its units at their initial weights are the arm's limit under this "
                  "protocol, not under-training.", ""]
    if not speedups.empty:
        shown = speedups[["task", "pairs", "target", "treatment_steps", "control_steps", "treatment_censored",
                          "control_censored", "speedup", "speedup_ci_low", "speedup_ci_high"]]
        lines += ["### Convergence speed-up", "", tables.to_markdown(shown.round(3)), "",
                  f"The steps each arm needs to reach a dev score both reach: per task, the target is "
                  f"{speedup.TARGET_FRACTION:g} × the lower of the two arms' mean best dev scores; each unit's steps "
                  "are read off its dev curve (linear between evaluations); speed-up = mean steps of "
                  f"{speedups['control'].iloc[0]} ÷ mean steps of {speedups['treatment'].iloc[0]} over the pairs, "
                  f"with a 95% percentile bootstrap over pairs ({speedup.RESAMPLES} resamples). A unit that never "
                  "reaches the target counts with all its steps (censored; counted in the table).", "",
                  *figure_lines("speedup", captions)]
    return lines



def headline_lines(data: ReportData, head: pd.DataFrame) -> list[str]:
    lines = ["## Headline", "", tables.to_markdown(head), "",
             "Intervals: t over seeds (pairs for Δ); with one unit per arm, a bootstrap over test items "
             f"({stats.BOOTSTRAP_RESAMPLES} resamples). p: two-sided Wilcoxon signed-rank test over pairs matched on "
             "task, fold, seed and mapping seed; p (Holm): adjusted for the contrast's tasks by Holm's step-down "
             "method.", "", "### Protocol per task", "", tables.to_markdown(convergence.protocol_table(data.table)), ""]
    tested = data.deltas["pairs"][data.deltas["pairs"] >= 2] if not data.deltas.empty else []
    if len(tested) and tested.min() < 6:
        n = int(tested.min())
        lines += [f"With {n} pairs the smallest two-sided Wilcoxon p attainable is {2 / 2**n:.3g}: "
                  "at least 6 pairs (seeds × folds) are needed before p < 0.05 is possible.", ""]
    return lines


def across_tasks_lines(data: ReportData, captions: dict) -> list[str]:
    if data.aggregates.empty:
        return []
    return ["## Across tasks", "", tables.to_markdown(tables.aggregate_table(data.aggregates)), "",
            "P(X > Y), all runs: within each task and fold, the share of all (run of X, run of Y) comparisons "
            "that X wins (ties count ½), averaged over folds, then over tasks. Paired win rate: the share of "
            "the seed-matched pairs that X wins (ties ½). IQM Δ and mean Δ: interquartile mean and mean of the "
            "same paired differences, pooled over tasks, folds and seeds (each task's own metric, so MCC and "
            "macro-F1 are pooled as they are). Intervals: 95% stratified percentile bootstrap "
            f"({aggregate.RESAMPLES} resamples of runs within each stratum), as in rliable; with "
            f"{TOO_FEW_RUNS} or fewer runs per arm in a stratum the interval is not shown "
            f"(*{N_TOO_SMALL}*): so few runs have too few distinct resamples.", "",
            *figure_lines("aggregate", captions)]


def scores_lines(data: ReportData, captions: dict) -> list[str]:
    lines = [*figure_lines("bars", captions), *figure_lines("curves", captions), *figure_lines("scatter", captions),
             *figure_lines("overview", captions)]
    if not data.baselines.empty:
        dashed = [name for name in sorted(set(data.baselines["baseline"])) if name in DASHED_BASELINES]
        styles = f" ({', '.join(dashed)}: dashed)" if dashed else ""
        lines += [f"Baselines are reference columns (†), fitted on exactly the units' train/dev/test items with "
                  f"the same truncation; they are drawn on test-score figures only{styles}.", ""]
    return lines


def contrast_lines(data: ReportData, captions: dict) -> list[str]:
    if data.deltas.empty:
        return []
    rows = tables.contrasts_table(data.deltas)
    lines = ["## Contrasts", ""]
    for treatment, control in data.contrasts:
        label = tables.contrast_label(treatment, control)
        if (rows["contrast"] == label).any():
            lines += [f"### {label}", "", tables.to_markdown(rows[rows["contrast"] == label]), "",
                      *figure_lines(contrast_figure_name(treatment, control), captions)]
    return lines


def recovered_lines(data: ReportData, captions: dict) -> list[str]:
    if data.recovered.empty:
        return []
    full, reference = data.roles.full, data.roles.reference
    return ["## Recovered fraction", "", tables.to_markdown(tables.recovered_table(data.recovered, data.inits)), "",
            f"Recovered fraction of an arm = (arm − {reference}) / ({full} − {reference}), the ratio "
            f"of the mean paired differences over units matched on task, fold, seed and mapping seed: 0 means "
            f"the arm does no better than {reference}, 1 means it recovers all of {full}'s advantage. "
            "The 95% interval is Fieller's: the ratios θ for which a paired t-test of (arm − "
            f"{reference}) − θ·({full} − {reference}) does not reject. It is bounded only when "
            f"{full} − {reference} itself differs from 0 at the 95% level; otherwise the fraction is "
            "marked *unbounded* (the advantage to be recovered is not established, so no fraction of it is), "
            "and with fewer than 2 matched seeds *undefined*. n: matched seeds per task, a range where arms "
            "differ (recovered.csv gives each arm's n).", "", *figure_lines("recovered", captions),
            *seeds_for_goal_lines(data)]


def seeds_for_goal_lines(data: ReportData) -> list[str]:
    goal = stats.RECOVERED_HALF_WIDTH_GOAL
    return [f"### Seeds for a recovered fraction within ± {goal:g}", "",
            tables.to_markdown(tables.seeds_for_goal_table(data.recovered, data.inits)), "",
            f"met (n): the Fieller interval is already no wider than ± {goal:g} (half its length) with the n matched "
            f"seeds run; ≈ m: the matched seeds at which it would be, if the observed means and the spread of the "
            f"paired differences held (a planning estimate, not a promise: more seeds move both); > "
            f"{stats.MAX_PROJECTED_PAIRS}: not within {stats.MAX_PROJECTED_PAIRS} seeds (an advantage too small "
            "for its spread); –: fewer than 2 matched seeds, no spread to project from. Units are independent, so "
            "seeds can be added to the same run folder.", ""]


def learning_rate_lines(data: ReportData, captions: dict) -> list[str]:
    if data.learning_rates.empty:
        return []
    edges = tables.grid_edges(data.learning_rates)
    on_edge = edges[edges["edge"] != ""]
    edge_text = (f"{len(on_edge)} of {len(edges)} chosen lrs lie on an edge of their grid "
                 f"({', '.join(f'{t} {a}' for t, a in zip(on_edge['task'], on_edge['arm']))}): the best lr may lie "
                 "beyond it, and a wider grid could choose differently." if len(on_edge) else
                 "Every chosen lr lies inside its grid.")
    return ["## Learning rates", "", tables.to_markdown(tables.chosen_lr_table(data.learning_rates)), "",
            "Each arm's lr was chosen on dev (best primary-metric score over the learning curve, on the first "
            f"seed, fold and mapping seed; ties to the smaller lr); test scores were never used. {edge_text}", "",
            *figure_lines("learning_rates", captions)]


def accounting_lines(data: ReportData) -> list[str]:
    lines = ["## Per-seed scores", ""]
    for task, per_seed in data.per_seed.items():
        lines.append(f"### {task}\n\n{tables.to_markdown(tables.rounded(per_seed))}\n")
    lines += ["## Files in units/ that are not unit records", ""]
    lines += [f"- {message}" for message in data.table.unreadable] if data.table.unreadable else ["None."]
    lines += ["", "Such a file is left out of every table and figure above; a unit whose record is unreadable counts "
              "as not run (re-running `crossdomain run` on the folder runs it again).", "", "## Failed or unpaired units",
              ""]
    unpaired = data.unpaired
    lines.append("None." if unpaired.empty else
                 tables.to_markdown(tables.unpaired_table(unpaired)))
    return lines


def main_condition_lines(data: ReportData) -> list[str]:
    if not data.main_condition:
        return []
    size = data.main_condition["train_limit"]
    return [f"- main condition (everything below but *Model and data axes*): model {data.main_condition['model']}, "
            f"training-set size {'all' if size in (0, None) else size}"]


def axes_lines(data: ReportData, captions: dict) -> list[str]:
    from crossdomain.report.axes import AXES, axis_table
    from crossdomain.report.build import axis_figure_name, axis_scores_figure_name

    if not data.axes:
        return []
    lines = ["## Model and data axes", "",
             f"Δ = {data.contrasts[0][0]} − {data.contrasts[0][1]} per task along each axis of the run, the other "
             "axis at its main value; pairs, intervals and tests as in the headline.", ""]
    for axis, frame in data.axes.items():
        lines += [f"### By {AXES[axis]}", "", tables.to_markdown(axis_table(frame, axis)), "",
                  *figure_lines(axis_figure_name(axis), captions),
                  *figure_lines(axis_scores_figure_name(axis), captions)]
    return lines


def report_markdown(data: ReportData, head: pd.DataFrame, captions: dict) -> str:
    lines = ["# crossdomain report", "", "## What was run", "", *describe_run(data.all_units or data.table, data.arms),
             *not_yet_run_line(data.not_run or {}), *main_condition_lines(data), "", *headline_lines(data, head),
             *axes_lines(data, captions),
             *across_tasks_lines(data, captions), *scores_lines(data, captions),
             *contrast_lines(data, captions), *recovered_lines(data, captions), *learning_rate_lines(data, captions),
             *convergence_lines(data.table, data.summary, data.speedups, captions), *accounting_lines(data),
             "", "Every figure with its caption: `figures.md`; as LaTeX floats: `figures.tex`."]
    return "\n".join(lines) + "\n"
