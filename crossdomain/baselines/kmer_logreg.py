"""Symbol k-mer TF-IDF features and a logistic regression, C chosen on dev."""
from __future__ import annotations

import numpy as np

from crossdomain.baselines.base import Baseline, BaselineOutcome, SymbolSplit, outcome

K_RANGE = (1, 2, 3)
# version 2 widened the grid beyond 100 (the upper edge bound in 5 of 7 units of the first reference run)
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
SEPARATOR = "\x1f"  # symbols can be several characters ("p60"), so k-mers join them with a control character


def kmers(symbols: list[str]) -> list[str]:
    return [SEPARATOR.join(symbols[i:i + k]) for k in K_RANGE for i in range(len(symbols) - k + 1)]


class KmerLogReg(Baseline):
    """Symbol 1-3-mer counts, TF-IDF, scikit-learn logistic regression with C chosen on dev."""

    name = "kmer-logreg"
    version = 2

    def fit_predict(self, train: SymbolSplit, dev: SymbolSplit, test: SymbolSplit, num_labels: int,
                    primary_metric: str) -> BaselineOutcome:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from crossdomain.metrics import classification_metrics

        vectorizer = TfidfVectorizer(analyzer=kmers, sublinear_tf=True)
        x_train = vectorizer.fit_transform(train.symbols)
        x_dev, x_test = vectorizer.transform(dev.symbols), vectorizer.transform(test.symbols)
        best = None
        for c in C_GRID:  # ascending: a tie keeps the stronger regularisation
            model = LogisticRegression(C=c, max_iter=3000).fit(x_train, train.labels)
            score = classification_metrics(dev.labels, model.predict(x_dev))[primary_metric]
            if best is None or score > best[0]:
                best = (score, c, model)
        dev_score, c, model = best
        probabilities = np.zeros((len(test.labels), num_labels))
        probabilities[:, model.classes_] = model.predict_proba(x_test)
        return outcome(test, probabilities, {"C": c, "dev_score": dev_score, "features": len(vectorizer.vocabulary_),
                                             "k": list(K_RANGE), "C_grid": list(C_GRID)})


BASELINE = KmerLogReg
