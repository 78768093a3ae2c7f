"""The majority class of the training split."""
from __future__ import annotations

import numpy as np

from crossdomain.baselines.base import Baseline, BaselineOutcome, SymbolSplit, outcome


class Majority(Baseline):
    """Always the training split's most frequent class (ties: the first declared label)."""

    name = "majority"

    def fit_predict(self, train: SymbolSplit, dev: SymbolSplit, test: SymbolSplit, num_labels: int,
                    primary_metric: str) -> BaselineOutcome:
        counts = np.bincount(train.labels, minlength=num_labels)
        majority = int(counts.argmax())  # argmax takes the first maximum: ties go to the first declared label
        probabilities = np.zeros((len(test.labels), num_labels))
        probabilities[:, majority] = 1.0
        return outcome(test, probabilities, {"class": majority, "train_counts": counts.tolist()})


BASELINE = Majority
