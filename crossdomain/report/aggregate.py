"""Benchmark-level statistics across tasks, as few-run benchmarks are reported (Agarwal et al. 2021).

The same estimators as the ``rliable`` package, written on numpy/scipy (rliable 1.2 pulls in arch 7,
which fails to import under pandas 3), each with a 95% percentile interval from a stratified bootstrap
(runs resampled with replacement within each stratum; the strata themselves are fixed):

* P(X > Y), all runs: within each (task, fold) the Mann-Whitney probability that a run of X beats a run
  of Y (ties count one half), averaged over a task's folds, then over tasks. Runs are only compared within
  a fold, where they saw the same items.
* the paired win rate: the share of seed-matched pairs that X wins (ties one half), pooled over tasks;
* the IQM and the mean of the paired differences, both over the same pooled pairs (each task's own metric).

With ``TOO_FEW_RUNS`` runs per arm in a stratum or fewer, a bootstrap has so few distinct resamples that its
interval reads as certainty ([1.00, 1.00] from three runs that all win): the row's ``interval`` then says
``n too small`` and tables and figures show that instead of the interval (the CSV keeps the numbers).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from crossdomain.report.style import N_TOO_SMALL, TOO_FEW_RUNS

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


def win_rate(deltas) -> float:
    deltas = np.asarray(deltas, float)
    return float(((deltas > 0) + 0.5 * (deltas == 0)).mean())


def task_mean_of_folds(strata: list[tuple[str, np.ndarray, np.ndarray]]) -> float:
    """P(X > Y) per (task, fold) stratum, averaged within each task, then over tasks."""
    by_task: dict[str, list[float]] = {}
    for task, x, y in strata:
        by_task.setdefault(task, []).append(probability_of_improvement([x], [y]))
    return float(np.mean([np.mean(values) for values in by_task.values()]))


def aggregate_contrast(pairs, treatment: str, control: str, x_by_stratum: dict, y_by_stratum: dict) -> dict:
    """P(treatment > control) over all runs and over pairs, and the IQM and mean of the pooled paired Δ, with
    their intervals.

    ``pairs``: the contrast's paired rows (task, delta); ``x_by_stratum``/``y_by_stratum``: (task, fold) → all
    scores of each arm in that fold.
    """
    strata = sorted(set(x_by_stratum) & set(y_by_stratum))
    tasks = sorted({task for task, _ in strata})
    x = [np.asarray(x_by_stratum[k], float) for k in strata]
    y = [np.asarray(y_by_stratum[k], float) for k in strata]
    names = [task for task, _ in strata]
    deltas = [pairs.loc[pairs["task"] == t, "delta"].to_numpy(float) for t in tasks]
    deltas = [d for d in deltas if len(d)]
    poi = task_mean_of_folds(list(zip(names, x, y)))
    poi_low, poi_high = stratified_bootstrap(
        list(zip(x, y)), lambda g: task_mean_of_folds([(n, a, b) for n, (a, b) in zip(names, g)]))
    pooled = np.concatenate(deltas) if deltas else np.array([])
    fewest = min((min(len(a), len(b)) for a, b in zip(x, y)), default=0)
    row = {"treatment": treatment, "control": control, "tasks": len(tasks), "runs": int(sum(len(a) for a in x)),
           "pairs": len(pooled), "fewest_runs_per_arm": fewest,
           "interval": N_TOO_SMALL if fewest <= TOO_FEW_RUNS else "stratified bootstrap",
           "p_improvement": poi, "p_improvement_ci_low": poi_low, "p_improvement_ci_high": poi_high}
    if len(pooled):
        by_task = [(d,) for d in deltas]
        for name, statistic in (("win_rate", win_rate), ("iqm_delta", iqm), ("mean_delta", np.mean)):
            row[name] = float(statistic(pooled))
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = stratified_bootstrap(
                by_task, lambda g, f=statistic: float(f(np.concatenate([a for (a,) in g]))))
    return row
