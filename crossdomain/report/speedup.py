"""Convergence speed-up: how many fewer optimiser steps one arm needs to reach a dev score that both arms reach.

Per task, the target is ``TARGET_FRACTION`` × the lower of the two arms' mean best dev scores, so that both arms
(on average) reach it; each unit's steps to the target are read off its dev curve, linearly interpolated between
evaluations. The speed-up is mean steps(control) / mean steps(treatment) over the pairs (matched on task, fold,
seed and mapping seed), with a 95% percentile bootstrap over pairs. A unit that never reaches the target counts
with all its steps (a lower bound: censored units are counted, and they bias the speed-up towards 1 when they
are in the control arm and away from it when in the treatment arm).

Like Transfusion (Raghu et al. 2019), which counts the steps to a fixed performance threshold, and unlike a
measure relative to each run's own final score (a run that learns nothing "converges" at once), the target is
common to both arms. A task scored by a metric where lower is better (say RMSE) has no such fraction, so it gets
no row.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

TARGET_FRACTION = 0.9
RESAMPLES = 2000
SEED = 0


def best_dev(curve: list[dict]) -> float:
    return max(point["dev"] for point in curve) if curve else float("nan")


def steps_to(curve: list[dict], target: float) -> tuple[float, bool]:
    """(steps until the dev curve first reaches ``target``, reached?); all its steps when it never does."""
    for previous, point in zip([None, *curve[:-1]], curve):
        if point["dev"] >= target:
            if previous is None or point["dev"] == previous["dev"]:
                return float(point["step"]), True
            share = (target - previous["dev"]) / (point["dev"] - previous["dev"])
            return float(previous["step"] + share * (point["step"] - previous["step"])), True
    return (float(curve[-1]["step"]) if curve else float("nan")), False


def ratio_interval(control: np.ndarray, treatment: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(SEED)
    draws = rng.integers(0, len(control), (RESAMPLES, len(control)))
    numerators, denominators = control[draws].mean(axis=1), treatment[draws].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(denominators > 0, numerators / denominators, np.inf)
    # no interpolation between draws: an unbounded upper tail (a resample whose treatment units all reach the
    # target at step 0) is reported as inf, not as nan
    return (float(np.percentile(ratios, 2.5, method="inverted_cdf")),
            float(np.percentile(ratios, 97.5, method="inverted_cdf")))


def speedups(records: dict, pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per task of a contrast's ``pairs`` (columns task, treatment_id, control_id, treatment, control)."""
    rows = []
    from crossdomain.report.stats import higher_is_better

    for task, group in pairs.groupby("task", sort=True):
        if not higher_is_better(records[group["treatment_id"].iloc[0]]):
            continue
        curves = {side: [records[i].curve or [] for i in group[f"{side}_id"]] for side in ("treatment", "control")}
        means = {side: float(np.nanmean([best_dev(c) for c in curves[side]])) for side in curves}
        target = TARGET_FRACTION * min(means.values())
        reached = {side: [steps_to(c, target) for c in curves[side]] for side in curves}
        steps = {side: np.array([s for s, _ in reached[side]]) for side in reached}
        speedup = steps["control"].mean() / steps["treatment"].mean() if steps["treatment"].mean() > 0 else np.inf
        low, high = ratio_interval(steps["control"], steps["treatment"]) if len(group) > 1 else (np.nan, np.nan)
        rows.append({
            "treatment": group["treatment"].iloc[0], "control": group["control"].iloc[0], "task": task,
            "pairs": len(group), "target": target,
            "treatment_best_dev": means["treatment"], "control_best_dev": means["control"],
            "treatment_steps": steps["treatment"].mean(), "control_steps": steps["control"].mean(),
            "treatment_censored": sum(not r for _, r in reached["treatment"]),
            "control_censored": sum(not r for _, r in reached["control"]),
            "speedup": float(speedup), "speedup_ci_low": low, "speedup_ci_high": high,
        })
    return pd.DataFrame(rows)
