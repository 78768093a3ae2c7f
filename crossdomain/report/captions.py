"""The words beside the report's figures: one caption per figure (what is plotted, n, the interval kind, the
conventions), written into report.md, figures.md and figures.tex so a paper can take figure and caption as they are.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from crossdomain.report.style import (
    BOOTSTRAP_PAIRS,
    FIELLER,
    N_TOO_SMALL,
    STRATIFIED_BOOTSTRAP,
    T_OVER_PAIRS,
    T_OVER_SEEDS,
)


def n_text(counts) -> str:
    """'6 seeds per arm' or '3–6 seeds per arm' from the per-(task, arm) unit counts."""
    values = sorted({int(v) for v in counts})
    if not values:
        return "no units"
    span = str(values[0]) if len(values) == 1 else f"{values[0]}–{values[-1]}"
    return f"{span} unit{'s' if values[-1] != 1 else ''} (seeds × folds) per task and arm"


def metrics_text(metrics: dict) -> str:
    by_metric: dict[str, list[str]] = {}
    for task, metric in sorted(metrics.items()):
        by_metric.setdefault(metric, []).append(task)
    return "; ".join(f"{metric} ({', '.join(tasks)})" for metric, tasks in by_metric.items())


def bars(summary: pd.DataFrame, metrics: dict, baselines: list[str]) -> str:
    text = (f"Test score per task and init arm. Bars: mean over {n_text(summary['n'])}; whiskers: {T_OVER_SEEDS} "
            f"(with one unit, a 95% bootstrap interval over test items); dots: single units. Metric per task: "
            f"{metrics_text(metrics)}.")
    if baselines:
        text += (f" Horizontal lines: baselines ({', '.join(baselines)}), fitted on the same train/dev/test items, "
                 "drawn as references, not arms.")
    return text


def curves(metrics: dict, summary: pd.DataFrame) -> str:
    return (f"Dev score during fine-tuning, per task (metric: {metrics_text(metrics)}). Line: mean over "
            f"{n_text(summary['n'])} at each evaluation step; a unit that stopped early holds its last value. "
            f"Band: {T_OVER_SEEDS}, cut to the range of the units' own scores (a t interval over few seeds can "
            "reach past any score a unit had). Dev scores only: test scores and baselines are not drawn here.")


def forest(treatment: str, control: str, deltas: pd.DataFrame) -> str:
    return (f"Paired difference Δ = {treatment} − {control} per task: mean over the seed-matched pairs (same task, "
            f"fold, seed and mapping seed; n per row), line: {T_OVER_PAIRS} (with one pair, a paired bootstrap over "
            "test items). Each task's own metric (in the row label); marker shape: domain. Dashed: Δ = 0.")


def aggregate(row, metrics: dict) -> str:
    pooled = sorted(set(metrics.values()))
    degenerate = row.get("interval") == N_TOO_SMALL
    interval = (f"{N_TOO_SMALL} for an interval (at most {int(row['fewest_runs_per_arm'])} runs per arm in a "
                "stratum; a bootstrap of so few runs reads as certainty)" if degenerate else STRATIFIED_BOOTSTRAP
                + " (runs resampled within each task and fold)")
    return (f"Across tasks. Rows: per-task Δ = {row['treatment']} − {row['control']} ({T_OVER_PAIRS}). Diamond: "
            f"the interquartile mean of all {int(row['pairs'])} paired differences pooled over tasks, with a "
            f"{interval}. Title: P(X > Y), all runs: the share of (run of X, run of Y) comparisons within a fold "
            "that X wins, averaged over folds then tasks (not the paired win rate; both are in report.md)."
            + (f" Metrics are pooled as they are ({', '.join(pooled)}): each pair's Δ is on its task's own scale."
               if len(pooled) > 1 else ""))


def recovered(full: str, reference: str, n: str) -> str:
    """``n``: the seed-matched units per task and arm, a count or a range ("6–12") where arms differ."""
    per = " (per task and arm; recovered.csv gives each n)" if "–" in n else ""
    return (f"Recovered fraction per arm and task: (arm − {reference}) / ({full} − {reference}), the ratio of "
            f"mean paired differences over {n} seed-matched units{per}. 0: no better than {reference}; 1: all of "
            f"{full}'s advantage. Line: {FIELLER}, drawn only when {full} − {reference} is itself established at "
            "95%; otherwise the row reads *unbounded* (no interval), and with fewer than 2 matched seeds "
            "*undefined*. An estimate beyond the axis is a triangle at the edge with its value printed; an "
            "interval that continues past an edge ends in an arrow head.")


def learning_rates(metrics: dict) -> str:
    return (f"Best dev score (metric: {metrics_text(metrics)}) reached at each learning rate of the grid, per "
            "task and arm, from the lr-selection units (first seed, fold and mapping seed). Ring: the lr chosen "
            "on dev for the arm's main units (ties to the smaller lr); test scores were never used.")


def speedup(speedups: pd.DataFrame, target_fraction: float, resamples: int) -> str:
    treatment, control = speedups["treatment"].iloc[0], speedups["control"].iloc[0]
    return (f"Convergence speed-up of {treatment} over {control}: mean optimiser steps of {control} ÷ mean steps "
            f"of {treatment} to reach a common dev target ({target_fraction:g} × the lower of the two arms' mean "
            f"best dev scores, read off each unit's dev curve by linear interpolation), with a {BOOTSTRAP_PAIRS} "
            f"({resamples} resamples); n pairs per row. A unit that never reaches the target counts with all its "
            "steps. Log axis; dashed: 1 = equally fast.")


def scatter(scatter_frame: pd.DataFrame) -> str:
    counts = scatter_frame.groupby(["task", "arm"]).size()
    items = str(counts.min()) if counts.min() == counts.max() else f"{counts.min()}–{counts.max()}"
    return (f"Predicted against true test values of regression tasks, one unit per task and arm (its first seed; "
            f"{items} test items per panel), on the target's original scale; the title gives "
            "that unit's test score. Dashed: prediction = true value. A flat cloud is a model that ranks nothing.")


def span(values) -> str:
    low, high = int(min(values)), int(max(values))
    return str(low) if low == high else f"{low}–{high}"


def axis(frame: pd.DataFrame, axis: str, contrast: tuple[str, str], main: dict) -> str:
    treatment, control = contrast
    held = ("the main training-set size" if axis == "model" else f"model {main['model']}")
    x = "training items per unit" if axis == "train_limit" else "the model's parameter count"
    return (f"Δ = {treatment} − {control} per task against {x} (log scale), {held} held fixed: mean over the "
            f"seed-matched pairs ({span(frame['pairs'])} per point), whiskers: {T_OVER_PAIRS} "
            "(with one pair, a paired bootstrap over test items). One panel per task, on its own metric's scale; "
            "dashed: Δ = 0.")


def axis_scores(frame: pd.DataFrame, axis: str, contrast: tuple[str, str]) -> str:
    from crossdomain.report.axes import baseline_names

    x = "training items per unit" if axis == "train_limit" else "the model's parameter count"
    baselines = baseline_names(frame)
    text = (f"Test score of {contrast[0]} and {contrast[1]} per task against {x} (log scale): mean over seeds "
            f"({span(frame['pairs'])} pairs per point), whiskers: {T_OVER_SEEDS}.")
    if baselines:
        text += f" Lines: the baselines ({', '.join(baselines)}), fitted on each condition's training items."
    return text


def overview(treatment_control: tuple[str, str] | None, focus: str | None) -> str:
    text = "A slide: left, test scores per task and arm (as in the bars figure); "
    if treatment_control:
        text += f"middle, Δ = {treatment_control[0]} − {treatment_control[1]} per task (as in its forest figure); "
    return text + f"right, the dev curves of {focus or 'the first task'} (as in the curves figure)."


def figure_lines(name: str, caption: str) -> list[str]:
    """A figure in markdown: the image, then its caption as its own paragraph."""
    return [f"![{name}]({name}.png)", "", f"*{name}.* {caption}", ""]


def write_figure_files(out_dir: Path, captions: dict[str, str], title: str) -> None:
    """figures.md (image and caption) and figures.tex (one ``figure`` float each, PDF and ``\\caption``)."""
    from crossdomain.report.tables import latex_escape

    markdown = [f"# {title}", ""]
    latex = [f"% {title}: \\input this file; the PDFs sit beside it"]
    for name, caption in captions.items():
        markdown += [f"![{name}]({name}.png)", "", f"**{name}.** {caption}", ""]
        latex += [r"\begin{figure}[t]", r"\centering", rf"\includegraphics[width=\linewidth]{{{name}.pdf}}",
                  rf"\caption{{{latex_escape(caption)}}}", rf"\label{{fig:{name.replace('_', '-')}}}",
                  r"\end{figure}", ""]
    (out_dir / "figures.md").write_text("\n".join(markdown), encoding="utf-8")
    (out_dir / "figures.tex").write_text("\n".join(latex), encoding="utf-8")
