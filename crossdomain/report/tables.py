"""Tables: the machine-readable summary, a Markdown headline and a booktabs LaTeX float."""
from __future__ import annotations

import math

import pandas as pd

from crossdomain.metrics import higher_is_better
from crossdomain.report import stats
from crossdomain.report.style import N_TOO_SMALL

SIGNIFICANCE = 0.05
LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "Δ": r"$\Delta$", "·": r"$\cdot$", "−": "--", "×": r"$\times$", "÷": r"$\div$",
                  "≥": r"$\geq$", "≤": r"$\leq$", "θ": r"$\theta$", "ρ": r"$\rho$"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if value is None or math.isnan(value):
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def build_summary(arms: pd.DataFrame, deltas: pd.DataFrame, convergence: pd.DataFrame) -> pd.DataFrame:
    """One row per task × arm with every statistic; an arm's row carries its Δ under the first contrast it is
    the treatment of (``delta_control`` names the other arm)."""
    summary = arms.merge(convergence, on=["task", "arm"], how="left")
    if not deltas.empty:
        own = (deltas.drop_duplicates(["treatment", "task"])
               .drop(columns=["domain", "metric"])
               .rename(columns={"ci_method": "delta_ci_method", "treatment": "init", "control": "delta_control"}))
        summary = summary.merge(own, on=["init", "task"], how="left")
    return summary


def delta_cell(row) -> str:
    return f"{row['delta_mean']:+.3f} [{_fmt(row['delta_ci_low'])}, {_fmt(row['delta_ci_high'])}]"


def contrast_label(treatment: str, control: str) -> str:
    return f"{treatment} − {control}"


BASELINE_MARK = "†"


def with_baseline_rows(summary: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """summary.csv: the arms' rows (kind "arm") and one row per task and baseline (kind "baseline")."""
    arms = summary.assign(kind="arm")
    if baselines.empty:
        return arms
    extra = baselines.rename(columns={"baseline": "arm"}).assign(kind="baseline", domain=baselines["task"].str.split("/").str[0])
    return pd.concat([arms, extra], ignore_index=True)


def baseline_cells(baselines: pd.DataFrame, task: str) -> dict[str, str]:
    if baselines is None or baselines.empty:
        return {}
    rows = baselines[baselines["task"] == task]
    return {f"{name}{BASELINE_MARK}": _fmt(mean) for name, mean in zip(rows["baseline"], rows["mean"])}


def headline(summary: pd.DataFrame, arms_order: list[str], primary: pd.DataFrame,
             baselines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Task | metric | n | one 'mean ± std' column per arm | baselines† | Δ of the primary contrast [95% CI] | p | pairs."""
    label = (f"Δ {contrast_label(primary['treatment'].iloc[0], primary['control'].iloc[0])} [95% CI]"
             if not primary.empty else "Δ [95% CI]")
    by_task = primary.set_index("task") if not primary.empty else pd.DataFrame()
    rows = []
    for task, group in summary.groupby("task", sort=True):
        by_arm = group.set_index("arm")
        row = {"task": task, "metric": group["metric"].iloc[0], "n": int(group["n"].max())}
        for arm in arms_order:
            if arm in by_arm.index:
                entry = by_arm.loc[arm]
                row[arm] = f"{_fmt(entry['mean'])} ± {_fmt(entry['std'])}"
            else:
                row[arm] = "–"
        row.update(baseline_cells(baselines, task))
        if task in by_task.index:
            delta = by_task.loc[task]
            row[label], row["p"], row["pairs"] = delta_cell(delta), _p(delta["p_value"]), int(delta["pairs"])
            row["p (Holm)"] = _p(delta.get("p_holm", float("nan")))
        else:
            row[label], row["p"], row["pairs"], row["p (Holm)"] = "–", "–", 0, "–"
        rows.append(row)
    return pd.DataFrame(rows)


def contrasts_table(deltas: pd.DataFrame) -> pd.DataFrame:
    """Every contrast × task: Δ with interval, p and the number of pairs."""
    rows = [{"contrast": contrast_label(r["treatment"], r["control"]), "task": r["task"], "metric": r["metric"],
             "pairs": int(r["pairs"]), "Δ [95% CI]": delta_cell(r), "p": _p(r["p_value"]),
             "p (Holm)": _p(r.get("p_holm", float("nan")))}
            for _, r in deltas.iterrows()]
    return pd.DataFrame(rows, columns=["contrast", "task", "metric", "pairs", "Δ [95% CI]", "p", "p (Holm)"])


def interval_text(row, name: str, signed: bool = False) -> str:
    """``value [low, high]``, or ``value (n too small)`` where the row's bootstrap is degenerate."""
    form = "+.3f" if signed else ".2f"
    value = f"{row[name]:{form}}"
    if row.get("interval") == N_TOO_SMALL:
        return f"{value} ({N_TOO_SMALL})"
    return f"{value} [{row[name + '_ci_low']:{form}}, {row[name + '_ci_high']:{form}}]"


def aggregate_table(aggregates: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in aggregates.iterrows():
        row = {"contrast": contrast_label(r["treatment"], r["control"]), "tasks": int(r["tasks"]), "pairs": int(r["pairs"]),
               "P(X > Y), all runs [95% CI]": interval_text(r, "p_improvement")}
        if "iqm_delta" in r and not pd.isna(r.get("iqm_delta")):
            row["paired win rate [95% CI]"] = interval_text(r, "win_rate")
            row["IQM Δ, pooled pairs [95% CI]"] = interval_text(r, "iqm_delta", signed=True)
            row["mean Δ, pooled pairs [95% CI]"] = interval_text(r, "mean_delta", signed=True)
        rows.append(row)
    return pd.DataFrame(rows)


def grid_edges(learning_rates: pd.DataFrame) -> pd.DataFrame:
    """Per task and arm: the chosen lr and which edge of its grid it lies on ("bottom", "top" or "")."""
    rows = []
    for (task, arm), group in learning_rates.groupby(["task", "arm"], sort=True):
        chosen = group.loc[group["chosen"], "lr"]
        if chosen.empty:
            continue
        lr, grid = float(chosen.iloc[0]), sorted(group["lr"].astype(float))
        edge = "" if len(grid) < 2 else "bottom" if lr == grid[0] else "top" if lr == grid[-1] else ""
        rows.append({"task": task, "arm": arm, "lr": lr, "edge": edge})
    return pd.DataFrame(rows, columns=["task", "arm", "lr", "edge"])


def chosen_lr_table(learning_rates: pd.DataFrame) -> pd.DataFrame:
    """Task rows × arm columns: the lr chosen on dev, marked where it lies on an edge of its grid."""
    edges = grid_edges(learning_rates)
    edges["text"] = [lr_text(lr) + (f" ({edge} of grid)" if edge else "") for lr, edge in zip(edges["lr"], edges["edge"])]
    table = edges.pivot_table(index="task", columns="arm", values="text", aggfunc="first")
    return table.fillna("–").reset_index()


def lr_text(lr: float) -> str:
    """A learning rate as researchers write it: 3e-5, 1e-4, 2.5e-4."""
    mantissa, exponent = f"{lr:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def recovered_cell(row) -> str:
    if row["interval"] == "bounded":
        return f"{row['recovered']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    value = "–" if pd.isna(row["recovered"]) else f"{row['recovered']:.2f}"
    return f"{value} ({row['interval']})"


def task_by_arm_table(recovered: pd.DataFrame, arms_order: list[str], cell) -> pd.DataFrame:
    """Task rows × arm columns of recovered-fraction rows, each cell written by ``cell(row)``."""
    arms = [a for a in arms_order if a in set(recovered["arm"])]
    rows = []
    for task, group in recovered.groupby("task", sort=True):
        by_arm = group.set_index("arm")
        rows.append({"task": task, "n": count_range(group["n"]),
                     **{arm: cell(by_arm.loc[arm]) if arm in by_arm.index else "–" for arm in arms}})
    return pd.DataFrame(rows)


def count_range(counts) -> str:
    """A count that may differ between arms: "12", or "6–12"."""
    low, high = int(min(counts)), int(max(counts))
    return str(high) if low == high else f"{low}–{high}"


def recovered_table(recovered: pd.DataFrame, arms_order: list[str]) -> pd.DataFrame:
    """Task rows × arm columns: recovered fraction [Fieller 95% interval]."""
    return task_by_arm_table(recovered, arms_order, recovered_cell)


def seeds_for_goal_cell(row) -> str:
    if row["n"] < 2:
        return "–"  # one matched seed has no spread to project from
    if row["half_width"] <= stats.RECOVERED_HALF_WIDTH_GOAL:
        return f"met ({int(row['n'])})"
    if pd.isna(row["pairs_for_goal"]):
        return f"> {stats.MAX_PROJECTED_PAIRS}"
    return f"≈ {int(row['pairs_for_goal'])}"


def seeds_for_goal_table(recovered: pd.DataFrame, arms_order: list[str]) -> pd.DataFrame:
    """Task rows × arm columns: the matched seeds at which the recovered fraction's interval would meet the goal."""
    return task_by_arm_table(recovered, arms_order, seeds_for_goal_cell)


def unpaired_table(unpaired: pd.DataFrame) -> pd.DataFrame:
    """One row per unit: a unit that several contrasts could not pair (a run stopped part-way leaves many) is
    named once, with every contrast it lacks a partner under."""
    def reasons(values) -> str:
        lacking = [v.removeprefix(stats.NO_PARTNER).strip() for v in values if v.startswith(stats.NO_PARTNER)]
        others = [v for v in values if not v.startswith(stats.NO_PARTNER)]
        return "; ".join([*others, *([f"{stats.NO_PARTNER} {', '.join(lacking)}"] if lacking else [])])

    columns = ["unit_id", "status", "task", "init", "seed", "reason", "error"]
    grouped = unpaired[columns].groupby("unit_id", sort=False, dropna=False).agg(
        {**{c: "first" for c in columns[1:]}, "reason": reasons}).reset_index()
    return grouped.sort_values(["task", "init", "seed"], kind="stable", na_position="last")[columns]


def to_markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, disable_numparse=True)


def to_latex(summary: pd.DataFrame, arms_order: list[str], primary: pd.DataFrame, caption: str,
             baselines: pd.DataFrame | None = None, label: str = "tab:crossdomain") -> str:
    """A booktabs ``table`` float: mean ± std per arm, baselines (†), the primary contrast's Δ; the best mean
    per task among arms and baselines in bold (ties all bold)."""
    names = sorted(baselines["baseline"].unique()) if baselines is not None and not baselines.empty else []
    columns = "ll" + "c" * (len(arms_order) + len(names)) + "c"
    header = " & ".join(["Task", "Metric", *[latex_escape(a) for a in arms_order],
                         *[latex_escape(n) + r"$^\dagger$" for n in names], r"$\Delta$ [95\% CI]"])
    lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{columns}}}", r"\toprule",
             header + r" \\", r"\midrule"]
    by_task = primary.set_index("task") if not primary.empty else pd.DataFrame()
    for task, group in summary.groupby("task", sort=True):
        by_arm = group.set_index("arm")
        of_task = baselines[baselines["task"] == task] if names else pd.DataFrame(columns=["baseline", "mean"])
        best = best_shown([*group["mean"], *of_task["mean"]], higher_is_better(group["metric"].iloc[0]))
        def bold(text, mean, best=best):
            return rf"\textbf{{{text}}}" if best is not None and round(mean, 3) == best else text
        cells = []
        for arm in arms_order:
            if arm not in by_arm.index:
                cells.append("--")
                continue
            entry = by_arm.loc[arm]
            cells.append(bold(rf"{_fmt(entry['mean'])} $\pm$ {_fmt(entry['std'])}", entry["mean"]))
        means = dict(zip(of_task["baseline"], of_task["mean"]))
        cells += [bold(_fmt(means[n]), means[n]) if n in means else "--" for n in names]
        if task in by_task.index:
            row = by_task.loc[task]
            mark = "$^{*}$" if not pd.isna(row["p_value"]) and row["p_value"] < SIGNIFICANCE else ""
            delta = rf"{row['delta_mean']:+.3f}{mark} [{_fmt(row['delta_ci_low'])}, {_fmt(row['delta_ci_high'])}]"
        else:
            delta = "--"
        metric = group["metric"].iloc[0]
        lines.append(" & ".join([latex_escape(task), latex_escape(metric), *cells, delta]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{latex_escape(caption)}}}", rf"\label{{{label}}}",
              r"\end{table}"]
    return "\n".join(lines) + "\n"


def best_shown(means, higher: bool = True) -> float | None:
    """The best mean of a row as printed (3 decimals; in the metric's direction), or None when fewer than two
    compete."""
    shown = [round(float(m), 3) for m in means if m is not None and not pd.isna(m)]
    return (max if higher else min)(shown) if len(shown) > 1 else None


def per_seed_table(units: pd.DataFrame, task: str) -> pd.DataFrame:
    """Per-seed scores of one task, arms side by side (full precision: round it for display)."""
    subset = units[units["task"] == task]
    table = subset.pivot_table(index=["fold", "mapping_seed", "seed"], columns="arm", values="score", aggfunc="first")
    return table.reset_index()


def rounded(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Float columns as text with ``digits`` decimals (a missing value as –), for markdown."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: _fmt(v, digits))
    return shown


def label_cell(stats: dict) -> str:
    """Class counts, or a regression target's range and median."""
    if "target" in stats:
        t = stats["target"]
        return f"target {t['min']:.3g} … {t['max']:.3g} (median {t['median']:.3g})"
    return " ".join(f"{k}={v}" for k, v in stats["class_counts"].items())


def datasets_table(stats: list[dict]) -> str:
    rows = []
    for s in stats:
        sizes = s["split_sizes"]
        split = (f"{sizes['train']}/{sizes['dev']}/{sizes['test']}" if "train" in sizes
                 else f"{s['folds']} folds (fold0 {sizes['fold0']['train']}/{sizes['fold0']['dev']}/{sizes['fold0']['test']})")
        rows.append({
            "task": s["task"], "v": s["version"],
            "source": "; ".join(dict.fromkeys(v["location"].split(" (")[0] for v in s["sources"].values())),
            "raw": s["raw_rows"], "dropped": ", ".join(f"{k}: {v}" for k, v in s["dropped"].items()) or "–",
            "rows": s["rows"], "classes / target": label_cell(s),
            "len min/med/max": "/".join(str(s["length_before_segmenting"][k]) for k in ("min", "median", "max")),
            "train/dev/test": split,
        })
    return pd.DataFrame(rows).to_markdown(index=False)
