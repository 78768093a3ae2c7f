"""Figures for papers and slides: PDF, PNG and SVG, colour-blind-safe, single-column width, deterministic.

Each ``*_figure`` function returns the matplotlib Figure, so tests can inspect what was drawn.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from crossdomain.report.stats import mean_curve  # noqa: E402

# Okabe & Ito (2008) colour-blind-safe palette
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
SINGLE_COLUMN_IN = 3.4
DOUBLE_COLUMN_IN = 7.0
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7, "legend.fontsize": 6,
    "xtick.labelsize": 6, "ytick.labelsize": 6, "axes.spines.top": False, "axes.spines.right": False,
    "svg.hashsalt": "crossdomain", "svg.fonttype": "path", "pdf.fonttype": 42, "figure.dpi": 100,
}
FORMATS = {"pdf": {"CreationDate": None, "Producer": None, "Creator": None},
           "png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
PNG_DPI = 200


def arm_colours(arms: list[str]) -> dict[str, str]:
    return {arm: PALETTE[i % len(PALETTE)] for i, arm in enumerate(arms)}


def save(figure, out_dir: Path, name: str) -> list[Path]:
    paths = []
    with plt.rc_context(STYLE):  # svg.hashsalt is read at save time: fixed clip-path ids
        for ext, metadata in FORMATS.items():
            path = out_dir / f"{name}.{ext}"
            figure.savefig(path, format=ext, metadata=metadata, dpi=PNG_DPI if ext == "png" else None, bbox_inches=None)
            paths.append(path)
    return paths


def draw_reference_line(ax, x_start: float, x_end: float, value: float | None, label: str | None) -> None:
    if value is not None and not np.isnan(value):
        ax.plot([x_start, x_end], [value, value], linestyle="--", color="black", linewidth=0.8, label=label)


def draw_bars(ax, summary: pd.DataFrame, units: pd.DataFrame, arms: list[str], reference: dict | None = None) -> None:
    tasks = sorted(summary["task"].unique())
    width = 0.8 / max(len(arms), 1)
    colours = arm_colours(arms)
    for j, arm in enumerate(arms):
        rows = summary[summary["arm"] == arm].set_index("task").reindex(tasks)
        x = np.arange(len(tasks)) + (j - (len(arms) - 1) / 2) * width
        error = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
        ax.bar(x, rows["mean"], width * 0.9, color=colours[arm], label=arm,
               yerr=np.nan_to_num(error), capsize=2, error_kw={"elinewidth": 0.8})
        for xi, task in zip(x, tasks):
            seeds = units[(units["task"] == task) & (units["arm"] == arm)]["score"].astype(float)
            ax.scatter(np.full(len(seeds), xi), seeds, s=7, color="black", edgecolors="white", zorder=3, linewidths=0.3)
    for i, task in enumerate(tasks):  # the majority baseline: an arm stuck at the majority class shows at a glance
        draw_reference_line(ax, i - 0.45, i + 0.45, (reference or {}).get(task), "majority" if i == 0 else None)
    ax.set_xticks(np.arange(len(tasks)), tasks, rotation=30, ha="right")
    metrics = summary.drop_duplicates("task").set_index("task").reindex(tasks)["metric"]
    ax.set_ylabel("test score (" + ", ".join(sorted(set(metrics))) + ")")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.legend(frameon=False)


def bars_figure(summary, units, arms, reference: dict | None = None):
    """Single-column wide for up to three arms, double-column (7 in) beyond."""
    width = SINGLE_COLUMN_IN if len(arms) <= 3 else DOUBLE_COLUMN_IN
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(width, 2.4), layout="constrained")
        draw_bars(ax, summary, units, arms, reference)
        ax.set_title("Test score per task\n(bars: mean, whiskers: 95% interval, dots: seeds)")
        if len(arms) > 3:  # wide enough for level task names, and the legend below them
            ax.set_xticks(ax.get_xticks(), [t.get_text() for t in ax.get_xticklabels()], rotation=0, ha="center")
            ax.legend(frameon=False, ncols=min(4, len(arms)), loc="upper center", bbox_to_anchor=(0.5, -0.15))
    return figure


def draw_forest(ax, deltas: pd.DataFrame) -> None:
    """One contrast's Δ per task (rows of ``deltas`` share treatment and control)."""
    ordered = deltas.sort_values(["domain", "task"]).reset_index(drop=True)
    y = np.arange(len(ordered))[::-1]
    domains = list(dict.fromkeys(ordered["domain"]))
    colours = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(domains)}
    for yi, (_, row) in zip(y, ordered.iterrows()):
        ax.plot([row["delta_ci_low"], row["delta_ci_high"]], [yi, yi], color=colours[row["domain"]], linewidth=1.2)
        ax.plot([row["delta_mean"]], [yi], marker="o", markersize=3.5, color=colours[row["domain"]], linestyle="none")
    ax.axvline(0, color="grey", linestyle="--", linewidth=0.7)
    ax.set_yticks(y, [f"{t}  (n={n})" for t, n in zip(ordered["task"], ordered["pairs"])])
    ax.set_xlabel(f"Δ = {ordered['treatment'].iloc[0]} − {ordered['control'].iloc[0]} (95% interval)")


def forest_figure(deltas):
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 0.45 + 0.28 * max(len(deltas), 1)), layout="constrained")
        draw_forest(ax, deltas)
    return figure


def draw_curve(ax, curves: pd.DataFrame, arms: list[str], task: str, reference: dict | None = None) -> None:
    colours = arm_colours(arms)
    of_task = curves[curves["task"] == task]
    for arm in arms:
        subset = of_task[of_task["arm"] == arm]
        if subset.empty:
            continue
        mean = mean_curve(subset)
        ax.plot(mean["step"], mean["mean"], color=colours[arm], label=arm, linewidth=1.2)
        if mean["n"].iloc[0] > 1:
            ax.fill_between(mean["step"], mean["low"], mean["high"], color=colours[arm], alpha=0.2, linewidth=0)
    if len(of_task):
        line = (reference or {}).get(task)
        draw_reference_line(ax, float(of_task["step"].min()), float(of_task["step"].max()), line, "majority (test)")
        limit_to_observed(ax, [*of_task["dev"], line])
    ax.set_title(task)
    ax.set_xlabel("training step")
    ax.set_ylabel("dev score")


def limit_to_observed(ax, values) -> None:
    """The y range of the units' own scores: a t-interval over two or three seeds can reach far past any score
    a unit had (±4 on an MCC axis), and would flatten every curve in the panel."""
    observed = [float(v) for v in values if v is not None and not pd.isna(v)]
    if observed:
        low, high = min(observed), max(observed)
        margin = 0.05 * (high - low) or 0.05
        ax.set_ylim(low - margin, high + margin)


def panels(count: int, height: float = 1.7, width_per: float = SINGLE_COLUMN_IN / 1.5):
    """A grid of up to three panels a row for ``count`` small multiples (call inside ``plt.rc_context(STYLE)``)."""
    columns = min(3, max(count, 1))
    rows = int(np.ceil(max(count, 1) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(width_per * columns, height * rows), layout="constrained",
                                squeeze=False)
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    return figure, list(axes.flat)[:count]


def curves_figure(curves, arms, tasks, reference: dict | None = None):
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks))
        for ax, task in zip(axes, tasks):
            draw_curve(ax, curves, arms, task, reference)
        axes[0].legend(frameon=False)
    return figure


def learning_rate_figure(learning_rates: pd.DataFrame, arms: list[str]):
    """Best dev score vs lr per task (panels) and arm (lines); the chosen lr circled."""
    tasks = sorted(learning_rates["task"].unique())
    shown = [a for a in arms if a in set(learning_rates["arm"])]
    colours = arm_colours(arms)
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks), height=1.6)
        for ax, task in zip(axes, tasks):
            for arm in shown:
                subset = learning_rates[(learning_rates["task"] == task) & (learning_rates["arm"] == arm)]
                if subset.empty:
                    continue
                ax.plot(subset["lr"], subset["best_dev"], marker=".", color=colours[arm], label=arm, linewidth=1.0)
                chosen = subset[subset["chosen"]]
                ax.scatter(chosen["lr"], chosen["best_dev"], s=40, facecolors="none", edgecolors=colours[arm], zorder=3)
            ax.set_xscale("log")
            ax.set_title(task)
            ax.set_xlabel("learning rate")
            ax.set_ylabel("best dev score")
        axes[0].legend(frameon=False)
    return figure


def aggregate_figure(primary: pd.DataFrame, aggregate_row):
    """The primary contrast's Δ per task and, below, the IQM Δ across tasks; P(X > Y) in the title."""
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 0.9 + 0.28 * (len(primary) + 1)), layout="constrained")
        draw_forest(ax, primary)
        if "iqm_delta" in aggregate_row and not pd.isna(aggregate_row.get("iqm_delta")):
            y = -1
            ax.plot([aggregate_row["iqm_delta_ci_low"], aggregate_row["iqm_delta_ci_high"]], [y, y], color="black",
                    linewidth=1.6)
            ax.plot([aggregate_row["iqm_delta"]], [y], marker="D", markersize=4, color="black", linestyle="none")
            ticks = list(ax.get_yticks()) + [y]
            labels = [t.get_text() for t in ax.get_yticklabels()] + [f"IQM, all tasks (n={int(aggregate_row['pairs'])})"]
            ax.set_yticks(ticks, labels)
        ax.set_title(f"P({aggregate_row['treatment']} > {aggregate_row['control']}) = "
                     f"{aggregate_row['p_improvement']:.2f} [{aggregate_row['p_improvement_ci_low']:.2f}, "
                     f"{aggregate_row['p_improvement_ci_high']:.2f}]")
    return figure


def recovered_figure(recovered: pd.DataFrame, arms: list[str], limits=(-1.0, 2.0)):
    """Recovered fraction per arm (rows) and task (panels); 0 = the reference arm, 1 = the full arm.

    An unbounded interval (the full arm not distinguishable from the reference) is drawn as a dashed
    line across the whole axis; values outside ``limits`` are clipped to the edge with an arrow marker.
    """
    tasks = sorted(recovered["task"].unique())
    shown = [a for a in arms if a in set(recovered["arm"])]
    colours = arm_colours(shown)
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, len(tasks), figsize=(min(DOUBLE_COLUMN_IN, 1.2 + 1.9 * len(tasks)),
                                                             0.6 + 0.25 * len(shown)),
                                    layout="constrained", squeeze=False, sharey=True)
        y = np.arange(len(shown))[::-1]
        for ax, task in zip(axes[0], tasks):
            rows = recovered[recovered["task"] == task].set_index("arm")
            for yi, arm in zip(y, shown):
                if arm not in rows.index:
                    continue
                row = rows.loc[arm]
                low, high = (limits if row["interval"] != "bounded" else (row["ci_low"], row["ci_high"]))
                style = "-" if row["interval"] == "bounded" else ":"
                ax.plot(np.clip([low, high], *limits), [yi, yi], style, color=colours[arm], linewidth=1.2)
                if not np.isnan(row["recovered"]):
                    value = float(np.clip(row["recovered"], *limits))
                    marker = "o" if limits[0] < row["recovered"] < limits[1] else (">" if row["recovered"] > 0 else "<")
                    ax.plot([value], [yi], marker=marker, markersize=3.5, color=colours[arm], linestyle="none")
            for reference in (0, 1):
                ax.axvline(reference, color="grey", linestyle="--", linewidth=0.6)
            ax.set_xlim(*limits)
            ax.set_title(task)
            ax.set_xlabel("recovered fraction")
        axes[0][0].set_yticks(y, shown)
    return figure


def overview_figure(summary, units, deltas, curves, arms, tasks):
    """A slide: scores, the primary contrast's differences and the curve of the task with the largest |Δ|."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, 3, figsize=(10, 3), layout="constrained")
        draw_bars(axes[0], summary, units, arms)
        if not deltas.empty:
            draw_forest(axes[1], deltas)
            focus = deltas.loc[deltas["delta_mean"].abs().idxmax(), "task"]
        else:
            axes[1].set_visible(False)
            focus = tasks[0]
        draw_curve(axes[2], curves, arms, focus)
        axes[2].legend(frameon=False)
    return figure


def speedup_figure(speedups: pd.DataFrame):
    """Per task: the convergence speed-up (steps of the control ÷ steps of the treatment to a common dev target),
    with its bootstrap interval, on a log axis; 1 means no faster."""
    rows = speedups.sort_values("task", ascending=False).reset_index(drop=True)
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 0.7 + 0.28 * max(len(rows), 1)), layout="constrained")
        finite = rows[np.isfinite(rows["speedup"])]
        ax.errorbar(finite["speedup"], finite.index,
                    xerr=[(finite["speedup"] - finite["speedup_ci_low"]).clip(lower=0),
                          (finite["speedup_ci_high"] - finite["speedup"]).clip(lower=0)],
                    fmt="o", color=PALETTE[0], markersize=4, capsize=2, linewidth=1)
        ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xscale("log")
        values = [*finite["speedup_ci_low"].dropna(), *finite["speedup_ci_high"].dropna(), *finite["speedup"], 1.0]
        ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16) if min(values) / 1.5 <= t <= max(values) * 1.5]
        ax.set_xticks(ticks, [f"{t:g}×" for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_yticks(range(len(rows)), [f"{t}  (n={n})" for t, n in zip(rows["task"], rows["pairs"])])
        ax.set_xlabel(f"steps of {rows['control'].iloc[0]} ÷ steps of {rows['treatment'].iloc[0]}\n"
                      "to reach a common dev target\n(95% bootstrap interval over pairs)")
        ax.set_title("convergence speed-up")
    return figure
