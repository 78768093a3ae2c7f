"""``crossdomain compare``: the same units run twice (another precision, thread count, machine or commit).

Units are matched by unit id, which hashes everything that changes what a unit computes and nothing that only
changes how it is executed; so two records with one id differ only in execution. Per task and pooled over
tasks: the mean paired difference of the test metric (A − B) with its 95% t interval, how many pairs agree
exactly, and where their dev curves first part.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crossdomain.record import UnitRecord
from crossdomain.report.stats import t_interval
from crossdomain.run.plan import load_run_records

# dev curves "part" at the first evaluation where the two scores differ by more than this (metric units)
DIVERGENCE = 0.02


def trained_records(run_dir: Path, on_error) -> dict[str, UnitRecord]:
    records = load_run_records(Path(run_dir), on_error=on_error)
    return {r.unit_id: r for r in records if r.ok and not r.is_baseline}


def first_divergence(a: UnitRecord, b: UnitRecord) -> float:
    """The first dev evaluation step at which the two curves differ by more than DIVERGENCE (nan: never)."""
    for point_a, point_b in zip(a.curve, b.curve):
        if point_a["step"] != point_b["step"] or abs(point_a["dev"] - point_b["dev"]) > DIVERGENCE:
            return float(point_a["step"])
    return float("nan")


def paired_frame(run_a: Path, run_b: Path, metric: str = "primary", on_error=None) -> tuple[pd.DataFrame, dict]:
    a, b = trained_records(run_a, on_error), trained_records(run_b, on_error)
    rows = []
    for unit_id in sorted(set(a) & set(b)):
        ra, rb = a[unit_id], b[unit_id]
        rows.append({
            "unit_id": unit_id, "task": ra.unit.task, "init": ra.unit.arm, "seed": getattr(ra.unit, "seed", None),
            "metric": ra.metrics["primary_metric"] if metric == "primary" else metric,
            "a": ra.metrics[metric], "b": rb.metrics[metric], "delta": ra.metrics[metric] - rb.metrics[metric],
            "steps_a": ra.steps, "steps_b": rb.steps, "curves_part_at": first_divergence(ra, rb),
            "precision_a": ra.precision, "precision_b": rb.precision,
            "train_seconds_a": ra.train_seconds, "train_seconds_b": rb.train_seconds,
        })
    unmatched = {"only_a": len(set(a) - set(b)), "only_b": len(set(b) - set(a))}
    return pd.DataFrame(rows), unmatched


def summary_row(label: str, group: pd.DataFrame) -> dict:
    low, high = t_interval(group["delta"])
    return {
        "task": label, "metric": ", ".join(sorted(group["metric"].unique())), "pairs": len(group),
        "mean_a": group["a"].mean(), "mean_b": group["b"].mean(), "mean_delta": group["delta"].mean(),
        "ci_low": low, "ci_high": high, "sd_delta": group["delta"].std(ddof=1) if len(group) > 1 else np.nan,
        "max_abs_delta": group["delta"].abs().max(), "identical": int((group["delta"] == 0).sum()),
        "median_curves_part_at": group["curves_part_at"].median(),
        "train_time_ratio_b_over_a": (group["train_seconds_b"] / group["train_seconds_a"]).median(),
    }


def compare_runs(run_a: Path, run_b: Path, metric: str = "primary", on_error=None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(per-pair frame, per-task summary with a pooled last row, unmatched counts)."""
    pairs, unmatched = paired_frame(run_a, run_b, metric, on_error)
    if pairs.empty:
        return pairs, pd.DataFrame(), unmatched
    rows = [summary_row(task, group) for task, group in pairs.groupby("task", sort=True)]
    rows.append(summary_row("pooled", pairs))
    return pairs, pd.DataFrame(rows), unmatched


def to_markdown(summary: pd.DataFrame, pairs: pd.DataFrame, unmatched: dict, run_a: Path, run_b: Path) -> str:
    precision = {side: ", ".join(sorted(str(p) for p in pairs[f"precision_{side}"].unique())) for side in "ab"}
    lines = [f"A = {run_a} ({precision['a']}), B = {run_b} ({precision['b']}); pairs = units with the same id in both "
             f"({unmatched['only_a']} only in A, {unmatched['only_b']} only in B).", "",
             summary.round(4).to_markdown(index=False), "",
             "mean_delta: mean of A − B over the pairs, with its 95% t interval (ci_low, ci_high); pooled: over every "
             "pair of every task (each task's own metric). identical: pairs with exactly the same test score. "
             f"median_curves_part_at: median first dev evaluation step where the two curves differ by more than "
             f"{DIVERGENCE}. train_time_ratio_b_over_a: median of B's training seconds over A's."]
    return "\n".join(lines) + "\n"
