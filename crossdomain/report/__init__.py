"""``crossdomain report``: unit files → statistics → tables and figures, in ``<out>/``.

Reads only unit files, so it works on partial runs, merged run folders and units from other machines.
"""
from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from crossdomain.baselines import REFERENCE_LINE
from crossdomain.inits import FULL_ARM, REFERENCE_ARM, canonical_init
from crossdomain.report import aggregate, convergence, figures, speedup, stats, tables


class ReportError(ValueError):
    """Nothing to report (no finished units); the message says what was found."""


def run_plan(run_dirs: list[Path]) -> tuple[list[str], list[tuple[str, str]]]:
    """The arms (in suite order) and contrasts the runs' ``run.json`` declare, merged over the runs."""
    arms, contrasts = [], []
    for run_dir in run_dirs:
        path = Path(run_dir) / "run.json"
        if not path.is_file():
            continue
        try:
            plan = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        arms += plan.get("arms") or []
        contrasts += [tuple(canonical_init(a) for a in pair) for pair in (plan.get("suite") or {}).get("contrasts") or []]
    return list(dict.fromkeys(arms)), list(dict.fromkeys(contrasts))


def arm_order(arms, planned: list[str] = ()) -> list[str]:
    """Planned (suite) order first, then the full and reference arms, then the rest alphabetically."""
    rank = {arm: i for i, arm in enumerate(dict.fromkeys([*planned, FULL_ARM, REFERENCE_ARM]))}
    return sorted(set(arms), key=lambda a: (rank.get(a.split(" · ")[0], len(rank)), a))


def default_contrasts(inits: list[str]) -> list[tuple[str, str]]:
    """Every arm against the reference arm (the full arm's contrast first), when the reference was run."""
    if REFERENCE_ARM not in inits:
        return []
    treatments = sorted((a for a in inits if a != REFERENCE_ARM), key=lambda a: a != FULL_ARM)
    return [(arm, REFERENCE_ARM) for arm in treatments]


def precision_line(records) -> str:
    """What the trained units ran in; a run that mixes precisions is flagged (its arms may differ by it)."""
    trained = [r for r in records if r.ok and not (r.unit or {}).get("baseline")]
    counts = Counter(r.precision or "not recorded" for r in trained)
    text = ", ".join(f"{name} ({n} trained units)" for name, n in sorted(counts.items()))
    if len(counts) > 1:
        return (f"- precision: **mixed**: {text}. Units differ in numeric precision as well as in what is compared; "
                "re-run the minority with `--set train.bf16=...` in a fresh folder to compare like with like")
    return f"- precision: {text}" + (" (bf16 autocast; weights, optimiser and loss in fp32)" if "bf16" in counts else "")


def describe_run(table: stats.UnitTable, arms: list[str]) -> list[str]:
    records = list(table.records.values())
    commits = sorted({(r.git or {}).get("commit") or "unknown" for r in records})
    libraries = records[0].libraries if records else {}
    ok = table.ok
    cost = sum(r.wall_seconds or 0 for r in records)
    devices = sorted({r.device or "?" for r in records})
    return [
        f"- units: {len(ok)} finished, {len(table.failed)} failed",
        f"- tasks: {', '.join(sorted(ok['task'].unique()))}",
        f"- models: {', '.join(sorted(ok['model'].unique()))}; arms: {', '.join(arms)}",
        f"- seeds: {sorted(ok['seed'].unique().tolist())}; mapping seeds: {sorted(ok['mapping_seed'].unique().tolist())}",
        f"- cost: {cost / 60:.1f} min of unit wall time on {', '.join(devices)}",
        precision_line(records),
        f"- git commit(s): {', '.join(c[:12] for c in commits)}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in libraries.items() if v),
    ]


def scores_by_stratum(table: stats.UnitTable, init: str) -> dict:
    """(task, fold) → the arm's scores: runs are compared only where they saw the same items."""
    arm = table.ok[table.ok["init"] == init]
    return {(task, int(fold)): group["score"].astype(float).to_numpy()
            for (task, fold), group in arm.groupby(["task", "fold"])}


def convergence_lines(table: stats.UnitTable, summary: pd.DataFrame, speedups: pd.DataFrame) -> list[str]:
    conv = summary[["task", "arm", "n", "steps_median", "best_dev_mean", "dev_auc_mean", "still_improving",
                    "initial_weights"]]
    flagged = convergence.flagged_units(table)
    lines = ["## Convergence", "", tables.to_markdown(conv.round(3)), "",
             tables.to_markdown(convergence.totals_by_arm(table)), "",
             f"best_dev: the unit's best dev score; dev AUC: its mean dev score over training (area under the dev "
             f"curve ÷ steps); still_improving: units whose best dev score came in the last "
             f"{100 - 100 * stats.STILL_IMPROVING_FRACTION:.0f}% of their steps (more training might help); "
             "initial_weights: units tested with their initial weights (no dev evaluation beat step 0).", ""]
    if not flagged.empty:
        lines += ["### Units still improving or at their initial weights", "",
                  tables.to_markdown(tables.rounded(flagged)), ""]
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
                  "![speed-up](speedup.png)", ""]
    return lines


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def write_report(run_dirs: list[Path], out_dir: Path, metric: str = "primary",
                 contrasts: list[tuple[str, str]] | None = None, on_unreadable=None) -> Path:
    """The report of the run folders in ``out_dir``. Each file in ``units/`` that is not a readable unit record
    goes to ``on_unreadable(message)`` (default: a warning) and is listed in report.md."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = stats.add_convergence(stats.load_units([Path(d) for d in run_dirs], metric))
    for message in table.unreadable:
        (on_unreadable or (lambda text: warnings.warn(text, stacklevel=3)))(message)
    if table.ok.empty:
        waiting = (f"; {len(table.selection)} lr-selection and {len(table.baselines)} baseline units are finished:"
                   " the main grid starts once every arm's lr is chosen" if len(table.selection) else "")
        raise ReportError(f"no finished main-grid units in {', '.join(map(str, run_dirs))} ({len(table.failed)} failed"
                          f"{', e.g. ' + str(table.failed['error'].iloc[0]) if len(table.failed) else ''}{waiting})")
    planned_arms, planned_contrasts = run_plan(run_dirs)
    arms = arm_order(table.ok["arm"], planned_arms)
    inits = arm_order(table.ok["init"], planned_arms)
    tasks = sorted(table.ok["task"].unique())
    if contrasts is not None:
        contrasts = [tuple(canonical_init(a) for a in pair) for pair in contrasts]
    else:
        contrasts = planned_contrasts or default_contrasts(inits)
    arm_stats = stats.summarise_arms(table)
    deltas, pairs, unpaired = stats.contrast_differences(table, contrasts)
    primary = deltas[(deltas["treatment"] == contrasts[0][0]) & (deltas["control"] == contrasts[0][1])] \
        if contrasts and not deltas.empty else pd.DataFrame()
    summary = tables.build_summary(arm_stats, deltas, convergence.convergence_summary(table))
    speedups = speedup.speedups(table.records, pairs[(pairs["treatment"] == contrasts[0][0])
                                                    & (pairs["control"] == contrasts[0][1])]) \
        if contrasts and not pairs.empty else pd.DataFrame()
    recovered = stats.recovered_fractions(table, FULL_ARM, REFERENCE_ARM)
    baselines = stats.summarise_baselines(table)
    learning_rates = stats.learning_rate_curves(table)
    aggregates = pd.DataFrame([aggregate.aggregate_contrast(
        pairs[(pairs["treatment"] == t) & (pairs["control"] == c)], t, c,
        scores_by_stratum(table, t), scores_by_stratum(table, c)) for t, c in contrasts
        if not pairs.empty and ((pairs["treatment"] == t) & (pairs["control"] == c)).any()])

    tables.with_baseline_rows(summary, baselines).to_csv(out_dir / "summary.csv", index=False)
    head = tables.headline(summary, arms, primary, baselines)
    (out_dir / "summary.md").write_text(tables.to_markdown(head) + "\n", encoding="utf-8")
    models = ", ".join(sorted(table.ok["model"].unique()))
    seeds = sorted(table.ok["seed"].unique().tolist())
    contrast_text = (f"Δ = {tables.contrast_label(*contrasts[0])}, paired by seed, with its 95% interval; * marks "
                     "p < 0.05 (Wilcoxon signed-rank)." if not primary.empty else "")
    caption = (f"Test score (mean ± std over seeds {seeds}; each task's metric) of {models} fine-tuned from each "
               f"init arm. {contrast_text}")
    if not baselines.empty:
        caption += f" Baselines ({', '.join(sorted(baselines['baseline'].unique()))}) are reference columns, not arms."
    (out_dir / "summary.tex").write_text(tables.to_latex(summary, arms, primary, caption, baselines), encoding="utf-8")
    pairs.to_csv(out_dir / "pairs.csv", index=False)
    contrast_rows = tables.contrasts_table(deltas) if not deltas.empty else pd.DataFrame()
    if not deltas.empty:
        deltas.to_csv(out_dir / "contrasts.csv", index=False)
    if not recovered.empty:
        recovered.to_csv(out_dir / "recovered.csv", index=False)
    if not learning_rates.empty:
        learning_rates.to_csv(out_dir / "learning_rates.csv", index=False)
    if not aggregates.empty:
        aggregates.to_csv(out_dir / "aggregate.csv", index=False)
    if not speedups.empty:
        speedups.to_csv(out_dir / "speedup.csv", index=False)
    detail = []
    for task in tasks:
        per_seed = tables.per_seed_table(table.ok, task)
        per_seed.to_csv(out_dir / f"per_seed_{task.replace('/', '-')}.csv", index=False)
        detail.append(f"### {task}\n\n{tables.to_markdown(tables.rounded(per_seed))}\n")

    curves = stats.curves_frame(table)
    reference_line = baselines[baselines["baseline"] == REFERENCE_LINE].set_index("task")["mean"].to_dict() \
        if not baselines.empty else {}
    drawn = {
        "bars": figures.bars_figure(arm_stats, table.ok, arms, reference_line),
        "curves": figures.curves_figure(curves, arms, tasks, reference_line),
        "overview": figures.overview_figure(arm_stats, table.ok, primary, curves, arms, tasks),
    }
    contrast_figures = {}
    for treatment, control in contrasts:
        rows = deltas[(deltas["treatment"] == treatment) & (deltas["control"] == control)] if not deltas.empty else deltas
        if not rows.empty:
            name = f"forest_{slug(treatment)}_vs_{slug(control)}"
            contrast_figures[(treatment, control)] = name
            drawn[name] = figures.forest_figure(rows)
    if not primary.empty:
        drawn["forest"] = figures.forest_figure(primary)
    if not recovered.empty:
        drawn["recovered"] = figures.recovered_figure(recovered, inits)
    if not learning_rates.empty:
        drawn["learning_rates"] = figures.learning_rate_figure(learning_rates, arms)
    if not aggregates.empty and not primary.empty:
        drawn["aggregate"] = figures.aggregate_figure(primary, aggregates.iloc[0])
    if not speedups.empty:
        drawn["speedup"] = figures.speedup_figure(speedups)
    for name, figure in drawn.items():
        figures.save(figure, out_dir, name)
        plt.close(figure)

    lines = ["# crossdomain report", "", "## What was run", "", *describe_run(table, arms), "",
             "## Headline", "", tables.to_markdown(head), "",
             "Intervals: t over seeds (pairs for Δ); with one unit per arm, a bootstrap over test items "
             f"({stats.BOOTSTRAP_RESAMPLES} resamples). p: two-sided Wilcoxon signed-rank test over pairs matched on "
             "task, fold, seed and mapping seed; p (Holm): adjusted for the contrast's tasks by Holm's step-down "
             "method.", "", "### Protocol per task", "", tables.to_markdown(convergence.protocol_table(table)), ""]
    tested_pairs = deltas["pairs"][deltas["pairs"] >= 2] if not deltas.empty else []
    if len(tested_pairs) and tested_pairs.min() < 6:
        n = int(tested_pairs.min())
        lines += [f"With {n} pairs the smallest two-sided Wilcoxon p attainable is {2 / 2**n:.3g}: "
                  "at least 6 pairs (seeds × folds) are needed before p < 0.05 is possible.", ""]
    if not aggregates.empty:
        lines += ["## Across tasks", "", tables.to_markdown(tables.aggregate_table(aggregates)), "",
                  "P(X > Y), all runs: within each task and fold, the share of all (run of X, run of Y) comparisons "
                  "that X wins (ties count ½), averaged over folds, then over tasks. Paired win rate: the share of "
                  "the seed-matched pairs that X wins (ties ½). IQM Δ and mean Δ: interquartile mean and mean of the "
                  "same paired differences, pooled over tasks, folds and seeds (each task's own metric, so MCC and "
                  "macro-F1 are pooled as they are). Intervals: 95% stratified percentile bootstrap "
                  f"({aggregate.RESAMPLES} resamples of runs within each stratum), as in rliable.", ""]
        if "aggregate" in drawn:
            lines += ["![aggregate](aggregate.png)", ""]
    for name in ("bars", "forest", "curves", "overview"):
        if name in drawn:
            lines += [f"![{name}]({name}.png)", ""]
    if "curves" in drawn:
        lines += ["Curves: mean dev score over seeds at each evaluation (a unit stopped early holds its last value), "
                  "shaded: its 95% t-interval, cut at the range of the units' own scores.", ""]
    if not baselines.empty:
        lines += [f"Baselines are reference columns (†), fitted on exactly the units' train/dev/test items with "
                  f"the same truncation; the dashed line in the figures is the {REFERENCE_LINE} baseline.", ""]
    if not contrast_rows.empty:
        lines += ["## Contrasts", ""]
        for (treatment, control), name in contrast_figures.items():
            label = tables.contrast_label(treatment, control)
            lines += [f"### {label}", "", tables.to_markdown(contrast_rows[contrast_rows["contrast"] == label]), "",
                      f"![{label}]({name}.png)", ""]
    if not recovered.empty:
        lines += ["## Recovered fraction", "", tables.to_markdown(tables.recovered_table(recovered, inits)), "",
                  f"Recovered fraction of an arm = (arm − {REFERENCE_ARM}) / ({FULL_ARM} − {REFERENCE_ARM}), the ratio "
                  f"of the mean paired differences over units matched on task, fold, seed and mapping seed: 0 means "
                  f"the arm does no better than {REFERENCE_ARM}, 1 means it recovers all of {FULL_ARM}'s advantage. "
                  "The 95% interval is Fieller's: the ratios θ for which a paired t-test of (arm − "
                  f"{REFERENCE_ARM}) − θ·({FULL_ARM} − {REFERENCE_ARM}) does not reject. It is bounded only when "
                  f"{FULL_ARM} − {REFERENCE_ARM} itself differs from 0 at the 95% level; otherwise the fraction is "
                  "marked *unbounded* (the advantage to be recovered is not established, so no fraction of it is), "
                  "and with fewer than 2 matched seeds *undefined*.", "", "![recovered](recovered.png)", ""]
    if not learning_rates.empty:
        lines += ["## Learning rates", "", tables.to_markdown(tables.chosen_lr_table(learning_rates)), "",
                  "Each arm's lr was chosen on dev (best primary-metric score over the learning curve, on the first "
                  "seed, fold and mapping seed; ties to the smaller lr); test scores were never used.", "",
                  "![learning rates](learning_rates.png)", ""]
    lines += convergence_lines(table, summary, speedups)
    lines += ["## Per-seed scores", "", *detail]
    lines += ["## Files in units/ that are not unit records", ""]
    lines += [f"- {message}" for message in table.unreadable] if table.unreadable else ["None."]
    lines += ["", "Such a file is left out of every table and figure above; a unit whose record is unreadable counts "
              "as not run (re-running `crossdomain run` on the folder runs it again).", ""]
    lines += ["## Failed or unpaired units", ""]
    if unpaired.empty:
        lines.append("None.")
    else:
        lines.append(tables.to_markdown(unpaired[["unit_id", "status", "task", "init", "seed", "reason", "error"]]))
    (out_dir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out_dir
