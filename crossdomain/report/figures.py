"""Figures for papers and slides: PDF, PNG and SVG, colour-blind-safe, single-column width, deterministic.

Colours, markers, interval names and legend placement come from :mod:`crossdomain.report.style`; the captions
from :mod:`crossdomain.report.captions`. Each ``*_figure`` function returns the matplotlib Figure, so tests can
inspect what was drawn. Legends sit below the panels, never on data.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from crossdomain.report.stats import mean_curve  # noqa: E402
from crossdomain.report.style import (  # noqa: E402, F401 - PNG_DPI, STYLE, save: part of this module's interface
    BOOTSTRAP_ITEMS,
    BOOTSTRAP_PAIRS,
    DOUBLE_COLUMN_IN,
    FIELLER,
    N_TOO_SMALL,
    PNG_DPI,
    SEED_DOT,
    SINGLE_COLUMN_IN,
    STRATIFIED_BOOTSTRAP,
    STYLE,
    T_OVER_PAIRS,
    T_OVER_SEEDS,
    Visuals,
    baseline_style,
    domain_marker,
    legend_below,
    proxy,
    save,
    tag,
    wrap,
)


def metric_of(frame: pd.DataFrame, task: str) -> str:
    rows = frame[frame["task"] == task]
    return str(rows["metric"].iloc[0]) if len(rows) and "metric" in rows else "score"


def task_label(task: str, metric: str) -> str:
    return f"{task}\n({metric})"


def draw_baselines(ax, tasks: list[str], baselines: dict | None, width: float = 0.45) -> None:
    """Each baseline's test score as a short horizontal line across its task's group, one line style per baseline."""
    names = sorted(baselines or {})
    for name in names:
        style = baseline_style(name, names)
        for i, task in enumerate(tasks):
            value = baselines[name].get(task)
            if value is not None and not np.isnan(value):
                ax.plot([i - width, i + width], [value, value], linewidth=0.9, label=f"{name} (baseline)", **style)


def draw_bars(ax, summary: pd.DataFrame, units: pd.DataFrame, arms: list[str], baselines: dict | None = None,
              visuals: Visuals | None = None) -> list:
    """Bars per task and arm, with baselines as lines; returns the legend handles (arms, baselines, encodings)."""
    visuals = visuals or Visuals(list(arms))
    tasks = sorted(summary["task"].unique())
    width = 0.8 / max(len(arms), 1)
    handles = []
    for j, arm in enumerate(arms):
        rows = summary[summary["arm"] == arm].set_index("task").reindex(tasks)
        x = np.arange(len(tasks)) + (j - (len(arms) - 1) / 2) * width
        mean, error = mean_and_whiskers(rows)
        bars = ax.bar(x, mean, width * 0.9, color=visuals.colour(arm), label=arm,
                      yerr=error, capsize=2, error_kw={"elinewidth": 0.8})
        for patch in bars.patches:
            tag(patch, arm)
        handles.append(Patch(color=visuals.colour(arm), label=arm))
        for xi, task in zip(x, tasks):
            seeds = units[(units["task"] == task) & (units["arm"] == arm)]["score"].astype(float)
            ax.scatter(np.full(len(seeds), xi), seeds, **SEED_DOT)
    draw_baselines(ax, tasks, baselines)
    handles += [h for h, text in zip(*ax.get_legend_handles_labels()) if text.endswith("(baseline)")]
    methods = set(summary["ci_method"].dropna()) if "ci_method" in summary else {"t over seeds"}
    whisker = (T_OVER_SEEDS if methods <= {"t over seeds"} else BOOTSTRAP_ITEMS + " (one unit per arm)"
               if methods == {"bootstrap over test items"} else f"{T_OVER_SEEDS}; {BOOTSTRAP_ITEMS} where one unit")
    handles += [proxy(f"whisker: {whisker}", marker="|", markersize=7),
                proxy("dot: one seed", marker="o", markersize=3, markeredgecolor="white", markeredgewidth=0.3)]
    ax.set_xticks(np.arange(len(tasks)), [task_label(t, metric_of(summary, t)) for t in tasks])
    ax.set_ylabel("test score\n(each task's metric, under its name)")
    ax.axhline(0, color="grey", linewidth=0.5)
    return handles


def bars_figure(summary, units, arms, baselines: dict | None = None, visuals: Visuals | None = None):
    """Single-column wide for up to three arms and three tasks, double-column (7 in) beyond."""
    tasks = summary["task"].nunique()
    width = SINGLE_COLUMN_IN if len(arms) <= 3 and tasks <= 3 else DOUBLE_COLUMN_IN
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(width, 3.0), layout="constrained")
        handles = draw_bars(ax, summary, units, arms, baselines, visuals)
        ax.set_title("Test score per task")
        legend_below(figure, handles, ncols=4 if width > SINGLE_COLUMN_IN else 2)
    return figure


def draw_forest(ax, deltas: pd.DataFrame, visuals: Visuals | None = None) -> list:
    """One contrast's Δ per task (rows of ``deltas`` share treatment and control), coloured by the treatment arm,
    one marker shape per domain; returns the legend handles (domains, interval kind)."""
    ordered = deltas.sort_values(["domain", "task"]).reset_index(drop=True)
    treatment, control = ordered["treatment"].iloc[0], ordered["control"].iloc[0]
    colour = (visuals or Visuals([treatment])).colour(treatment)
    y = np.arange(len(ordered))[::-1]
    domains = list(dict.fromkeys(ordered["domain"]))
    for yi, (_, row) in zip(y, ordered.iterrows()):
        tag(ax.plot([row["delta_ci_low"], row["delta_ci_high"]], [yi, yi], color=colour, linewidth=1.2)[0], treatment)
        tag(ax.plot([row["delta_mean"]], [yi], marker=domain_marker(row["domain"], domains), markersize=3.5,
                    color=colour, linestyle="none")[0], treatment)
    ax.axvline(0, color="grey", linestyle="--", linewidth=0.7)
    ax.set_yticks(y, [f"{t} ({m}, n={n})" for t, m, n in zip(ordered["task"], ordered["metric"], ordered["pairs"])])
    ax.set_xlabel(wrap(f"Δ = {treatment} − {control}", 28))
    return [*[proxy(f"{d} (domain)", marker=domain_marker(d, domains), markersize=4, color="#444444") for d in domains],
            proxy(f"point: mean Δ; line: {T_OVER_PAIRS}", linestyle="-", color="#444444")]


def forest_figure(deltas, visuals: Visuals | None = None):
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 1.2 + 0.28 * max(len(deltas), 1)), layout="constrained")
        legend_below(figure, draw_forest(ax, deltas, visuals), ncols=3)
    return figure


def draw_curve(ax, curves: pd.DataFrame, arms: list[str], task: str, metric: str = "score",
               visuals: Visuals | None = None) -> None:
    visuals = visuals or Visuals(list(arms))
    of_task = curves[curves["task"] == task]
    for arm in arms:
        subset = of_task[of_task["arm"] == arm]
        if subset.empty:
            continue
        mean = mean_curve(subset)
        tag(ax.plot(mean["step"], mean["mean"], color=visuals.colour(arm), label=arm, linewidth=1.2)[0], arm)
        if mean["n"].iloc[0] > 1:
            tag(ax.fill_between(mean["step"], mean["low"], mean["high"], color=visuals.colour(arm), alpha=0.2,
                                linewidth=0), arm)
    if len(of_task):
        limit_to_observed(ax, of_task["dev"])
    ax.set_title(task)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"dev score ({metric})")


def curve_legend(arms: list[str], visuals: Visuals) -> list:
    return [*[proxy(arm, color=visuals.colour(arm), linestyle="-", linewidth=1.2) for arm in arms],
            Patch(color="#999999", alpha=0.35, label=f"band: {T_OVER_SEEDS}, cut to the observed range")]


def limit_to_observed(ax, values) -> None:
    """The y range of the units' own scores: a t-interval over two or three seeds can reach far past any score
    a unit had (±4 on an MCC axis), and would flatten every curve in the panel."""
    observed = [float(v) for v in values if v is not None and not pd.isna(v)]
    if observed:
        low, high = min(observed), max(observed)
        margin = 0.05 * (high - low) or 0.05
        ax.set_ylim(low - margin, high + margin)


def panels(count: int, height: float = 1.7, width_per: float = SINGLE_COLUMN_IN / 1.5, extra_height: float = 0.0):
    """A grid of up to three panels a row for ``count`` small multiples (call inside ``plt.rc_context(STYLE)``);
    ``extra_height`` inches are added for a legend below the panels."""
    columns = min(3, max(count, 1))
    rows = int(np.ceil(max(count, 1) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(width_per * columns, height * rows + extra_height),
                                layout="constrained", squeeze=False)
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    return figure, list(axes.flat)[:count]


def curves_figure(curves, arms, tasks, metrics: dict | None = None, visuals: Visuals | None = None):
    visuals = visuals or Visuals(list(arms))
    shown = [a for a in arms if a in set(curves["arm"])] or list(arms)
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks), extra_height=0.15 * (len(shown) // 3 + 1))
        for ax, task in zip(axes, tasks):
            draw_curve(ax, curves, arms, task, (metrics or {}).get(task, "score"), visuals)
        legend_below(figure, curve_legend(shown, visuals), ncols=3)
    return figure


def lr_ticks(ax, lrs) -> None:
    from crossdomain.report.tables import lr_text

    values = sorted(set(float(v) for v in lrs))
    ax.set_xticks(values, [lr_text(v) for v in values], rotation=45 if len(values) > 3 else 0)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def learning_rate_figure(learning_rates: pd.DataFrame, arms: list[str], metrics: dict | None = None,
                         visuals: Visuals | None = None):
    """Best dev score vs lr per task (panels) and arm (lines); the chosen lr ringed."""
    visuals = visuals or Visuals(list(arms))
    tasks = sorted(learning_rates["task"].unique())
    shown = [a for a in arms if a in set(learning_rates["arm"])]
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks), height=1.7, extra_height=0.15 * (len(shown) // 3 + 1))
        for ax, task in zip(axes, tasks):
            of_task = learning_rates[learning_rates["task"] == task]
            for arm in shown:
                subset = of_task[of_task["arm"] == arm]
                if subset.empty:
                    continue
                colour = visuals.colour(arm)
                tag(ax.plot(subset["lr"], subset["best_dev"], marker=".", color=colour, label=arm, linewidth=1.0)[0],
                    arm)
                chosen = subset[subset["chosen"]]
                tag(ax.scatter(chosen["lr"], chosen["best_dev"], s=40, facecolors="none", edgecolors=colour,
                               zorder=3), arm)
            ax.set_xscale("log")
            lr_ticks(ax, of_task["lr"])
            ax.set_title(task)
            ax.set_xlabel("learning rate")
            ax.set_ylabel(f"best dev score ({(metrics or {}).get(task, 'score')})")
        handles = [proxy(arm, color=visuals.colour(arm), linestyle="-", marker=".") for arm in shown]
        handles.append(proxy("ring: the lr chosen on dev", marker="o", markersize=6, markerfacecolor="none"))
        legend_below(figure, handles, ncols=3)
    return figure


def aggregate_title(row) -> str:
    value = f"P({row['treatment']} > {row['control']}), all runs = {row['p_improvement']:.2f}"
    if row.get("interval") == N_TOO_SMALL:
        return f"{value} ({N_TOO_SMALL} for an interval)"
    return f"{value} [{row['p_improvement_ci_low']:.2f}, {row['p_improvement_ci_high']:.2f}]"


def aggregate_figure(primary: pd.DataFrame, aggregate_row, visuals: Visuals | None = None):
    """The primary contrast's Δ per task and, below, the IQM Δ over the pooled pairs; P(X > Y) in the title."""
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 1.7 + 0.28 * (len(primary) + 1)), layout="constrained")
        handles = draw_forest(ax, primary, visuals)
        metrics = sorted(set(primary["metric"]))
        if "iqm_delta" in aggregate_row and not pd.isna(aggregate_row.get("iqm_delta")):
            y = -1
            degenerate = aggregate_row.get("interval") == N_TOO_SMALL
            if not degenerate:
                ax.plot([aggregate_row["iqm_delta_ci_low"], aggregate_row["iqm_delta_ci_high"]], [y, y], color="black",
                        linewidth=1.6)
            ax.plot([aggregate_row["iqm_delta"]], [y], marker="D", markersize=4, color="black", linestyle="none")
            ticks = list(ax.get_yticks()) + [y]
            pooled = f"IQM, all tasks (n={int(aggregate_row['pairs'])})"
            labels = [t.get_text() for t in ax.get_yticklabels()] + [pooled]
            ax.set_yticks(ticks, labels)
            handles.append(proxy("IQM Δ of the pooled pairs, " + (N_TOO_SMALL + " for an interval" if degenerate
                                                                   else STRATIFIED_BOOTSTRAP),
                                 marker="D", markersize=4, linestyle="none" if degenerate else "-", linewidth=1.6))
        if len(metrics) > 1:
            handles.append(proxy(f"IQM pools the metrics as they are: {', '.join(metrics)}"))
        figure.suptitle(wrap(aggregate_title(aggregate_row), 56), fontsize=7)
        legend_below(figure, handles, ncols=1)
    return figure


def recovered_figure(recovered: pd.DataFrame, arms: list[str], limits=(-1.0, 2.0), visuals: Visuals | None = None):
    """Recovered fraction per arm (rows) and task (panels); 0 = the reference arm, 1 = the full arm.

    An unbounded or undefined interval is not drawn; the row says "unbounded" instead. An estimate outside
    ``limits`` is a triangle at the edge with its value printed beside it; an interval reaching past an edge
    ends in an arrow head there.
    """
    visuals = visuals or Visuals(list(arms))
    tasks = sorted(recovered["task"].unique())
    shown = [a for a in arms if a in set(recovered["arm"])]
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, len(tasks), figsize=(min(DOUBLE_COLUMN_IN, 1.4 + 1.9 * len(tasks)),
                                                             1.2 + 0.25 * len(shown)),
                                    layout="constrained", squeeze=False, sharey=True)
        y = np.arange(len(shown))[::-1]
        for ax, task in zip(axes[0], tasks):
            rows = recovered[recovered["task"] == task].set_index("arm")
            for yi, arm in zip(y, shown):
                if arm in rows.index:
                    draw_recovered_row(ax, rows.loc[arm], yi, visuals.colour(arm), arm, limits)
            for reference in (0, 1):
                ax.axvline(reference, color="grey", linestyle="--", linewidth=0.6)
            ax.set_xlim(*limits)
            ax.set_title(task)
            ax.set_xlabel("recovered fraction")
        axes[0][0].set_yticks(y, shown)
        legend_below(figure, [
            proxy("estimate; line: " + FIELLER, marker="o", markersize=3.5, linestyle="-"),
            proxy("estimate beyond the axis (value printed)", marker=">", markersize=3.5),
            proxy("“unbounded”: the full − reference Δ is not established at 95%, so no interval"),
            proxy("dashed: 0 = reference arm, 1 = full arm", linestyle="--", color="grey", linewidth=0.6)], ncols=2)
    return figure


def draw_recovered_row(ax, row, yi: float, colour: str, arm: str, limits) -> None:
    value = row["recovered"]
    if row["interval"] == "bounded":
        low, high = float(row["ci_low"]), float(row["ci_high"])
        tag(ax.plot(np.clip([low, high], *limits), [yi, yi], "-", color=colour, linewidth=1.2)[0], arm)
        for end, edge, shape in ((low, limits[0], "<"), (high, limits[1], ">")):
            if (end < edge) if shape == "<" else (end > edge):
                tag(ax.plot([edge], [yi], marker=shape, markersize=2.5, color=colour, linestyle="none",
                            clip_on=False)[0], arm)
    else:
        ax.text(limits[1], yi + 0.22, row["interval"], ha="right", va="center", fontsize=5, color="#555555")
    if pd.isna(value):
        return
    inside = limits[0] < value < limits[1]
    shown = float(np.clip(value, *limits))
    marker = "o" if inside else (">" if value > 0 else "<")
    tag(ax.plot([shown], [yi], marker=marker, markersize=3.5, color=colour, linestyle="none", clip_on=False)[0], arm)
    if not inside:
        nudge = 0.06 * (limits[1] - limits[0]) * (1 if value < 0 else -1)
        ax.text(shown + nudge, yi, f"{value:.2f}", ha="left" if value < 0 else "right", va="center", fontsize=5,
                color="#333333")


def overview_figure(summary, units, deltas, curves, arms, tasks, baselines: dict | None = None,
                    metrics: dict | None = None, visuals: Visuals | None = None):
    """A slide: scores, the primary contrast's differences and the curve of the task with the largest |Δ|."""
    visuals = visuals or Visuals(list(arms))
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained", width_ratios=[1.6, 1, 1])
        handles = draw_bars(axes[0], summary, units, arms, baselines, visuals)
        if summary["task"].nunique() > 3:  # narrow bars: domain and task name on lines of their own
            tasks = sorted(summary["task"].unique())
            axes[0].set_xticks(range(len(tasks)), [task_label(t.replace("/", "/\n"), metric_of(summary, t))
                                                   for t in tasks])
        if not deltas.empty:
            handles += draw_forest(axes[1], deltas, visuals)
            focus = deltas.loc[deltas["delta_mean"].abs().idxmax(), "task"]
        else:
            axes[1].set_visible(False)
            focus = tasks[0]
        draw_curve(axes[2], curves, arms, focus, (metrics or {}).get(focus, "score"), visuals)
        handles.append(Patch(color="#999999", alpha=0.35, label=f"band: {T_OVER_SEEDS}"))
        legend_below(figure, handles, ncols=6)
    return figure


def speedup_figure(speedups: pd.DataFrame, visuals: Visuals | None = None):
    """Per task: the convergence speed-up (steps of the control ÷ steps of the treatment to a common dev target),
    with its bootstrap interval, on a log axis; 1 means no faster."""
    rows = speedups.sort_values("task", ascending=False).reset_index(drop=True)
    treatment, control = rows["treatment"].iloc[0], rows["control"].iloc[0]
    colour = (visuals or Visuals([treatment])).colour(treatment)
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 1.1 + 0.28 * max(len(rows), 1)), layout="constrained")
        finite = rows[np.isfinite(rows["speedup"])]
        drawn = ax.errorbar(finite["speedup"], finite.index,
                            xerr=[(finite["speedup"] - finite["speedup_ci_low"]).clip(lower=0),
                                  (finite["speedup_ci_high"] - finite["speedup"]).clip(lower=0)],
                            fmt="o", color=colour, markersize=4, capsize=2, linewidth=1)
        tag(drawn.lines[0], treatment)
        ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xscale("log")
        values = [*finite["speedup_ci_low"].dropna(), *finite["speedup_ci_high"].dropna(), *finite["speedup"], 1.0]
        values = [v for v in values if np.isfinite(v) and v > 0]
        ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16) if min(values) / 1.5 <= t <= max(values) * 1.5]
        ax.set_xticks(ticks, [f"{t:g}×" for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_yticks(range(len(rows)), [f"{t}  (n={n})" for t, n in zip(rows["task"], rows["pairs"])])
        ax.set_xlabel(wrap(f"steps of {control} ÷ steps of {treatment} to reach a common dev target "
                           f"({BOOTSTRAP_PAIRS}; dashed: 1 = equally fast)", 44))
        ax.set_title("convergence speed-up")
    return figure


def scatter_figure(scatter: pd.DataFrame, arms: list[str], visuals: Visuals | None = None):
    """Predicted against true test values of one unit per regression task (rows) and arm (columns), on shared
    axes per task, with the identity line."""
    visuals = visuals or Visuals(list(arms))
    tasks = sorted(scatter["task"].unique())
    shown = [a for a in arms if a in set(scatter["arm"])]
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(len(tasks), len(shown), figsize=(SINGLE_COLUMN_IN / 1.5 * len(shown),
                                                                     1.9 * len(tasks) + 0.3),
                                    layout="constrained", squeeze=False)
        for row, task in zip(axes, tasks):
            of_task = scatter[scatter["task"] == task]
            values = pd.concat([of_task["label"], of_task["prediction"]]).astype(float)
            low, high = float(values.min()), float(values.max())
            margin = 0.04 * (high - low) or 0.5
            for ax, arm in zip(row, shown):
                points = of_task[of_task["arm"] == arm]
                ax.plot([low - margin, high + margin], [low - margin, high + margin], color="black", linewidth=0.6,
                        linestyle="--")
                if not points.empty:
                    tag(ax.scatter(points["label"], points["prediction"], s=2, alpha=0.35, linewidths=0,
                                   color=visuals.colour(arm), rasterized=True), arm)
                    ax.set_title(f"{task}\n{arm}, seed {points['seed'].iloc[0]}: "
                                 f"{points['metric'].iloc[0]} {points['score'].iloc[0]:.3f}")
                ax.set_xlim(low - margin, high + margin)
                ax.set_ylim(low - margin, high + margin)
                ax.set_xlabel("true value")
                ax.set_ylabel("predicted")
        legend_below(figure, [proxy("prediction = true value", color="black", linestyle="--", linewidth=0.6)], ncols=1)
    return figure


def mean_and_whiskers(rows: pd.DataFrame, prefix: str = "") -> tuple[np.ndarray, list[np.ndarray]]:
    """The points (column ``{prefix}mean``) and their whiskers' lengths below and above, from ``{prefix}ci_low``
    and ``{prefix}ci_high`` (0 where a point has no interval)."""
    mean = rows[f"{prefix}mean"].to_numpy(float)
    low = np.nan_to_num(mean - rows[f"{prefix}ci_low"].to_numpy(float))
    high = np.nan_to_num(rows[f"{prefix}ci_high"].to_numpy(float) - mean)
    return mean, [low, high]


def axis_x(axis: str) -> tuple[str, str]:
    """The column and label of an axis figure's x: training items or model parameters (log scale)."""
    return ("train_items", "training items (log scale)") if axis == "train_limit" else \
        ("parameters", "model parameters (log scale)")


def axis_ticks(ax, frame: pd.DataFrame, axis: str) -> None:
    x_column = axis_x(axis)[0]
    ax.set_xscale("log")
    ticks = sorted(frame[x_column].dropna().astype(float).unique())
    ax.set_xticks(ticks, [f"{t:.0f}" if axis == "train_limit" else f"{t / 1e6:.2g} M" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def axis_scores_figure(frame: pd.DataFrame, axis: str, contrast: tuple[str, str], visuals: Visuals | None = None):
    """Each arm's test score against the axis, one panel per task: the two arms of the primary contrast (mean over
    seeds, whiskers: t interval) and the baselines fitted in each condition (lines)."""
    from crossdomain.report.axes import BASELINE_PREFIX, baseline_names

    treatment, control = contrast
    visuals = visuals or Visuals([treatment, control])
    x_column, x_label = axis_x(axis)
    tasks = sorted(frame["task"].unique())
    names = baseline_names(frame)
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks), height=2.0, extra_height=0.3)
        handles = {}
        for ax, task in zip(axes, tasks):
            rows = frame[frame["task"] == task].sort_values(x_column)
            x = rows[x_column].astype(float).to_numpy()
            for role, arm, dodge in (("treatment", treatment, 0.97), ("control", control, 1.03)):
                y, error = mean_and_whiskers(rows, f"{role}_")
                line = ax.errorbar(x * dodge, y, yerr=error, marker="o", markersize=3, linewidth=1.0,
                                   capsize=2, color=visuals.colour(arm), label=arm)  # dodged: whiskers stay apart
                tag(line.lines[0], arm)
                handles[arm] = line
            for name in names:
                values = rows[f"{BASELINE_PREFIX}{name}"].to_numpy(float)
                if not np.isnan(values).all():
                    handles[name] = ax.plot(x, values, linewidth=0.9, label=f"{name} (baseline)",
                                            **baseline_style(name, names))[0]
            axis_ticks(ax, frame, axis)
            ax.set_title(task)
            ax.set_xlabel(x_label)
            ax.set_ylabel(f"test {rows['metric'].iloc[0]}")
        legend_below(figure, list(handles.values()), ncols=4)
    return figure


def axis_figure(frame: pd.DataFrame, axis: str, contrast: tuple[str, str], visuals: Visuals | None = None):
    """Δ (primary contrast) against the axis, one panel per task on the task's own metric scale (tasks differ in
    metric and in how far Δ moves): training items or model parameters (log scale), whiskers: each point's
    interval."""
    treatment, control = contrast
    visuals = visuals or Visuals([treatment, control])
    x_column, x_label = axis_x(axis)
    tasks = sorted(frame["task"].unique())
    colour = visuals.colour(treatment)
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks), height=1.9, extra_height=0.25)
        for ax, task in zip(axes, tasks):
            rows = frame[frame["task"] == task].sort_values(x_column)
            x = rows[x_column].astype(float).to_numpy()
            y, error = mean_and_whiskers(rows, "delta_")
            ax.axhline(0, color="black", linewidth=0.6, linestyle="--")
            line = ax.errorbar(x, y, yerr=error, marker="o", markersize=3.5, linewidth=1.0, capsize=2,
                               color=colour)
            tag(line.lines[0], treatment)
            if axis == "model":
                for xi, yi, name in zip(x, y, rows["model"]):
                    ax.annotate(str(name), (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6)
            axis_ticks(ax, frame, axis)
            ax.set_title(task)
            ax.set_xlabel(x_label)
            ax.set_ylabel(f"Δ {rows['metric'].iloc[0]}")
        legend_below(figure, [proxy(f"Δ = {treatment} − {control}: mean over pairs, whiskers: interval",
                                    marker="o", markersize=3.5, color=colour, linestyle="-", linewidth=1.0),
                              proxy("Δ = 0", color="black", linestyle="--", linewidth=0.6)], ncols=2)
    return figure
