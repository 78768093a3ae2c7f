"""Symbol-embedding geometry: do the mapped tokens' input vectors come to reflect the domain's own structure?"""
from __future__ import annotations

import numpy as np
import pandas as pd

from crossdomain.analysis.context import AnalysisContext, AnalysisResult


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return unit @ unit.T


def structure_correlation(cosine: np.ndarray, domain: np.ndarray) -> tuple[float, int]:
    """Spearman correlation over symbol pairs (upper triangle) where the domain similarity is defined."""
    from scipy.stats import spearmanr

    upper = np.triu_indices_from(cosine, k=1)
    a, b = cosine[upper], domain[upper]
    keep = np.isfinite(b)
    if keep.sum() < 3 or np.ptp(b[keep]) == 0:
        return float("nan"), int(keep.sum())
    return float(spearmanr(a[keep], b[keep]).statistic), int(keep.sum())


class Embeddings:
    """Cosine similarity of the mapped tokens' input embeddings vs the domain's similarity (adapter.symbol_similarity)."""

    name = "embeddings"

    def run(self, context: AnalysisContext) -> AnalysisResult:
        from crossdomain.adapters import ADAPTERS
        from crossdomain.data.tasks import get_task

        rows, skipped = [], set()
        for record in context.records:
            task = get_task(record.unit.task)
            symbols = sorted(record.mapping["symbols"])
            domain = ADAPTERS.get(task.adapter).symbol_similarity(symbols)
            if domain is None:
                skipped.add(task.name)
                continue
            for state in ("before", "after"):
                by_symbol = context.symbol_vectors(record, state)
                if by_symbol is None:
                    continue
                vectors = np.stack([by_symbol[s] for s in symbols])
                rho, pairs = structure_correlation(cosine_matrix(vectors), np.asarray(domain, dtype=float))
                rows.append({"task": task.name, "arm": record.unit.init, "unit_id": record.unit_id, "state": state,
                             "spearman": rho, "pairs": pairs})
        table = pd.DataFrame(rows)
        figures, captions = self.draw(table, context.visuals)
        notes = ["Embeddings: Spearman correlation, over symbol pairs, between the cosine similarity of the mapped "
                 "tokens' input embeddings and the domain's own similarity (DNA: Watson-Crick complementarity; "
                 "amino acids: BLOSUM62; pitches: minus the semitone distance, rests excluded)."]
        if skipped:
            notes.append(f"Skipped (the adapter declares no symbol similarity): {', '.join(sorted(skipped))}.")
        return AnalysisResult(table, figures, notes, captions)

    def draw(self, table: pd.DataFrame, visuals, examples: int | None = None) -> tuple[dict, dict]:
        if table.empty:
            return {}, {}
        return {"embeddings": bars(table, visuals)}, {"embeddings": (
            "Spearman ρ, over symbol pairs, between the cosine similarity of the mapped tokens' input embeddings "
            "and the domain's own similarity of the symbols (DNA: Watson-Crick complementarity; amino acids: "
            "BLOSUM62; pitches: minus the semitone distance). One unit per task and arm; pale bar: the arm's "
            "initial weights, full bar: after fine-tuning; no interval (one unit each).")}


def bars(table: pd.DataFrame, visuals=None):
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from crossdomain.report.figures import panels
    from crossdomain.report.style import STYLE, Visuals, legend_below, tag

    tasks = sorted(table["task"].unique())
    visuals = (visuals or Visuals([])).extended(table["arm"])
    arms = [arm for arm in visuals.arms if arm in set(table["arm"])]  # the run's arm order
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks), height=2.2, extra_height=0.25)
        for ax, task in zip(axes, tasks):
            rows = table[table["task"] == task]
            for i, arm in enumerate(arms):
                for j, state in enumerate(("before", "after")):
                    value = rows[(rows["arm"] == arm) & (rows["state"] == state)]["spearman"]
                    if len(value):
                        bar = ax.bar(i + (j - 0.5) * 0.4, value.iloc[0], 0.38, color=visuals.colour(arm),
                                     alpha=0.45 if state == "before" else 1.0)
                        tag(bar.patches[0], arm)
            ax.set_xticks(range(len(arms)), arms, rotation=90)
            ax.axhline(0, color="grey", linewidth=0.5)
            ax.set_title(task)
            ax.set_ylabel("Spearman ρ")
        legend_below(figure, [Patch(color="#444444", alpha=0.45, label="pale: before fine-tuning"),
                              Patch(color="#444444", label="full: after fine-tuning")], ncols=2)
    return figure


ANALYSIS = Embeddings
