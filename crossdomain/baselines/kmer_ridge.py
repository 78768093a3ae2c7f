"""Symbol k-mer TF-IDF features and a ridge regression, alpha chosen on dev (regression's kmer-logreg)."""
from __future__ import annotations

from crossdomain.baselines.base import Baseline, BaselineOutcome, SymbolSplit, vectorised_ridge
from crossdomain.baselines.kmer_logreg import K_RANGE, kmers

ALPHA_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


class KmerRidge(Baseline):
    """Symbol 1-3-mer counts, TF-IDF, scikit-learn ridge regression with alpha chosen on dev."""

    name = "kmer-ridge"
    task_types = ("regression",)

    def fit_predict(self, train: SymbolSplit, dev: SymbolSplit, test: SymbolSplit, num_labels: int,
                    primary_metric: str) -> BaselineOutcome:
        from sklearn.feature_extraction.text import TfidfVectorizer

        result = vectorised_ridge(TfidfVectorizer(analyzer=kmers, sublinear_tf=True), train, dev, test, primary_metric,
                                  ALPHA_GRID)
        result.details["k"] = list(K_RANGE)
        return result


BASELINE = KmerRidge
