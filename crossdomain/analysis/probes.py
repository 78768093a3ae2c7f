"""Layer probes (Tenney et al. 2019): how well each layer's states separate the task's classes (or, for a
regression task, predict its target linearly)."""
from __future__ import annotations

import pandas as pd

from crossdomain.analysis.context import AnalysisContext, AnalysisResult


def probe_score(train_x, train_y, test_x, test_y, metric: str) -> float:
    """A linear probe scored by ``metric``: logistic regression for classes, ridge regression for a regression
    target (standardised features, fixed regularisation), both by scikit-learn."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from crossdomain.metrics import REGRESSION, get_metric, score

    task_type = get_metric(metric).task_type
    if len(set(train_y)) < 2:
        return float("nan")
    estimator = Ridge(alpha=1.0) if task_type == REGRESSION else LogisticRegression(max_iter=2000, C=1.0)
    model = make_pipeline(StandardScaler(), estimator)
    model.fit(train_x, train_y)
    return score(task_type, test_y, model.predict(test_x))[metric]


class Probes:
    """Logistic-regression probe per layer on mean-pooled and [CLS] states: train-split sample → test-split sample."""

    name = "probes"

    def run(self, context: AnalysisContext) -> AnalysisResult:
        rows = []
        for record in context.records:
            metric = record.metrics["primary_metric"]
            for state in ("before", "after"):
                train = context.representations(record, state, "train")
                test = context.representations(record, state, "test")
                if train is None or test is None:
                    continue
                for pooling in ("mean", "cls"):
                    train_states = train.pooled if pooling == "mean" else train.cls
                    test_states = test.pooled if pooling == "mean" else test.cls
                    for layer in range(train_states.shape[0]):
                        rows.append({"task": record.unit.task, "arm": record.unit.init, "unit_id": record.unit_id,
                                     "state": state, "pooling": pooling, "layer": layer, "metric": metric,
                                     "score": probe_score(train_states[layer], train.labels, test_states[layer],
                                                          test.labels, metric)})
        table = pd.DataFrame(rows)
        figures, captions = self.draw(table, context.visuals, context.examples)
        return AnalysisResult(table, figures, captions=captions, notes=[
            "Probes: scikit-learn logistic regression (standardised features, C=1) per layer, trained on a seeded "
            f"sample of the unit's train split and scored (task's primary metric) on a sample of its test split "
            f"({context.examples} items each). Layer 0 is the embedding output. Read: does a text-pretrained body, "
            "before any fine-tuning, separate the classes better than a random one, and at which depth?"
            + (" On a regression task the probe is a ridge regression (alpha=1) scored by its metric." if any(
                (r.task or {}).get("type") == "regression" for r in context.records) else "")])

    def draw(self, table: pd.DataFrame, visuals, examples: int | None = None) -> tuple[dict, dict]:
        from crossdomain.analysis.figures import lines_by_layer

        if table.empty:
            return {}, {}
        metrics = ", ".join(f"{t}: {m}" for t, m in table.drop_duplicates("task")[["task", "metric"]].values)
        figure = lines_by_layer(table[table["pooling"] == "mean"], "score", "Probe score per layer (mean-pooled states)",
                                "probe test score\n(task's metric)", visuals=visuals)
        return {"probes": figure}, {"probes": (
            "Linear-probe test score per layer (0 = embedding output) on mean-pooled states, one unit per task and "
            f"arm; metric per task: {metrics}. A logistic regression per layer, trained on a seeded sample of the "
            "unit's train split and scored on a sample of its test split (sizes in the notes); one probe per point, "
            "so no interval. Dashed: the "
            "arm's initial weights (before fine-tuning); solid: after. Arms whose lines coincide are drawn once "
            "and named together under the legend.")}


ANALYSIS = Probes
