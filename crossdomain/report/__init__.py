"""``crossdomain report``: unit files → statistics → tables and figures, in ``<out>/``.

Reads only unit files, so it works on partial runs, merged run folders and units from other machines.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from crossdomain.report import figures, stats, tables

CONVERGENCE_COLUMNS = ["steps_to_95", "seconds_to_95", "dev_auc"]


def arm_order(arms) -> list[str]:
    rank = {"pretrained": 0, "random": 1}
    return sorted(set(arms), key=lambda a: (rank.get(a.split(" · ")[0], 2), a))


def convergence_summary(table: stats.UnitTable) -> pd.DataFrame:
    rows = []
    for (task, arm), group in table.ok.groupby(["task", "arm"], sort=True):
        row = {"task": task, "arm": arm}
        for column in CONVERGENCE_COLUMNS:
            values = group[column].astype(float).dropna()
            row[f"{column}_mean"] = float(values.mean()) if len(values) else float("nan")
            row[f"{column}_std"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            row[f"{column}_ci_low"], row[f"{column}_ci_high"] = stats.t_interval(values)
        rows.append(row)
    return pd.DataFrame(rows)


def describe_run(table: stats.UnitTable) -> list[str]:
    records = list(table.records.values())
    commits = sorted({(r.get("git") or {}).get("commit") or "unknown" for r in records})
    libraries = records[0].get("libraries", {}) if records else {}
    ok = table.ok
    cost = sum(r.get("wall_seconds") or 0 for r in records)
    devices = sorted({r.get("device") or "?" for r in records})
    return [
        f"- units: {len(ok)} finished, {len(table.failed)} failed",
        f"- tasks: {', '.join(sorted(ok['task'].unique()))}",
        f"- models: {', '.join(sorted(ok['model'].unique()))}; arms: {', '.join(arm_order(ok['arm']))}",
        f"- seeds: {sorted(ok['seed'].unique().tolist())}; mapping seeds: {sorted(ok['mapping_seed'].unique().tolist())}",
        f"- cost: {cost / 60:.1f} min of unit wall time on {', '.join(devices)}",
        f"- git commit(s): {', '.join(c[:12] for c in commits)}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in libraries.items() if v),
    ]


def write_report(run_dirs: list[Path], out_dir: Path, metric: str = "primary") -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = stats.add_convergence(stats.load_units([Path(d) for d in run_dirs], metric))
    if table.ok.empty:
        raise ValueError(f"no finished units in {', '.join(map(str, run_dirs))} ({len(table.failed)} failed)")
    arms = arm_order(table.ok["arm"])
    tasks = sorted(table.ok["task"].unique())
    arm_stats = stats.summarise_arms(table)
    pairs, unpaired = stats.pair_units(table)
    deltas = stats.paired_differences(table, pairs) if not pairs.empty else pd.DataFrame()
    summary = tables.build_summary(arm_stats, deltas, convergence_summary(table))

    summary.to_csv(out_dir / "summary.csv", index=False)
    head = tables.headline(summary, arms)
    (out_dir / "summary.md").write_text(tables.to_markdown(head) + "\n", encoding="utf-8")
    models = ", ".join(sorted(table.ok["model"].unique()))
    seeds = sorted(table.ok["seed"].unique().tolist())
    caption = (f"Test score (mean ± std over seeds {seeds}; each task's metric) of {models} fine-tuned from its "
               f"pretrained weights or from random initialisation. Δ = pretrained − random, paired by seed, with "
               f"its 95% interval; * marks p < 0.05 (Wilcoxon signed-rank).")
    (out_dir / "summary.tex").write_text(tables.to_latex(summary, arms, caption), encoding="utf-8")
    pairs.to_csv(out_dir / "pairs.csv", index=False)
    detail = []
    for task in tasks:
        per_seed = tables.per_seed_table(table.ok, task)
        per_seed.to_csv(out_dir / f"per_seed_{task.replace('/', '-')}.csv", index=False)
        detail.append(f"### {task}\n\n{tables.to_markdown(per_seed)}\n")

    curves = stats.curves_frame(table)
    drawn = {
        "bars": figures.bars_figure(arm_stats, table.ok, arms),
        "curves": figures.curves_figure(curves, arms, tasks),
        "overview": figures.overview_figure(arm_stats, table.ok, deltas, curves, arms, tasks),
    }
    if not deltas.empty:
        drawn["forest"] = figures.forest_figure(deltas)
    for name, figure in drawn.items():
        figures.save(figure, out_dir, name)
        plt.close(figure)

    lines = ["# crossdomain report", "", "## What was run", "", *describe_run(table), "",
             "## Headline", "", tables.to_markdown(head), "",
             "Intervals: t over seeds (pairs for Δ); with one unit per arm, a bootstrap over test items "
             f"({stats.BOOTSTRAP_RESAMPLES} resamples). p: two-sided Wilcoxon signed-rank test over pairs matched on "
             "task, fold, seed and mapping seed. Convergence: steps until the dev score first reaches 95% of the "
             "unit's final dev score; dev AUC: mean dev score over training (area under the dev curve / steps).", ""]
    tested_pairs = deltas["pairs"][deltas["pairs"] >= 2] if not deltas.empty else []
    if len(tested_pairs) and tested_pairs.min() < 6:
        n = int(tested_pairs.min())
        lines += [f"With {n} pairs the smallest two-sided Wilcoxon p attainable is {2 / 2**n:.3g}: "
                  "at least 6 pairs (seeds × folds) are needed before p < 0.05 is possible.", ""]
    for name in ("bars", "forest", "curves", "overview"):
        if name in drawn:
            lines += [f"![{name}]({name}.png)", ""]
    conv = summary[["task", "arm", "steps_to_95_mean", "seconds_to_95_mean", "dev_auc_mean"]]
    lines += ["## Convergence", "", tables.to_markdown(conv.round(3)), "", "## Per-seed scores", "", *detail]
    lines += ["## Failed or unpaired units", ""]
    if unpaired.empty:
        lines.append("None.")
    else:
        lines.append(tables.to_markdown(unpaired[["unit_id", "status", "task", "init", "seed", "error"]]))
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out_dir
