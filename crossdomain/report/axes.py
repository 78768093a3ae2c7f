"""The model and data axes: does the effect grow or shrink with the model, or with the amount of training data?

A run with a model axis (``models``) or a data axis (``train_sizes``) holds several *conditions*. The rest of
the report reads one of them, the *main condition* (the suite's first model; the largest training set), so that
no per-task mean pools different models or data sizes. Here, the primary contrast's Δ is computed per task in
every value of one axis, the other axis held at its main value, with the same pairing, intervals and tests as
the main Δ table.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from crossdomain.report import stats
from crossdomain.report.tables import lr_text

AXES = {"model": "model", "train_limit": "training-set size"}
ALL_ITEMS = 0  # max_train_examples = 0: the whole training split, larger than any number
BASELINE_PREFIX = "baseline_"  # axis-table columns holding a baseline's mean score in each condition


def varying(table: stats.UnitTable) -> list[str]:
    """The axes along which the finished main units differ."""
    return [axis for axis in AXES if table.ok[axis].nunique(dropna=False) > 1]


def planned_models(run_dirs: list[Path]) -> list[str]:
    """The model axis in suite order, from the runs' ``run.json``."""
    from crossdomain.run.plan import load_plan

    models = []
    for plan in filter(None, (load_plan(Path(run_dir)) for run_dir in run_dirs)):
        models += plan.suite.get("models") or ([plan.suite["model"]] if plan.suite.get("model") else [])
    return list(dict.fromkeys(models))


def size_rank(limit) -> float:
    return np.inf if limit in (ALL_ITEMS, None) or pd.isna(limit) else float(limit)


def main_condition(table: stats.UnitTable, models: list[str]) -> dict:
    """The suite's first model that has units, and the largest training set."""
    present = list(table.ok["model"].unique())
    model = next((m for m in models if m in present), sorted(present)[0])
    limits = table.ok["train_limit"].dropna().unique()
    return {"model": model, "train_limit": max(limits, key=size_rank) if len(limits) else None}


def restrict(table: stats.UnitTable, condition: dict) -> stats.UnitTable:
    """The units of one condition; baselines and selection units by training size (a baseline has no model)."""
    def keep(frame: pd.DataFrame, axes) -> pd.DataFrame:
        if frame is None or frame.empty:
            return frame
        mask = pd.Series(True, index=frame.index)
        for axis in axes:
            if condition.get(axis) is not None:
                mask &= frame[axis] == condition[axis]
        return frame[mask].reset_index(drop=True)

    ok = keep(table.ok, ("model", "train_limit"))
    ok = ok.assign(arm=stats.arm_labels(ok)) if not ok.empty else ok
    return dataclasses.replace(table, ok=ok, baselines=keep(table.baselines, ("train_limit",)),
                               selection=keep(table.selection, ("model", "train_limit")))


def axis_deltas(table: stats.UnitTable, axis: str, main: dict, treatment: str, control: str) -> pd.DataFrame:
    """Δ = treatment − control per task and value of ``axis`` (the other axis at its main value)."""
    frames = []
    values = sorted(table.ok[axis].dropna().unique(), key=size_rank if axis == "train_limit" else str)
    for value in values:
        subset = restrict(table, {**main, axis: value})
        pairs, _ = stats.pair_units(subset, treatment, control)
        if pairs.empty:
            continue
        rows = stats.paired_differences(subset, pairs)
        rows.insert(2, axis, value)
        held = "train_limit" if axis == "model" else "model"
        rows.insert(3, held, main[held])
        arms = stats.summarise_arms(subset).set_index(["task", "arm"])
        for role, arm in (("treatment", treatment), ("control", control)):
            for field in ("mean", "ci_low", "ci_high"):
                rows[f"{role}_{field}"] = [float(arms[field].get((task, arm), np.nan)) for task in rows["task"]]
            rows[f"{role}_lr"] = [_arm_lr(subset, task, arm) for task in rows["task"]]
        for name, group in stats.summarise_baselines(subset).groupby("baseline", sort=True):
            means = group.set_index("task")["mean"]
            rows[f"{BASELINE_PREFIX}{name}"] = [float(means.get(task, np.nan)) for task in rows["task"]]
        rows["train_items"] = [_median_train_items(subset, task) for task in rows["task"]]
        rows["parameters"] = [_parameters(subset, task) for task in rows["task"]]
        frames.append(rows)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _arm_units(table: stats.UnitTable, task: str, arm: str) -> pd.DataFrame:
    return table.ok[(table.ok["task"] == task) & (table.ok["arm"] == arm)]


def baseline_names(frame: pd.DataFrame) -> list[str]:
    """The baselines whose per-condition scores an axis frame carries (its ``baseline_NAME`` columns)."""
    return sorted(c[len(BASELINE_PREFIX):] for c in frame.columns if c.startswith(BASELINE_PREFIX))


def _arm_lr(table: stats.UnitTable, task: str, arm: str) -> float:
    """The lr of an arm's main units in one condition (chosen on dev for that condition); nan if they differ."""
    lrs = _arm_units(table, task, arm)["lr"].dropna().astype(float).unique()
    return float(lrs[0]) if len(lrs) == 1 else float("nan")


def _median_train_items(table: stats.UnitTable, task: str) -> float:
    ids = table.ok.loc[table.ok["task"] == task, "unit_id"]
    return float(np.median([table.records[i].sizes.get("train", np.nan) for i in ids]))


def _parameters(table: stats.UnitTable, task: str):
    ids = table.ok.loc[table.ok["task"] == task, "unit_id"]
    counts = {table.records[i].model.get("parameters") for i in ids} - {None}
    return max(counts) if counts else None


def axis_table(frame: pd.DataFrame, axis: str) -> pd.DataFrame:
    """The Markdown view: one row per task and axis value."""
    shown = pd.DataFrame({
        "task": frame["task"], AXES[axis]: frame[axis].map(lambda v: "all" if v == ALL_ITEMS else v),
        "train items": frame["train_items"].map(lambda v: f"{v:.0f}"),
        **({"parameters": frame["parameters"].map(lambda v: f"{v / 1e6:.2f} M" if v else "–")} if axis == "model" else {}),
        "metric": frame["metric"], "pairs": frame["pairs"],
        **{f"{name} (lr)": [f"{mean:.3f} ({_lr_text(lr)})" for mean, lr in zip(frame[f"{role}_mean"], frame[f"{role}_lr"])]
           for role, name in (("treatment", frame["treatment"].iloc[0]), ("control", frame["control"].iloc[0]))},
        "Δ [95% CI]": [f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, lo, hi in
                       zip(frame["delta_mean"], frame["delta_ci_low"], frame["delta_ci_high"])],
        "p": frame["p_value"].map(lambda v: "–" if pd.isna(v) else f"{v:.3f}"),
    })
    return shown


def _lr_text(lr: float) -> str:
    return "mixed" if pd.isna(lr) else lr_text(lr)
