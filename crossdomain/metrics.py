"""The metrics table: every metric's name, task type and direction, defined once, and how to score it.

Model selection, early stopping, lr selection, baselines, the report and the aggregate read a metric's
direction from :data:`METRICS`; a new metric is one entry here.

Single scores come from scikit-learn and scipy. A bootstrap needs thousands of metric evaluations, so
resamples are scored vectorised with the same definitions: classification metrics from stacked confusion
matrices (macro-F1 over the classes present in truth or prediction with zero_division=0, MCC as
scikit-learn's multiclass formula), regression metrics from stacked resampled rows (Spearman ρ as the
Pearson r of average ranks, as scipy computes it). ``tests/test_metrics.py`` checks both forms agree.

A correlation with a constant prediction is undefined; it scores 0 here (no rank information), so an
untrained regression head neither wins model selection nor breaks it with a NaN.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASK_TYPES = (CLASSIFICATION, REGRESSION)


@dataclass(frozen=True)
class Metric:
    name: str
    task_type: str  # classification | regression
    higher_is_better: bool
    label: str  # how tables and figures name it

    @property
    def worst(self) -> float:
        return float("-inf") if self.higher_is_better else float("inf")

    def better(self, score: float, than: float) -> bool:
        """Strictly better; NaN is never better."""
        return score > than if self.higher_is_better else score < than

    def best(self, scores):
        return max(scores) if self.higher_is_better else min(scores)


METRICS: dict[str, Metric] = {metric.name: metric for metric in (
    Metric("accuracy", CLASSIFICATION, True, "accuracy"),
    Metric("macro_f1", CLASSIFICATION, True, "macro-F1"),
    Metric("mcc", CLASSIFICATION, True, "MCC"),
    Metric("spearman", REGRESSION, True, "Spearman ρ"),
    Metric("pearson", REGRESSION, True, "Pearson r"),
    Metric("rmse", REGRESSION, False, "RMSE"),
    Metric("r2", REGRESSION, True, "R²"),
)}
DEFAULT_PRIMARY = {CLASSIFICATION: "accuracy", REGRESSION: "spearman"}


def metric_names(task_type: str | None = None) -> tuple[str, ...]:
    return tuple(name for name, m in METRICS.items() if task_type is None or m.task_type == task_type)


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    return METRICS[name]


def higher_is_better(name: str) -> bool:
    """Direction of a metric; a name outside the table (a third-party metric in old files) counts as higher."""
    return METRICS[name].higher_is_better if name in METRICS else True


def score(task_type: str, labels, predictions) -> dict[str, float]:
    """Every metric of the task type, on the original scale."""
    return classification_metrics(labels, predictions) if task_type == CLASSIFICATION else \
        regression_metrics(labels, predictions)


def classification_metrics(labels, predictions) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, average="macro", zero_division=0)),
        "mcc": float(matthews_corrcoef(labels, predictions)),
    }


def _correlation(compute, truth, guess) -> float:
    if np.ptp(truth) == 0 or np.ptp(guess) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(compute(truth, guess)[0])


def regression_metrics(labels, predictions) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import mean_squared_error, r2_score

    truth, guess = np.asarray(labels, dtype=float), np.asarray(predictions, dtype=float)
    return {
        "spearman": _correlation(spearmanr, truth, guess),
        "pearson": _correlation(pearsonr, truth, guess),
        "rmse": float(np.sqrt(mean_squared_error(truth, guess))),
        "r2": float(r2_score(truth, guess)),
    }


# -- vectorised resamples for bootstraps ------------------------------------------------------------


def resampled_scores(labels, predictions, indices: np.ndarray, metric: str) -> np.ndarray:
    """The metric on each row of ``indices`` (resamples × items) into the test items."""
    if get_metric(metric).task_type == CLASSIFICATION:
        return metric_from_confusions(resampled_confusions(labels, predictions, indices), metric)
    truth = np.asarray(labels, dtype=float)[indices]
    guess = np.asarray(predictions, dtype=float)[indices]
    return metric_from_rows(truth, guess, metric)


def metric_from_rows(truth: np.ndarray, guess: np.ndarray, metric: str) -> np.ndarray:
    """A regression metric per row of two (resamples × items) arrays."""
    if metric == "rmse":
        return np.sqrt(((truth - guess) ** 2).mean(axis=1))
    if metric == "r2":
        residual = ((truth - guess) ** 2).sum(axis=1)
        total = ((truth - truth.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        return np.divide(total - residual, total, out=np.zeros_like(total), where=total > 0)
    if metric == "spearman":
        from scipy.stats import rankdata

        truth, guess = rankdata(truth, axis=1), rankdata(guess, axis=1)
    elif metric != "pearson":
        raise ValueError(f"unknown regression metric {metric!r}; expected one of {', '.join(metric_names(REGRESSION))}")
    truth = truth - truth.mean(axis=1, keepdims=True)
    guess = guess - guess.mean(axis=1, keepdims=True)
    product = (truth**2).sum(axis=1) * (guess**2).sum(axis=1)
    covariance = (truth * guess).sum(axis=1)
    return np.divide(covariance, np.sqrt(product), out=np.zeros_like(covariance), where=product > 0)


def resampled_confusions(labels, predictions, indices: np.ndarray) -> np.ndarray:
    """Confusion matrices (resamples × classes × classes) for rows of ``indices`` into the items."""
    classes, codes = np.unique(np.concatenate([np.asarray(labels), np.asarray(predictions)]), return_inverse=True)
    k = len(classes)
    truth, guess = codes[: len(labels)], codes[len(labels):]
    cells = truth[indices] * k + guess[indices] + (np.arange(len(indices)) * k * k)[:, None]
    return np.bincount(cells.ravel(), minlength=len(indices) * k * k).reshape(len(indices), k, k)


def metric_from_confusions(confusions: np.ndarray, metric: str) -> np.ndarray:
    confusions = confusions.astype(float)
    n = confusions.sum(axis=(1, 2))
    correct = np.trace(confusions, axis1=1, axis2=2)
    true_counts, predicted_counts = confusions.sum(axis=2), confusions.sum(axis=1)
    if metric == "accuracy":
        return correct / n
    if metric == "macro_f1":
        tp = np.diagonal(confusions, axis1=1, axis2=2)
        denominator = true_counts + predicted_counts
        present = denominator > 0  # scikit-learn averages over classes seen in truth or prediction
        f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=present)
        return f1.sum(axis=1) / present.sum(axis=1)
    if metric == "mcc":
        covariance = correct * n - (true_counts * predicted_counts).sum(axis=1)
        spread_true = n**2 - (true_counts**2).sum(axis=1)
        spread_pred = n**2 - (predicted_counts**2).sum(axis=1)
        product = spread_true * spread_pred
        return np.divide(covariance, np.sqrt(product), out=np.zeros_like(covariance), where=product > 0)
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(metric_names(CLASSIFICATION))}")
