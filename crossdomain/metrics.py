"""Classification metrics: scikit-learn for single scores, a vectorised confusion-matrix form for bootstraps.

A bootstrap needs thousands of metric evaluations; calling scikit-learn per resample cost
~10 ms each, so resamples are scored from stacked confusion matrices with the same definitions
(macro-F1 over the classes present in truth or prediction with zero_division=0, MCC as
scikit-learn's multiclass formula). ``tests/test_metrics.py`` checks both agree.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

METRICS = ("accuracy", "macro_f1", "mcc")


def classification_metrics(labels, predictions) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, average="macro", zero_division=0)),
        "mcc": float(matthews_corrcoef(labels, predictions)),
    }


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
    raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
