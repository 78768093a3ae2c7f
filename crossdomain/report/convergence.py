"""How far each arm trained: per task and arm, steps, dev scores, and the units to look at (still improving at
the ceiling, stopped at the early-stopping minimum, or evaluated with their initial weights), each named with its
reason; and each task's protocol."""
from __future__ import annotations

import pandas as pd

from crossdomain.report import stats

SUMMED = ("still_improving", "stopped_at_minimum", "initial_weights")


def convergence_summary(table: stats.UnitTable) -> pd.DataFrame:
    rows = []
    for (task, arm), group in table.ok.groupby(["task", "arm"], sort=True):
        row = {"task": task, "arm": arm, **{column: int(group[column].sum()) for column in SUMMED}}
        row["steps_median"] = float(group["steps"].astype(float).median())
        for column in ("best_dev", "dev_auc"):
            values = group[column].astype(float).dropna()
            row[f"{column}_mean"] = float(values.mean()) if len(values) else float("nan")
            row[f"{column}_std"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
            row[f"{column}_ci_low"], row[f"{column}_ci_high"] = stats.t_interval(values)
        rows.append(row)
    return pd.DataFrame(rows)


def totals_by_arm(table: stats.UnitTable) -> pd.DataFrame:
    """Per arm, over every task: units, still improving, stopped at the minimum, kept initial weights."""
    grouped = table.ok.groupby("arm", sort=False)
    return pd.DataFrame({"units": grouped.size(), **{c: grouped[c].sum().astype(int) for c in SUMMED}}).reset_index()


def unlearnable_arms(table: stats.UnitTable) -> pd.DataFrame:
    """(task, arm) whose lr selection found no lr that learns: every selection unit of its grid kept its initial
    weights. Its main units at their initial weights are then the arm's limit, not under-training."""
    rows = []
    if table.selection is None or table.selection.empty:
        return pd.DataFrame(rows, columns=["task", "arm", "grid"])
    for (task, arm), group in table.selection.groupby(["task", "arm"], sort=True):
        if all(stats.kept_initial_weights(table.records[u]) for u in group["unit_id"]):
            rows.append({"task": task, "arm": arm, "grid": sorted(group["lr"].astype(float).unique())})
    return pd.DataFrame(rows, columns=["task", "arm", "grid"])


def flagged_units(table: stats.UnitTable) -> pd.DataFrame:
    """Every main unit still improving at its ceiling, stopped at the early-stopping minimum or tested with its initial
    weights, with the reason."""
    rows = []
    unlearnable = {(row.task, row.arm) for row in unlearnable_arms(table).itertuples()}
    for _, unit in table.ok.iterrows():
        record = table.records[unit["unit_id"]]
        best = stats.best_dev_step(record.curve or [], stats.higher_is_better(record))
        reasons = []
        if unit["still_improving"]:
            cut = round(stats.STILL_IMPROVING_FRACTION * record.steps)
            reasons.append(f"still improving: best dev at step {best} of {record.steps}, "
                           f"{stats.late_gain(record):+.3f} on its best before step {cut}")
        if unit["stopped_at_minimum"]:
            reasons.append(f"stopped at the minimum: early stopping ended it at step {record.steps}, the first it "
                           f"allowed, with its best dev at step {best}: it overfitted early, or sat on a plateau a longer "
                           "minimum would wait out")
        if unit["initial_weights"]:
            reasons.append(f"kept its initial weights: no dev evaluation beat step 0 in {record.steps} steps"
                           + ("; no lr of its grid learned" if (unit["task"], unit["arm"]) in unlearnable else ""))
        if reasons:
            rows.append({"unit_id": unit["unit_id"], "task": unit["task"], "arm": unit["arm"], "seed": unit["seed"],
                         "fold": unit["fold"], "score": unit["score"], "reason": "; ".join(reasons)})
    return pd.DataFrame(rows, columns=["unit_id", "task", "arm", "seed", "fold", "score", "reason"])


def budget_text(config: dict) -> str:
    """A unit's training budget as read from its record's config."""
    if not config:
        return "not recorded"
    ceiling = f"{config['max_steps']} steps" if config.get("max_steps", -1) > 0 else f"≤ {config.get('epochs', 0):g} epochs"
    if config.get("early_stopping_patience"):
        ceiling += (f", early stop after {config['early_stopping_patience']} evaluations without gain "
                    f"(every {config.get('eval_every')} steps, not before step {config.get('early_stopping_min_steps', 0)})")
    return ceiling + ("" if config.get("keep_best", True) else ", final weights")


def protocol_table(table: stats.UnitTable) -> pd.DataFrame:
    """Per task: pairs' n, the train/dev/test sizes the units saw, the budget and the steps actually taken."""
    rows = []
    for task, group in table.ok.groupby("task", sort=True):
        records = [table.records[u] for u in group["unit_id"]]
        sizes = {k: sorted({(r.sizes or {}).get(k) for r in records} - {None}) for k in ("train", "dev", "test")}
        steps = group["steps"].astype(float)
        rows.append({
            "task": task, "units": len(group), "folds": group["fold"].nunique(), "seeds": group["seed"].nunique(),
            **{f"{k} items": "/".join(str(v) for v in values) for k, values in sizes.items()},
            "budget": " | ".join(sorted({budget_text(r.config or {}) for r in records})),
            "steps (min–median–max)": f"{steps.min():.0f}–{steps.median():.0f}–{steps.max():.0f}",
        })
    return pd.DataFrame(rows)
