"""The training split's mean target (regression)."""
from __future__ import annotations

import numpy as np

from crossdomain.baselines.base import Baseline, BaselineOutcome, SymbolSplit, regression_outcome


class TrainingMean(Baseline):
    """Always the training split's mean target: RMSE of knowing nothing, R² ≈ 0, no rank information (ρ = 0)."""

    name = "mean"
    task_types = ("regression",)

    def fit_predict(self, train: SymbolSplit, dev: SymbolSplit, test: SymbolSplit, num_labels: int,
                    primary_metric: str) -> BaselineOutcome:
        mean = float(np.mean(train.labels))
        return regression_outcome(test, np.full(len(test.labels), mean), {"mean": mean})


BASELINE = TrainingMean
