"""The report's data, in order: unit files → statistics (:func:`compute` → :class:`ReportData`) → tables
(:func:`write_tables`) → figures (:func:`draw_figures`); ``report.md``'s prose is :mod:`crossdomain.report.markdown`."""
from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crossdomain.config import FULL_ARM, REFERENCE_ARM
from crossdomain.inits import canonical_init
from crossdomain.report import aggregate, axes, captions, convergence, figures, speedup, stats, tables
from crossdomain.report.style import Visuals
from crossdomain.run import provenance
from crossdomain.run.plan import load_plan
from crossdomain.run.status import distinct_units, planned_units, unit_state


class ReportError(ValueError):
    """Nothing to report (no finished units); the message says what was found."""


@dataclass(frozen=True)
class RunRoles:
    """What the runs' plans declare about their arms: suite order, contrasts, and the full and reference arms."""

    arms: list
    contrasts: list
    full: str = FULL_ARM
    reference: str = REFERENCE_ARM
    plans: tuple = ()  # the runs' plans (run.json), for the units planned but not finished


def run_plan(run_dirs: list[Path]) -> RunRoles:
    """The arms (in suite order) and contrasts the runs' plans declare, merged over the runs; the full and
    reference arms of the first run that has a plan. Read from ``run.json`` alone: no plugin is needed."""
    plans = [plan for plan in (load_plan(Path(d)) for d in run_dirs) if plan is not None]
    arms = list(dict.fromkeys(arm for plan in plans for arm in plan.arms))
    contrasts = list(dict.fromkeys(pair for plan in plans for pair in plan.contrasts))
    if not plans:
        return RunRoles(arms, contrasts)
    return RunRoles(arms, contrasts, plans[0].full_arm, plans[0].reference_arm, tuple(plans))


def not_yet_run(plans, records: dict) -> dict[str, int]:
    """Per task, the planned units with no finished record (failed or never run), each unit once, as
    ``crossdomain status`` counts them: a run still going, or stopped part-way, is reported from its finished units
    only, and says so."""
    entries = [entry for plan in plans for entry in planned_units(plan, records)]
    missing = Counter(entry["task"] for entry in distinct_units(entries).values()
                      if unit_state(entry, records, claims={}) != "done")
    return dict(sorted(missing.items()))


def not_yet_run_line(missing: dict[str, int]) -> list[str]:
    if not missing:
        return []
    total = sum(missing.values())
    by_task = ", ".join(f"{task} {n}" for task, n in missing.items())
    return [f"- **not finished: {total} planned units** ({by_task}) have no finished record, so every table and "
            "figure below reads the finished units only, and arms may have fewer seeds than planned; "
            "`crossdomain status RUN` lists them, and `crossdomain run` on the folder finishes them"]


def arm_order(arms, planned: list[str] = (), roles: tuple[str, str] = (FULL_ARM, REFERENCE_ARM)) -> list[str]:
    """Planned (suite) order first, then the full and reference arms, then the rest alphabetically."""
    rank = {arm: i for i, arm in enumerate(dict.fromkeys([*planned, *roles]))}
    return sorted(set(arms), key=lambda a: (rank.get(a.split(" · ")[0], len(rank)), a))


def default_contrasts(inits: list[str], full: str = FULL_ARM, reference: str = REFERENCE_ARM) -> list[tuple[str, str]]:
    """Every arm against the reference arm (the full arm's contrast first), when the reference was run."""
    if reference not in inits:
        return []
    treatments = sorted((a for a in inits if a != reference), key=lambda a: a != full)
    return [(arm, reference) for arm in treatments]


def precision_line(records) -> str:
    """What the trained units ran in; a run that mixes precisions is flagged (its arms may differ by it)."""
    trained = [r for r in records if r.ok and not r.is_baseline]
    counts = Counter(r.precision or "not recorded" for r in trained)
    text = ", ".join(f"{name} ({n} trained units)" for name, n in sorted(counts.items()))
    if len(counts) > 1:
        return (f"- precision: **mixed**: {text}. Units differ in numeric precision as well as in what is compared; "
                "re-run the minority with `--set execution.bf16=...` in a fresh folder to compare like with like")
    line = f"- precision: {text}" + (" (bf16 autocast; weights, optimiser and loss in fp32)" if "bf16" in counts else "")
    return line + evaluation_precision(trained)


def evaluation_precision(trained) -> str:
    """What the dev curves and test predictions were computed in, where that is not simply fp32."""
    counts = Counter(r.eval_precision or "not recorded" for r in trained)
    if set(counts) == {"fp32"}:
        return "; evaluated in fp32"
    text = ", ".join(f"{name} ({n})" for name, n in sorted(counts.items()))
    caveat = (": outputs that barely vary across items (a regression head collapsed towards the mean) are then "
              "ranked by rounding noise") if "bf16" in counts else ""
    return f"; evaluated in {text}{caveat}"


def describe_run(table: stats.UnitTable, arms: list[str]) -> list[str]:
    records = list(table.records.values())
    commits = sorted({(r.git or {}).get("commit") or "unknown" for r in records})
    ok = table.ok
    cost = sum(r.wall_seconds or 0 for r in records)
    devices = sorted({r.device or "?" for r in records})
    return [
        units_line(table),
        f"- tasks: {', '.join(sorted(ok['task'].unique()))}" + tasks_without_main_units(table),
        f"- models: {', '.join(sorted(ok['model'].unique()))}; arms: {', '.join(arms)}",
        f"- seeds: {sorted(ok['seed'].unique().tolist())}; mapping seeds: {sorted(ok['mapping_seed'].unique().tolist())}",
        f"- cost: {cost / 60:.1f} min of unit wall time on {', '.join(devices)}",
        precision_line(records),
        f"- git commit(s): {', '.join(c[:12] for c in commits)}",
        versions_line(records),
        cpus_line(records),
    ]


def tasks_without_main_units(table: stats.UnitTable) -> str:
    """Tasks whose folder holds lr-selection or baseline units but no finished main unit: named, because every
    table below reads main units only (a run stopped after a task's lr selection, for instance)."""
    others = [frame for frame in (table.selection, table.baselines) if frame is not None and len(frame)]
    seen = set().union(*(set(frame["task"]) for frame in others)) if others else set()
    missing = sorted(seen - set(table.ok["task"]))
    if not missing:
        return ""
    return (f"; without main units, so in none of the tables below: {', '.join(missing)} (its lr-selection "
            "or baseline units only)")


def units_line(table: stats.UnitTable) -> str:
    """How many units finished, by what they are for: the tables read the main units only, the cost counts all."""
    selection_only = 0 if table.selection is None else int((~stats.has_role(table.selection["role"], "main")).sum())
    baselines = 0 if table.baselines is None else len(table.baselines)
    parts = [f"{len(table.ok)} main"]
    if selection_only:
        parts.append(f"{selection_only} lr-selection only")
    if baselines:
        parts.append(f"{baselines} baseline")
    finished = len(table.ok) + selection_only + baselines
    return f"- units: {finished} finished ({', '.join(parts)}), {len(table.failed)} failed"


def _tally(values) -> str:
    counts = Counter(values)
    return " / ".join(f"{value} ({n} units)" for value, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def versions_line(records) -> str:
    """The library versions; a library whose version differs between units is named with each version's count."""
    names = list(dict.fromkeys(name for r in records for name in (r.libraries or {})))
    same, mixed = [], []
    for name in names:
        values = [(r.libraries or {}).get(name) or "not recorded" for r in records]
        found = set(values)
        if found == {"not recorded"}:
            continue
        if len(found) == 1:
            same.append(f"{name} {found.pop()}")
        else:
            mixed.append(f"{name} " + _tally(values))
    line = "- versions: " + ", ".join(same)
    return line + (f"; **differing between units**: {'; '.join(mixed)}" if mixed else "")


def cpus_line(records) -> str:
    """The CPUs the trained units ran on (bf16 numbers are bit-identical only on one CPU kind); GPU units by name."""
    trained = [r for r in records if r.ok and not r.is_baseline]
    if not trained:
        return "- machines: no trained unit"
    return f"- machines: {_tally(provenance.machine_kind(r) or 'not recorded' for r in trained)}"


def scores_by_stratum(table: stats.UnitTable, init: str) -> dict:
    """(task, fold) → the arm's scores: runs are compared only where they saw the same items."""
    arm = table.ok[table.ok["init"] == init]
    return {(task, int(fold)): group["score"].astype(float).to_numpy()
            for (task, fold), group in arm.groupby(["task", "fold"])}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def run_visuals(arms, planned: list[str] = (), roles: tuple[str, str] = (FULL_ARM, REFERENCE_ARM)) -> Visuals:
    """The run's colours: the full and reference arms first, then the suite's arm order, then any other arm."""
    order = list(dict.fromkeys([*roles, *planned]))
    return Visuals(order).extended(arms)


@dataclass
class ReportData:
    """Everything the report's tables, figures and words are made from, computed once from the unit files."""

    table: stats.UnitTable
    arms: list
    inits: list
    tasks: list
    contrasts: list
    arm_stats: pd.DataFrame
    deltas: pd.DataFrame
    pairs: pd.DataFrame
    unpaired: pd.DataFrame
    primary: pd.DataFrame
    summary: pd.DataFrame
    speedups: pd.DataFrame
    recovered: pd.DataFrame
    baselines: pd.DataFrame
    learning_rates: pd.DataFrame
    aggregates: pd.DataFrame
    curves: pd.DataFrame
    visuals: Visuals
    per_seed: dict  # task → its per-seed table (written as CSV and shown in report.md)
    all_units: stats.UnitTable = None  # every condition; ``table`` holds the main condition only
    main_condition: dict = None  # with a model or data axis: the condition the rest of the report reads
    axes: dict = None  # axis → Δ per task and value of the axis (report/axes.py)
    roles: RunRoles = None  # the plans' arm order, contrasts, full and reference arms
    not_run: dict = None  # task → planned units without a finished record

    @property
    def metrics(self) -> dict:
        return self.arm_stats.drop_duplicates("task").set_index("task")["metric"].to_dict()

    @property
    def baseline_lines(self) -> dict:
        """baseline name → {task: mean test score}."""
        if self.baselines.empty:
            return {}
        return {name: group.set_index("task")["mean"].to_dict() for name, group in self.baselines.groupby("baseline")}

    def contrast_rows(self, treatment: str, control: str) -> pd.DataFrame:
        if self.deltas.empty:
            return self.deltas
        return self.deltas[(self.deltas["treatment"] == treatment) & (self.deltas["control"] == control)]


def load_table(run_dirs: list[Path], metric: str, on_unreadable=None) -> stats.UnitTable:
    """The runs' units (each unreadable file named); a run with no finished main unit says why."""
    table = stats.add_convergence(stats.load_units([Path(d) for d in run_dirs], metric))
    for message in table.unreadable:
        (on_unreadable or (lambda text: warnings.warn(text, stacklevel=5)))(message)
    if table.ok.empty:
        waiting = (f"; {len(table.selection)} lr-selection and {len(table.baselines)} baseline units are finished:"
                   " the main grid starts once every arm's lr is chosen" if len(table.selection) else "")
        raise ReportError(f"no finished main-grid units in {', '.join(map(str, run_dirs))} ({len(table.failed)} failed"
                          f"{', e.g. ' + str(table.failed['error'].iloc[0]) if len(table.failed) else ''}{waiting})")
    return table


def asked_contrast(pair) -> tuple[str, str]:
    """A --contrast pair in canonical spelling where the arm's plugin is installed, else as written."""
    def canonical(spec: str) -> str:
        try:
            return canonical_init(spec)
        except (KeyError, ValueError):
            return spec

    return tuple(canonical(spec) for spec in pair)


def of_contrast(frame: pd.DataFrame, treatment: str, control: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[(frame["treatment"] == treatment) & (frame["control"] == control)]


def compute(run_dirs: list[Path], metric: str = "primary", contrasts: list[tuple[str, str]] | None = None,
            on_unreadable=None) -> ReportData:
    all_units = table = load_table(run_dirs, metric, on_unreadable)
    roles = run_plan(run_dirs)
    planned_arms, pair = roles.arms, (roles.full, roles.reference)
    varying, main = axes.varying(table), None
    if varying:  # several models or training sizes: the per-task statistics read the main condition only
        main = axes.main_condition(table, axes.planned_models(run_dirs))
        table = axes.restrict(table, main)
    arms, inits = arm_order(table.ok["arm"], planned_arms, pair), arm_order(table.ok["init"], planned_arms, pair)
    tasks = sorted(table.ok["task"].unique())
    contrasts = [asked_contrast(c) for c in contrasts] if contrasts is not None else \
        roles.contrasts or default_contrasts(inits, *pair)
    arm_stats = stats.summarise_arms(table)
    deltas, pairs, unpaired = stats.contrast_differences(table, contrasts)
    primary, primary_pairs = (of_contrast(deltas, *contrasts[0]), of_contrast(pairs, *contrasts[0])) if contrasts \
        else (pd.DataFrame(), pd.DataFrame())
    aggregates = pd.DataFrame([aggregate.aggregate_contrast(of_contrast(pairs, t, c), t, c, scores_by_stratum(table, t),
                                                            scores_by_stratum(table, c))
                               for t, c in contrasts if not of_contrast(pairs, t, c).empty])
    axis_rows = {axis: axes.axis_deltas(all_units, axis, main, *contrasts[0]) for axis in varying} if contrasts else {}
    return ReportData(
        table=table, arms=arms, inits=inits, tasks=tasks, contrasts=contrasts,
        arm_stats=arm_stats, deltas=deltas, pairs=pairs, unpaired=unpaired, primary=primary,
        summary=tables.build_summary(arm_stats, deltas, convergence.convergence_summary(table)),
        speedups=speedup.speedups(table.records, primary_pairs) if not primary_pairs.empty else pd.DataFrame(),
        recovered=stats.recovered_fractions(table, *pair),
        baselines=stats.summarise_baselines(table), learning_rates=stats.learning_rate_curves(table),
        aggregates=aggregates, curves=stats.curves_frame(table),
        visuals=run_visuals([*table.ok["arm"], *table.ok["init"]], planned_arms, pair), roles=roles,
        per_seed={task: tables.per_seed_table(table.ok, task) for task in tasks},
        all_units=all_units, main_condition=main, axes={k: v for k, v in axis_rows.items() if not v.empty},
        not_run=not_yet_run(roles.plans, all_units.records))


def write_tables(data: ReportData, out_dir: Path) -> pd.DataFrame:
    """The CSV, Markdown and LaTeX tables; returns the headline table."""
    tables.with_baseline_rows(data.summary, data.baselines).to_csv(out_dir / "summary.csv", index=False)
    head = tables.headline(data.summary, data.arms, data.primary, data.baselines)
    (out_dir / "summary.md").write_text(tables.to_markdown(head) + "\n", encoding="utf-8")
    (out_dir / "summary.tex").write_text(tables.to_latex(data.summary, data.arms, data.primary, table_caption(data),
                                                         data.baselines), encoding="utf-8")
    data.pairs.to_csv(out_dir / "pairs.csv", index=False)
    for name, frame in (("contrasts", data.deltas), ("recovered", data.recovered),
                        ("learning_rates", data.learning_rates), ("aggregate", data.aggregates),
                        ("speedup", data.speedups)):
        if not frame.empty:
            frame.to_csv(out_dir / f"{name}.csv", index=False)
    for task, per_seed in data.per_seed.items():
        per_seed.to_csv(out_dir / f"per_seed_{task.replace('/', '-')}.csv", index=False)
    for axis, frame in (data.axes or {}).items():
        frame.to_csv(out_dir / f"{axis_figure_name(axis)}.csv", index=False)
    return head


def table_caption(data: ReportData) -> str:
    models = ", ".join(sorted(data.table.ok["model"].unique()))
    seeds = sorted(data.table.ok["seed"].unique().tolist())
    text = (f"Test score (mean ± std over seeds {seeds}; each task's metric) of {models} fine-tuned from each "
            "init arm.")
    if not data.primary.empty:
        text += (f" Δ = {tables.contrast_label(*data.contrasts[0])}, paired by seed, with its {captions.T_OVER_PAIRS}; "
                 "* marks p < 0.05 (Wilcoxon signed-rank).")
    if not data.baselines.empty:
        text += (f" Baselines ({', '.join(sorted(data.baselines['baseline'].unique()))}) are reference columns, "
                 "not arms.")
    return text + " Bold: the best mean per task among arms and baselines (as printed; ties all bold)."


def axis_figure_name(axis: str) -> str:
    return {"model": "delta_by_model", "train_limit": "delta_by_train_size"}[axis]


def axis_scores_figure_name(axis: str) -> str:
    return {"model": "scores_by_model", "train_limit": "scores_by_train_size"}[axis]


def contrast_figure_name(treatment: str, control: str) -> str:
    return f"forest_{slug(treatment)}_vs_{slug(control)}"


def draw_figures(data: ReportData) -> dict[str, tuple]:
    """name → (matplotlib Figure, caption), in the order report.md shows them."""
    metrics, visuals = data.metrics, data.visuals
    drawn = {}
    if not data.aggregates.empty and not data.primary.empty:
        row = data.aggregates.iloc[0]
        drawn["aggregate"] = (figures.aggregate_figure(data.primary, row, visuals), captions.aggregate(row, metrics))
    drawn["bars"] = (figures.bars_figure(data.arm_stats, data.table.ok, data.arms, data.baseline_lines, visuals),
                     captions.bars(data.arm_stats, metrics, sorted(data.baseline_lines)))
    drawn["curves"] = (figures.curves_figure(data.curves, data.arms, data.tasks, metrics, visuals),
                       captions.curves(metrics, data.arm_stats))
    scatter = stats.scatter_units(data.table)
    if not scatter.empty:
        drawn["scatter"] = (figures.scatter_figure(scatter, data.arms, visuals), captions.scatter(scatter))
    focus = (data.primary.loc[data.primary["delta_mean"].abs().idxmax(), "task"] if not data.primary.empty
             else data.tasks[0])
    drawn["overview"] = (figures.overview_figure(data.arm_stats, data.table.ok, data.primary, data.curves, data.arms,
                                                 data.tasks, data.baseline_lines, metrics, visuals),
                         captions.overview(data.contrasts[0] if not data.primary.empty else None, focus))
    for treatment, control in data.contrasts:
        rows = data.contrast_rows(treatment, control)
        if not rows.empty:
            drawn[contrast_figure_name(treatment, control)] = (figures.forest_figure(rows, visuals),
                                                               captions.forest(treatment, control, rows))
    if not data.recovered.empty:
        drawn["recovered"] = (figures.recovered_figure(data.recovered, data.inits, visuals=visuals),
                              captions.recovered(data.roles.full, data.roles.reference,
                                                 tables.count_range(data.recovered["n"])))
    if not data.learning_rates.empty:
        drawn["learning_rates"] = (figures.learning_rate_figure(data.learning_rates, data.arms, metrics, visuals),
                                   captions.learning_rates(metrics))
    for axis, frame in (data.axes or {}).items():
        drawn[axis_figure_name(axis)] = (figures.axis_figure(frame, axis, data.contrasts[0], visuals),
                                         captions.axis(frame, axis, data.contrasts[0], data.main_condition))
        drawn[axis_scores_figure_name(axis)] = (figures.axis_scores_figure(frame, axis, data.contrasts[0], visuals),
                                                captions.axis_scores(frame, axis, data.contrasts[0]))
    if not data.speedups.empty:
        drawn["speedup"] = (figures.speedup_figure(data.speedups, visuals),
                            captions.speedup(data.speedups, speedup.TARGET_FRACTION, speedup.RESAMPLES))
    return drawn
