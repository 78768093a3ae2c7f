"""Statistics over unit files: per-arm summaries, paired differences per contrast, recovered fractions, convergence.

Intervals over seeds are Student-t intervals: with the 3–5 seeds a suite affords, a bootstrap
over seeds has too few distinct resamples to cover reliably, while t accounts for the small n.
With one unit per arm the interval comes from bootstrapping that unit's test predictions.
The paired test is the Wilcoxon signed-rank test (exact for small n; no normality assumed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from crossdomain.metrics import resampled_scores
from crossdomain.record import ROW_COLUMNS, UnitRecord
from crossdomain.run.plan import load_run_records

PAIR_KEYS = ["task", "fold", "seed", "mapping_seed", "model", "mapping"]
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


@dataclass
class UnitTable:
    ok: pd.DataFrame  # one row per finished main unit of an init arm
    failed: pd.DataFrame  # failed units, never silently dropped
    records: dict[str, UnitRecord]  # unit_id → full record (curves, predictions path)
    baselines: pd.DataFrame = None  # finished baseline units (reference rows, never paired)
    selection: pd.DataFrame = None  # finished lr-selection units
    unreadable: list = None  # "<file>: <reason>" for every file in units/ that is not a readable unit record


UNIT_COLUMNS = ["unit_id", "status", "error", "task", "domain", "fold", "init", "baseline", "role", "lr", "seed",
                "mapping_seed", "model", "mapping", "metric_name", "score", "wall_seconds", "steps", "best_step",
                "train_limit"]
STILL_IMPROVING_FRACTION = 0.9
# the recovered-fraction precision the report plans seeds for: at a Fieller half-width of 0.3, an arm that
# recovers none of the advantage and one that recovers all of it cannot both lie inside one interval
RECOVERED_HALF_WIDTH_GOAL = 0.3
MAX_PROJECTED_PAIRS = 100


def load_units(run_dirs: list[Path], metric: str = "primary") -> UnitTable:
    """Every unit record of the run folders; unreadable files are named in a warning and skipped."""
    records: dict[str, UnitRecord] = {}
    unreadable: list[str] = []
    for run_dir in run_dirs:
        units_dir = Path(run_dir) / "units"
        if not units_dir.is_dir():
            raise FileNotFoundError(f"{run_dir}: no units/ folder (is this a crossdomain run folder?)")
        for record in load_run_records(run_dir, on_error=lambda error: unreadable.append(str(error))):
            records[record.unit_id] = record
    rows = []
    for record in records.values():
        row = record.row()
        metrics = record.metrics or {}
        row["metric_name"] = metrics.get("primary_metric") if metric == "primary" else metric
        row["score"] = metrics.get(metric)
        row["train_limit"] = record.train_limit  # the data axis
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys([*ROW_COLUMNS, *UNIT_COLUMNS])))[UNIT_COLUMNS]
    frame["baseline"] = frame["baseline"].fillna("").astype(str)
    for column in ("fold", "seed", "mapping_seed"):  # integers, also when a record lacks one (no 0.0 in tables)
        frame[column] = frame[column].astype("Int64")
    frame["role"] = frame["role"].fillna("main").astype(str)
    frame["arm"] = arm_labels(frame)
    finished = frame["status"] == "ok"
    is_baseline = frame["baseline"] != ""
    main, selection = has_role(frame["role"], "main"), has_role(frame["role"], "selection")
    return UnitTable(
        ok=frame[finished & ~is_baseline & main].reset_index(drop=True),
        failed=frame[~finished].reset_index(drop=True),
        records=records,
        baselines=frame[finished & is_baseline].reset_index(drop=True),
        selection=frame[finished & ~is_baseline & selection].reset_index(drop=True),
        unreadable=unreadable,
    )


def has_role(roles: pd.Series, role: str) -> pd.Series:
    """Which units hold ``role`` in their "+"-joined roles (a unit can be both "main" and "selection")."""
    return roles.str.split("+").apply(lambda held: role in held)


def arm_labels(frame: pd.DataFrame) -> pd.Series:
    """The init arm spec, qualified by model and mapping strategy when a merged set holds several."""
    label = frame["init"].fillna("").astype(str)
    if frame["model"].nunique() > 1:
        label = label + " · " + frame["model"].astype(str)
    if frame["mapping"].nunique() > 1:
        label = label + " · " + frame["mapping"].astype(str)
    return label


def t_interval(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (float("nan"), float("nan"))
    mean, sem = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    half = stats.t.ppf(0.975, len(values) - 1) * sem
    return (float(mean - half), float(mean + half))


def read_predictions(record: UnitRecord) -> pd.DataFrame:
    """A unit's test predictions: class names as text, or a regression task's true and predicted values."""
    regression = (record.task or {}).get("type") == "regression"
    kinds = {"id": str} | ({"label": float, "prediction": float} if regression else {"label": str, "prediction": str})
    return pd.read_csv(record.predictions_path, keep_default_na=False, dtype=kinds)


def bootstrap_interval(labels, predictions, metric: str, other_predictions=None) -> tuple[float, float]:
    """Percentile interval of the metric (or of the paired difference) over resampled test items."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    indices = rng.integers(0, len(labels), (BOOTSTRAP_RESAMPLES, len(labels)))
    values = resampled_scores(labels, predictions, indices, metric)
    if other_predictions is not None:
        values = values - resampled_scores(labels, np.asarray(other_predictions), indices, metric)
    return (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))


def _metric_name(group: pd.DataFrame) -> str:
    return str(group["metric_name"].iloc[0])


def summarise_arms(table: UnitTable, column: str = "score") -> pd.DataFrame:
    rows = []
    for (task, arm), group in table.ok.groupby(["task", "arm"], sort=True):
        values = group[column].astype(float).dropna().to_numpy()
        method = "t over seeds"
        if len(values) >= 2:
            low, high = t_interval(values)
        elif len(values) == 1 and column == "score":
            method = "bootstrap over test items"
            predictions = read_predictions(table.records[group["unit_id"].iloc[0]])
            low, high = bootstrap_interval(predictions["label"], predictions["prediction"], _metric_name(group))
        else:
            low = high = float("nan")
        rows.append({
            "task": task, "domain": task.split("/")[0], "arm": arm, "init": group["init"].iloc[0],
            "metric": _metric_name(group), "n": len(values),
            "mean": float(values.mean()) if len(values) else float("nan"),
            "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
            "ci_low": low, "ci_high": high, "ci_method": method,
        })
    return pd.DataFrame(rows)


NO_PARTNER = "no partner under"  # the reason given for a finished unit that a contrast could not pair


def pair_units(table: UnitTable, treatment: str, control: str):
    """(pairs, unpaired): units of two arms matched on task, fold, seed, mapping seed, model, mapping.

    ``unpaired`` lists the finished units of either arm without a partner, and every failed unit.
    """
    ok = table.ok
    a = ok[ok["init"] == treatment].set_index(PAIR_KEYS)
    b = ok[ok["init"] == control].set_index(PAIR_KEYS)
    common = a.index.intersection(b.index)
    pairs = pd.DataFrame({
        "treatment_id": a.loc[common, "unit_id"], "control_id": b.loc[common, "unit_id"],
        "treatment_score": a.loc[common, "score"].astype(float), "control_score": b.loc[common, "score"].astype(float),
    }).reset_index()
    pairs["delta"] = pairs["treatment_score"] - pairs["control_score"]
    pairs.insert(0, "treatment", treatment)
    pairs.insert(1, "control", control)
    paired_ids = set(pairs["treatment_id"]) | set(pairs["control_id"])
    unpaired = ok[~ok["unit_id"].isin(paired_ids) & ok["init"].isin([treatment, control])]
    unpaired = pd.concat([unpaired.assign(reason=f"{NO_PARTNER} {treatment} − {control}"),
                          table.failed.assign(reason="failed")])
    return pairs, unpaired.reset_index(drop=True)


def paired_differences(table: UnitTable, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per task: mean Δ of one contrast's pairs, its interval and p (Wilcoxon; a bootstrap with one pair)."""
    rows = []
    for task, group in pairs.groupby("task", sort=True):
        deltas = group["delta"].to_numpy()
        metric = _metric_name(table.ok[table.ok["task"] == task])
        row = {"treatment": group["treatment"].iloc[0], "control": group["control"].iloc[0], "task": task,
               "domain": task.split("/")[0], "metric": metric, "pairs": len(deltas),
               "delta_mean": float(deltas.mean()), "delta_std": float(deltas.std(ddof=1)) if len(deltas) > 1 else float("nan")}
        if len(deltas) >= 2:
            row["delta_ci_low"], row["delta_ci_high"] = t_interval(deltas)
            row["ci_method"] = "t over pairs"
            row["test"] = "Wilcoxon signed-rank (two-sided)"
            row["p_value"] = wilcoxon_p(deltas)
        else:
            first = group.iloc[0]
            treated = read_predictions(table.records[first["treatment_id"]])
            control = read_predictions(table.records[first["control_id"]])
            if list(treated["id"]) != list(control["id"]):
                raise ValueError(f"task {task}: paired units were tested on different items")
            row["delta_ci_low"], row["delta_ci_high"] = bootstrap_interval(
                treated["label"], treated["prediction"], metric, other_predictions=control["prediction"])
            row["ci_method"] = "paired bootstrap over test items"
            row["test"] = "none (one pair)"
            row["p_value"] = float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p values (nan stays nan, outside the family)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def contrast_differences(table: UnitTable, contrasts: list[tuple[str, str]]):
    """(Δ rows of every contrast, their pairs, units without a partner under some contrast). Each contrast's p
    values are Holm-adjusted over its tasks (``p_holm``)."""
    deltas, all_pairs, unpaired = [], [], []
    for treatment, control in contrasts:
        pairs, lonely = pair_units(table, treatment, control)
        all_pairs.append(pairs)
        unpaired.append(lonely)
        if not pairs.empty:
            rows = paired_differences(table, pairs)
            rows["p_holm"] = holm(rows["p_value"])
            deltas.append(rows)
    deltas = pd.concat(deltas, ignore_index=True) if deltas else pd.DataFrame()
    all_pairs = pd.concat(all_pairs, ignore_index=True) if all_pairs else pd.DataFrame()
    unpaired = pd.concat(unpaired, ignore_index=True) if unpaired else pd.DataFrame(columns=[*table.ok.columns, "reason"])
    unpaired = unpaired.drop_duplicates(subset=["unit_id", "reason"]).reset_index(drop=True)
    return deltas, all_pairs, unpaired


# -- recovered fraction ------------------------------------------------------------------------------


def fieller_interval(numerator, denominator, confidence: float = 0.95) -> tuple[float, float, float, str]:
    """Ratio of the means of paired samples, mean(numerator) / mean(denominator), with Fieller's interval.

    Fieller's interval is the set of ratios θ for which the paired t-test of numerator − θ·denominator
    does not reject at the given level. It is bounded only when the denominator's mean differs from 0 at
    that level; otherwise the ratio is undefined (the interval is the whole line, or two rays).
    Returns (ratio, low, high, status) with status "bounded", "unbounded" or "undefined".
    """
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    n = len(a)
    ratio = float(a.mean() / b.mean()) if n and b.mean() != 0 else float("nan")
    if n < 2:
        return ratio, float("nan"), float("nan"), "undefined"
    return (ratio, *fieller_bounds(a.mean(), b.mean(), np.cov(a, b, ddof=1), n, confidence))


def fieller_bounds(mean_a: float, mean_b: float, per_pair_covariance, n: int,
                   confidence: float = 0.95) -> tuple[float, float, str]:
    """Fieller's interval for mean_a / mean_b from n pairs with the given covariance of one pair's (a, b)."""
    covariance = np.asarray(per_pair_covariance) / n  # of the two means
    t = stats.t.ppf(0.5 + confidence / 2, n - 1)
    quadratic = mean_b**2 - t**2 * covariance[1, 1]
    if quadratic <= 0:
        return float("-inf"), float("inf"), "unbounded"
    linear = mean_a * mean_b - t**2 * covariance[0, 1]
    constant = mean_a**2 - t**2 * covariance[0, 0]
    root = np.sqrt(max(linear**2 - quadratic * constant, 0.0))
    return float((linear - root) / quadratic), float((linear + root) / quadratic), "bounded"


def pairs_for_half_width(numerator, denominator, half_width: float, confidence: float = 0.95,
                         most: int = MAX_PROJECTED_PAIRS) -> int | None:
    """The fewest matched pairs at which Fieller's interval would be no wider than ± half_width (half its length),
    if the observed means and per-pair covariance held: a planning estimate for adding seeds, not a promise
    (more seeds move both). None when even ``most`` pairs would not do (or fewer than 2 pairs are observed)."""
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if len(a) < 2 or b.mean() == 0:
        return None
    mean_a, mean_b, per_pair = a.mean(), b.mean(), np.cov(a, b, ddof=1)
    for n in range(2, most + 1):
        low, high, status = fieller_bounds(mean_a, mean_b, per_pair, n, confidence)
        if status == "bounded" and (high - low) / 2 <= half_width:
            return n
    return None


def recovered_fractions(table: UnitTable, full: str, reference: str) -> pd.DataFrame:
    """Per task and arm: (arm − reference) / (full − reference), matched over seeds, with Fieller's interval."""
    ok = table.ok
    by_arm = {arm: group.set_index(PAIR_KEYS)["score"].astype(float) for arm, group in ok.groupby("init")}
    if full not in by_arm or reference not in by_arm:
        return pd.DataFrame()
    rows = []
    for arm in by_arm:
        if arm in (full, reference):
            continue
        common = by_arm[arm].index.intersection(by_arm[full].index).intersection(by_arm[reference].index)
        if common.empty:
            continue
        matched = pd.DataFrame({"arm": by_arm[arm][common], "full": by_arm[full][common],
                                "reference": by_arm[reference][common]}).reset_index()
        for task, group in matched.groupby("task", sort=True):
            gained = (group["arm"] - group["reference"]).to_numpy()
            benefit = (group["full"] - group["reference"]).to_numpy()
            ratio, low, high, status = fieller_interval(gained, benefit)
            needed = pairs_for_half_width(gained, benefit, RECOVERED_HALF_WIDTH_GOAL)
            rows.append({"task": task, "arm": arm, "full": full, "reference": reference, "n": len(group),
                         "arm_gain": float(gained.mean()), "full_gain": float(benefit.mean()),
                         "recovered": ratio, "ci_low": low, "ci_high": high, "interval": status,
                         "half_width": (high - low) / 2 if status == "bounded" else float("inf"),
                         "pairs_for_goal": float("nan") if needed is None else needed})
    return pd.DataFrame(rows)


def wilcoxon_p(deltas) -> float:
    deltas = np.asarray(deltas, dtype=float)
    if np.allclose(deltas, 0):
        return 1.0
    return float(stats.wilcoxon(deltas, alternative="two-sided").pvalue)


# -- convergence -----------------------------------------------------------------------------


def higher_is_better(record: UnitRecord) -> bool:
    """The direction of the record's primary metric (its dev curve is scored in it)."""
    from crossdomain.metrics import higher_is_better as direction

    return direction((record.task or {}).get("primary_metric") or (record.metrics or {}).get("primary_metric") or "")


def convergence(curve: list[dict], higher: bool = True) -> dict:
    """Area under the dev curve (mean dev score over training) and the last and best dev scores."""
    if not curve:
        return {"dev_auc": float("nan"), "final_dev": float("nan"), "best_dev": float("nan")}
    steps = np.array([p["step"] for p in curve], dtype=float)
    dev = np.array([p["dev"] for p in curve], dtype=float)
    span = steps[-1] - steps[0]
    auc = float(np.trapezoid(dev, steps) / span) if span > 0 else float(dev[0])
    return {"dev_auc": auc, "final_dev": float(dev[-1]), "best_dev": float(dev.max() if higher else dev.min())}


def best_dev_step(curve: list[dict], higher: bool = True) -> int | None:
    """The step of the first best dev score (the step whose weights a unit keeps, under ``keep_best``)."""
    if not curve:
        return None
    best = (max if higher else min)(point["dev"] for point in curve)
    return int(next(point["step"] for point in curve if point["dev"] == best))


def still_improving(record: UnitRecord, fraction: float = STILL_IMPROVING_FRACTION) -> bool:
    """The best dev score came in the last 10% of the unit's steps: more training might still help.
    Read from the curve, so it means the same whether the unit kept its best or its final weights."""
    best = best_dev_step(record.curve or [], higher_is_better(record))
    return bool(record.steps) and best is not None and best >= fraction * record.steps and best > 0


def late_gain(record: UnitRecord, fraction: float = STILL_IMPROVING_FRACTION) -> float:
    """How much the last ``1 - fraction`` of a unit's steps improved on its best dev score before them (in the
    metric's direction, so positive is better): a still-improving unit with a gain of 0.001 sits on a plateau that
    dev noise tips, one with 0.05 wants a longer ceiling. NaN when either part of the curve is empty."""
    curve, higher = record.curve or [], higher_is_better(record)
    cut = fraction * (record.steps or 0)
    early = [point["dev"] for point in curve if point["step"] < cut]
    late = [point["dev"] for point in curve if point["step"] >= cut]
    if not early or not late:
        return float("nan")
    return float(max(late) - max(early)) if higher else float(min(early) - min(late))


def stopped_at_minimum(record: UnitRecord) -> bool:
    """Early stopping ended the unit at the first evaluation it allowed (``early_stopping_min_steps``), with its best
    dev score from before that minimum. Either it overfitted from early on (small training sets do), or it stopped on
    a plateau rather than at convergence (a random init can sit on one for a while, and a small dev set makes early
    scores noisy), which is a sign that the minimum is too short. Read from the unit's config and curve."""
    config, curve = record.config or {}, record.curve or []
    minimum = config.get("early_stopping_min_steps", 0)
    if not (config.get("early_stopping_patience") and minimum and curve and record.steps):
        return False
    first_allowed = next((point["step"] for point in curve if point["step"] >= minimum), None)
    return first_allowed == record.steps == curve[-1]["step"] and best_dev_step(curve, higher_is_better(record)) < minimum


def kept_initial_weights(record: UnitRecord) -> bool:
    """The weights tested are the initial ones: the best dev score came at step 0 (only under keep_best)."""
    return record.best_step == 0 and bool(record.steps)


def add_convergence(table: UnitTable) -> UnitTable:
    measures = [convergence(table.records[u].curve or [], higher_is_better(table.records[u]))
                | {"still_improving": still_improving(table.records[u]),
                   "stopped_at_minimum": stopped_at_minimum(table.records[u]),
                   "initial_weights": kept_initial_weights(table.records[u])}
                for u in table.ok["unit_id"]]
    extra = pd.DataFrame(measures, index=table.ok.index, columns=["dev_auc", "final_dev", "best_dev", "still_improving",
                                                                  "stopped_at_minimum", "initial_weights"])
    table.ok = pd.concat([table.ok, extra], axis=1)
    return table


def summarise_baselines(table: UnitTable) -> pd.DataFrame:
    """Mean test score of each baseline per task (over folds)."""
    rows = []
    for (task, name), group in table.baselines.groupby(["task", "baseline"], sort=True):
        values = group["score"].astype(float).to_numpy()
        rows.append({"task": task, "baseline": name, "metric": _metric_name(group), "n": len(values),
                     "mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else float("nan")})
    return pd.DataFrame(rows, columns=["task", "baseline", "metric", "n", "mean", "std"])


def learning_rate_curves(table: UnitTable) -> pd.DataFrame:
    """Per lr-selection unit: task, arm, lr, best dev score over its curve, and whether that lr was chosen."""
    rows = []
    for _, unit in table.selection.iterrows():
        record = table.records[unit["unit_id"]]
        rows.append({"task": unit["task"], "arm": unit["arm"], "lr": float(unit["lr"]),
                     "best_dev": max((p["dev"] for p in record.curve), default=float("nan")),
                     "chosen": "main" in record.roles})
    frame = pd.DataFrame(rows, columns=["task", "arm", "lr", "best_dev", "chosen"])
    return frame.sort_values(["task", "arm", "lr"]).reset_index(drop=True)


def curves_frame(table: UnitTable) -> pd.DataFrame:
    rows = []
    for _, unit in table.ok.iterrows():
        for point in table.records[unit["unit_id"]].curve or []:
            rows.append({"task": unit["task"], "arm": unit["arm"], "unit_id": unit["unit_id"], "step": point["step"],
                         "seconds": point["seconds"], "dev": point["dev"]})
    return pd.DataFrame(rows, columns=["task", "arm", "unit_id", "step", "seconds", "dev"])


def mean_curve(curves: pd.DataFrame) -> pd.DataFrame:
    """Mean and t-interval of several units' curves on the union of their steps (a stopped unit holds its last value)."""
    grid = np.unique(curves["step"].to_numpy())
    stacked = []
    for _, unit in curves.groupby("unit_id"):
        stacked.append(np.interp(grid, unit["step"].to_numpy(float), unit["dev"].to_numpy(float)))
    stacked = np.vstack(stacked)
    low, high = zip(*(t_interval(stacked[:, i]) for i in range(len(grid))))
    return pd.DataFrame({"step": grid, "mean": stacked.mean(axis=0), "low": low, "high": high, "n": len(stacked)})



# -- regression: predictions of one unit per arm ------------------------------------------------------------


def scatter_units(table: UnitTable) -> pd.DataFrame:
    """Per regression task and arm, the test predictions of its first unit (lowest fold, mapping seed, seed):
    columns task, arm, seed, label (true value), prediction."""
    frames = []
    for (task, arm), group in table.ok.groupby(["task", "arm"], sort=True):
        first = group.sort_values(["fold", "mapping_seed", "seed"]).iloc[0]
        record = table.records[first["unit_id"]]
        if (record.task or {}).get("type") != "regression" or not record.predictions_path.exists():
            continue
        predictions = read_predictions(record)[["label", "prediction"]]
        frames.append(predictions.assign(task=task, arm=arm, seed=int(first["seed"]), metric=first["metric_name"],
                                         score=float(first["score"])))
    columns = ["task", "arm", "seed", "metric", "score", "label", "prediction"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
