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


def draw_bars(ax, summary: pd.DataFrame, units: pd.DataFrame, arms: list[str]) -> None:
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
            ax.scatter(np.full(len(seeds), xi), seeds, s=6, color="black", zorder=3, linewidths=0)
    ax.set_xticks(np.arange(len(tasks)), tasks, rotation=30, ha="right")
    metrics = summary.drop_duplicates("task").set_index("task").reindex(tasks)["metric"]
    ax.set_ylabel("test score (" + ", ".join(sorted(set(metrics))) + ")")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.legend(frameon=False)


def bars_figure(summary, units, arms):
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 2.4), layout="constrained")
        draw_bars(ax, summary, units, arms)
        ax.set_title("Test score per task (bars: mean, whiskers: 95% interval, dots: seeds)")
    return figure


def draw_forest(ax, deltas: pd.DataFrame) -> None:
    ordered = deltas.sort_values(["domain", "task"]).reset_index(drop=True)
    y = np.arange(len(ordered))[::-1]
    domains = list(dict.fromkeys(ordered["domain"]))
    colours = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(domains)}
    for yi, (_, row) in zip(y, ordered.iterrows()):
        ax.plot([row["delta_ci_low"], row["delta_ci_high"]], [yi, yi], color=colours[row["domain"]], linewidth=1.2)
        ax.plot([row["delta_mean"]], [yi], marker="o", markersize=3.5, color=colours[row["domain"]], linestyle="none")
    ax.axvline(0, color="grey", linestyle="--", linewidth=0.7)
    ax.set_yticks(y, [f"{t}  (n={n})" for t, n in zip(ordered["task"], ordered["pairs"])])
    ax.set_xlabel("Δ = pretrained − random (95% interval)")


def forest_figure(deltas):
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 0.45 + 0.28 * max(len(deltas), 1)), layout="constrained")
        draw_forest(ax, deltas)
    return figure


def draw_curve(ax, curves: pd.DataFrame, arms: list[str], task: str) -> None:
    colours = arm_colours(arms)
    for arm in arms:
        subset = curves[(curves["task"] == task) & (curves["arm"] == arm)]
        if subset.empty:
            continue
        mean = mean_curve(subset)
        ax.plot(mean["step"], mean["mean"], color=colours[arm], label=arm, linewidth=1.2)
        if mean["n"].iloc[0] > 1:
            ax.fill_between(mean["step"], mean["low"], mean["high"], color=colours[arm], alpha=0.2, linewidth=0)
    ax.set_title(task)
    ax.set_xlabel("training step")
    ax.set_ylabel("dev score")


def curves_figure(curves, arms, tasks):
    columns = min(3, len(tasks))
    rows = int(np.ceil(len(tasks) / columns))
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(rows, columns, figsize=(SINGLE_COLUMN_IN * columns / 1.5, 1.7 * rows),
                                    layout="constrained", squeeze=False)
        for ax, task in zip(axes.flat, tasks):
            draw_curve(ax, curves, arms, task)
        for ax in list(axes.flat)[len(tasks):]:
            ax.set_visible(False)
        axes.flat[0].legend(frameon=False)
    return figure


def overview_figure(summary, units, deltas, curves, arms, tasks):
    """A slide: scores, differences and the learning curve of the task with the largest |Δ|."""
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
