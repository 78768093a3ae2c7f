"""One-hot (position × symbol) features and a ridge regression, alpha chosen on dev: FLIP's simplest baseline."""
from __future__ import annotations

from crossdomain.baselines.base import Baseline, BaselineOutcome, SymbolSplit, vectorised_ridge

ALPHA_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


def positions(symbols: list[str]) -> list[str]:
    """One feature per (position, symbol); the vectoriser's binary counts make it one-hot."""
    return [f"{index}\x1f{symbol}" for index, symbol in enumerate(symbols)]


class OneHotRidge(Baseline):
    """One-hot position × symbol features (sequences as truncated for the arms), ridge with alpha chosen on dev."""

    name = "onehot-ridge"
    task_types = ("regression",)

    def fit_predict(self, train: SymbolSplit, dev: SymbolSplit, test: SymbolSplit, num_labels: int,
                    primary_metric: str) -> BaselineOutcome:
        from sklearn.feature_extraction.text import CountVectorizer

        return vectorised_ridge(CountVectorizer(analyzer=positions, binary=True), train, dev, test, primary_metric,
                                ALPHA_GRID)


BASELINE = OneHotRidge
