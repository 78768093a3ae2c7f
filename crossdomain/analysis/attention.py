"""Attention patterns (Clark et al. 2019): where each head looks, on non-text input."""
from __future__ import annotations

import numpy as np
import pandas as pd

from crossdomain.analysis.context import AnalysisContext, AnalysisResult
from crossdomain.analysis.representations import DOMINANT_THRESHOLD, PATTERNS, dominant_patterns

SHOWN = ("previous", "next", "self", "same_symbol", "cls", "sep")


class Attention:
    """Per layer and head: attention entropy and shares on previous/next token, itself, the same symbol, [CLS], [SEP]."""

    name = "attention"

    def run(self, context: AnalysisContext) -> AnalysisResult:
        rows, heat, examples = [], {}, {}
        for record in context.records:
            for state in ("before", "after"):
                reps = context.representations(record, state, "test")
                if reps is None or reps.attention_shares is None:
                    continue
                dominant = dominant_patterns(reps.attention_shares)
                layers, heads, _ = reps.attention_shares.shape
                for layer in range(layers):
                    for head in range(heads):
                        rows.append({"task": record.unit.task, "arm": record.unit.init, "unit_id": record.unit_id,
                                     "state": state, "layer": layer, "head": head,
                                     "entropy": float(reps.attention_entropy[layer, head]),
                                     **{f"share_{p}": float(reps.attention_shares[layer, head, i])
                                        for i, p in enumerate(PATTERNS)},
                                     "dominant": dominant[layer, head]})
                heat[(record.unit.task, record.unit.init, state)] = reps.attention_shares
                examples[(record.unit.task, record.unit.init, state)] = reps.example_attention
        table = pd.DataFrame(rows)
        figures, captions = self.draw(table, context.visuals)
        for task in sorted({k[0] for k in heat}):
            figures[f"heads_{task.replace('/', '-')}"] = head_view(task, heat, examples)
        counts = (table.groupby(["task", "arm", "state", "dominant"]).size().unstack(fill_value=0).reset_index()
                  if not table.empty else pd.DataFrame())
        notes = [
            "Attention: for every symbol query (not [CLS]/[SEP]) of a sample of test items, the attention mass of each "
            "head split into exclusive patterns, in this priority: itself, [CLS], [SEP], the previous token, the next "
            "token, the same symbol elsewhere, other (so the shares of each query sum to 1); averaged over queries. "
            f"A head's dominant pattern is the one holding ≥ {DOMINANT_THRESHOLD:.0%} of its attention, else 'broad'.",
        ]
        if not counts.empty:
            from crossdomain.report.tables import to_markdown

            notes += ["", "Heads by dominant pattern:", "", to_markdown(counts)]
        return AnalysisResult(table, figures, notes, captions)

    def draw(self, table: pd.DataFrame, visuals=None, examples: int | None = None) -> tuple[dict, dict]:
        """The heat maps, from the table alone (so they can be redrawn from attention.csv)."""
        if table.empty:
            return {}, {}
        heat = shares_by_unit(table)
        figures, captions = {}, {}
        for task in sorted({k[0] for k in heat}):
            name = f"attention_{task.replace('/', '-')}"
            figures[name] = heat_maps(task, heat)
            captions[name] = (f"{task}: the share of each head's attention (columns of each panel: heads; rows: "
                              "layers) that goes to each pattern, averaged over the symbol queries of a sample of "
                              "test items; one row of panels per arm and state (before/after fine-tuning); arms whose "
                              "shares are identical (e.g. an arm and its frozen version before fine-tuning) share "
                              "one row, named together.")
            # the head views need attention matrices the table lacks: drawn by run() only, captioned here
            captions[f"heads_{task.replace('/', '-')}"] = (
                f"{task}: the attention matrix (query rows × key columns) of one test item, for the head with the "
                "largest previous-token, next-token and [CLS] share in each arm and state (title: layer, head and "
                "its share).")
        return figures, captions


def shares_by_unit(table: pd.DataFrame) -> dict:
    """(task, arm, state) → layers × heads × patterns array of shares, rebuilt from the table's rows."""
    heat = {}
    for (task, arm, state), rows in table.groupby(["task", "arm", "state"], sort=False):
        layers, heads = int(rows["layer"].max()) + 1, int(rows["head"].max()) + 1
        shares = np.zeros((layers, heads, len(PATTERNS)))
        for _, row in rows.iterrows():
            shares[int(row["layer"]), int(row["head"])] = [row[f"share_{p}"] for p in PATTERNS]
        heat[(task, arm, state)] = shares
    return heat


def heat_maps(task: str, heat: dict):
    import matplotlib.pyplot as plt

    from crossdomain.analysis.figures import merge_identical
    from crossdomain.report.style import STYLE, title

    rows = merge_identical([(key[1], key[2], shares) for key, shares in heat.items() if key[0] == task])
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(len(rows), len(SHOWN), figsize=(1.1 * len(SHOWN) + 1, 0.9 * len(rows) + 0.6),
                                    layout="constrained", squeeze=False)
        for row, (arms, state, shares) in enumerate(rows):
            for column, pattern in enumerate(SHOWN):
                ax = axes[row][column]
                image = ax.imshow(shares[..., PATTERNS.index(pattern)], vmin=0, vmax=1, cmap="viridis", aspect="auto")
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(pattern)
                if column == 0:
                    ax.set_ylabel("\n= ".join(arms) + f"\n{state}", fontsize=5)
        figure.colorbar(image, ax=axes, shrink=0.6, label="share of attention (rows: layers, columns: heads)")
        title(figure, f"{task}: attention share per layer × head")
    return figure


def head_view(task: str, heat: dict, examples: dict):
    """The attention matrix of one test item for the strongest previous-, next-token and [CLS] heads of each state."""
    import matplotlib.pyplot as plt

    from crossdomain.analysis.figures import merge_identical
    from crossdomain.report.style import STYLE, title

    rows = merge_identical([(key[1], key[2], shares) for key, shares in heat.items()
                                 if key[0] == task and examples.get(key) is not None])
    patterns = ("previous", "next", "cls")
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(len(rows), len(patterns), figsize=(1.3 * len(patterns) + 0.8, 1.2 * len(rows) + 0.4),
                                    layout="constrained", squeeze=False)
        for row, (arms, state, shares) in enumerate(rows):
            matrix = examples[(task, arms[0], state)]
            for column, pattern in enumerate(patterns):
                layer, head = np.unravel_index(np.argmax(shares[..., PATTERNS.index(pattern)]), shares.shape[:2])
                ax = axes[row][column]
                ax.imshow(matrix[layer, head], cmap="Greys", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{pattern}: L{layer} H{head} ({shares[layer, head, PATTERNS.index(pattern)]:.2f})",
                             fontsize=5)
                if column == 0:
                    ax.set_ylabel("\n= ".join(arms) + f"\n{state}", fontsize=5)
        title(figure, f"{task}: one test item, query rows × key columns")
    return figure


ANALYSIS = Attention
