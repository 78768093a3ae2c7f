"""Benchmark-level statistics across tasks, as few-run benchmarks are reported (Agarwal et al. 2021).

The same estimators as the ``rliable`` package, written on numpy/scipy (rliable 1.2 pulls in arch 7,
which fails to import under pandas 3): the probability of improvement P(X > Y) — per task the
Mann-Whitney statistic over all runs of arm X against all runs of arm Y (ties count one half),
averaged over tasks — and the interquartile mean (IQM) of the paired differences pooled over
tasks and seeds, each with a 95% percentile interval from a stratified bootstrap: runs are
resampled with replacement within each task, the task set itself is fixed.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

RESAMPLES = 2000
SEED = 0


def probability_of_improvement(x_by_task: list[np.ndarray], y_by_task: list[np.ndarray]) -> float:
    """Mean over tasks of P(a run of X beats a run of Y), ties counting one half."""
    per_task = []
    for x, y in zip(x_by_task, y_by_task):
        x, y = np.asarray(x, float)[:, None], np.asarray(y, float)[None, :]
        per_task.append(float(((x > y) + 0.5 * (x == y)).mean()))
    return float(np.mean(per_task))


def iqm(values) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy's 25% trimmed mean)."""
    return float(stats.trim_mean(np.asarray(values, float), 0.25))


def stratified_bootstrap(groups: list[tuple[np.ndarray, ...]], statistic, resamples: int = RESAMPLES,
                         seed: int = SEED) -> tuple[float, float]:
    """95% percentile interval of ``statistic(resampled groups)``; each array of each task resampled on its own."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        drawn = [tuple(np.asarray(a)[rng.integers(0, len(a), len(a))] for a in arrays) for arrays in groups]
        values.append(statistic(drawn))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def aggregate_contrast(pairs, treatment: str, control: str, x_by_task: dict, y_by_task: dict) -> dict:
    """P(treatment > control) and the IQM and mean of the paired Δ across tasks, with their intervals.

    ``pairs``: the contrast's paired rows (task, delta); ``x_by_task``/``y_by_task``: task → all scores of each arm.
    """
    tasks = sorted(set(x_by_task) & set(y_by_task))
    x = [np.asarray(x_by_task[t], float) for t in tasks]
    y = [np.asarray(y_by_task[t], float) for t in tasks]
    deltas = [pairs.loc[pairs["task"] == t, "delta"].to_numpy(float) for t in tasks]
    deltas = [d for d in deltas if len(d)]
    poi = probability_of_improvement(x, y)
    poi_low, poi_high = stratified_bootstrap(list(zip(x, y)), lambda g: probability_of_improvement(*zip(*g)))
    pooled = np.concatenate(deltas) if deltas else np.array([])
    row = {"treatment": treatment, "control": control, "tasks": len(tasks), "runs": int(sum(len(a) for a in x)),
           "pairs": len(pooled), "p_improvement": poi, "p_improvement_ci_low": poi_low, "p_improvement_ci_high": poi_high}
    if len(pooled):
        row["iqm_delta"] = iqm(pooled)
        row["iqm_delta_ci_low"], row["iqm_delta_ci_high"] = stratified_bootstrap(
            [(d,) for d in deltas], lambda g: iqm(np.concatenate([a for (a,) in g])))
        row["mean_delta"] = float(np.mean([d.mean() for d in deltas]))
        row["mean_delta_ci_low"], row["mean_delta_ci_high"] = stratified_bootstrap(
            [(d,) for d in deltas], lambda g: float(np.mean([a.mean() for (a,) in g])))
    return row
