"""The baseline API: a simple model fitted on a unit's symbol sequences, a reference row beside the arms."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SymbolSplit:
    symbols: list[list[str]]  # each item's symbols, truncated like the arms' inputs
    labels: list[int]
    ids: list[str]


@dataclass
class BaselineOutcome:
    test_metrics: dict
    test_predictions: list[int]
    test_probabilities: list[list[float]]
    details: dict = field(default_factory=dict)  # what was chosen (e.g. C), for the unit file


class Baseline:
    """Subclasses set ``name``, a one-line docstring, and implement :meth:`fit_predict`."""

    name = ""
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
