"""The baseline API: a simple model fitted on a unit's symbol sequences, a reference row beside the arms."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SymbolSplit:
    symbols: list[list[str]]  # each item's symbols, truncated like the arms' inputs
    labels: list  # class ids, or regression targets (floats, original scale)
    ids: list[str]


@dataclass
class BaselineOutcome:
    test_metrics: dict
    test_predictions: list  # class ids, or predicted values
    test_probabilities: list[list[float]]  # classification only
    details: dict = field(default_factory=dict)  # what was chosen (e.g. C), for the unit file


class Baseline:
    """Subclasses set ``name``, a one-line docstring, the task types they apply to, and implement
    :meth:`fit_predict` (``num_labels`` is 1 for a regression task)."""

    name = ""
    task_types: tuple[str, ...] = ("classification",)  # a suite runs a baseline on the tasks of these types only
    # raise it when a change alters what the baseline computes: from 2 on it enters the unit id, so units of
    # the earlier version keep their ids and are never mistaken for the new computation
    version = 1

    def fit_predict(self, train: SymbolSplit, dev: SymbolSplit, test: SymbolSplit, num_labels: int,
                    primary_metric: str) -> BaselineOutcome:
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def outcome(test: SymbolSplit, probabilities: np.ndarray, details: dict) -> BaselineOutcome:
    from crossdomain.metrics import classification_metrics

    predictions = probabilities.argmax(axis=1)
    return BaselineOutcome(classification_metrics(test.labels, predictions), [int(p) for p in predictions],
                           np.round(probabilities, 5).tolist(), details)


def regression_outcome(test: SymbolSplit, predictions: np.ndarray, details: dict) -> BaselineOutcome:
    from crossdomain.metrics import regression_metrics

    return BaselineOutcome(regression_metrics(test.labels, predictions), [float(p) for p in predictions], [], details)


def ridge_on_dev(x_train, train: SymbolSplit, x_dev, dev: SymbolSplit, x_test, test: SymbolSplit,
                 primary_metric: str, alphas) -> BaselineOutcome:
    """A scikit-learn ridge regression per alpha; the one best on dev (the metric's direction; a tie keeps the
    stronger regularisation, as the grid is tried from strong to weak) predicts the test items."""
    from sklearn.linear_model import Ridge

    from crossdomain.metrics import get_metric, regression_metrics

    metric, best = get_metric(primary_metric), None
    for alpha in sorted(alphas, reverse=True):
        model = Ridge(alpha=alpha).fit(x_train, train.labels)
        score = regression_metrics(dev.labels, model.predict(x_dev))[primary_metric]
        if best is None or metric.better(score, best[0]):
            best = (score, alpha, model)
    dev_score, alpha, model = best
    return regression_outcome(test, model.predict(x_test), {"alpha": alpha, "dev_score": dev_score,
                                                            "alpha_grid": sorted(alphas), "features": x_train.shape[1]})


def vectorised_ridge(vectorizer, train: SymbolSplit, dev: SymbolSplit, test: SymbolSplit, primary_metric: str,
                     alphas) -> BaselineOutcome:
    """Features from a scikit-learn vectoriser fitted on the training symbols, then :func:`ridge_on_dev`."""
    x_train = vectorizer.fit_transform(train.symbols)
    return ridge_on_dev(x_train, train, vectorizer.transform(dev.symbols), dev, vectorizer.transform(test.symbols), test,
                        primary_metric, alphas)
