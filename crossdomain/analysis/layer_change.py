"""Layer change (Kornblith et al. 2019): CKA between states of the same layer."""
from __future__ import annotations

import pandas as pd

from crossdomain.analysis.cka import debiased_linear_cka, linear_cka
from crossdomain.analysis.context import AnalysisContext, AnalysisResult


class LayerChange:
    """Linear CKA (and debiased) per layer: before vs after fine-tuning per arm, and between arms after fine-tuning."""

    name = "layer-change"

    def run(self, context: AnalysisContext) -> AnalysisResult:
        full, reference = context.roles.full, context.roles.reference
        rows = []
        for record in context.records:
            before = context.representations(record, "before", "test")
            after = context.representations(record, "after", "test")
            if before is None or after is None:
                continue
            for layer in range(before.pooled.shape[0]):
                rows.append({"task": record.unit.task, "comparison": f"{record.unit.init}: before vs after",
                             "arm": record.unit.init, "state": "after", "layer": layer,
                             "cka": linear_cka(before.pooled[layer], after.pooled[layer]),
                             "cka_debiased": debiased_linear_cka(before.pooled[layer], after.pooled[layer])})
        for task in context.tasks:
            by_arm = {r.unit.init: r for r in context.arms(task)}
            if full in by_arm and reference in by_arm:
                a = context.representations(by_arm[full], "after", "test")
                b = context.representations(by_arm[reference], "after", "test")
                if a is not None and b is not None:
                    for layer in range(a.pooled.shape[0]):
                        rows.append({"task": task, "comparison": f"{full} vs {reference} (after)",
                                     "arm": f"{full} vs {reference}", "state": "after", "layer": layer,
                                     "cka": linear_cka(a.pooled[layer], b.pooled[layer]),
                                     "cka_debiased": debiased_linear_cka(a.pooled[layer], b.pooled[layer])})
        table = pd.DataFrame(rows)
        figures, captions = self.draw(table, context.visuals)
        notes = ["Layer change: linear CKA (and its debiased form) between the mean-pooled states of the same test "
                 "items, per layer: each arm before vs after fine-tuning (1 = the layer was not rewritten), and the "
                 "fine-tuned full arm vs the fine-tuned reference arm. Needs the fine-tuned weights."]
        if context.missing_after:
            notes.append(f"Skipped for {len(context.missing_after)} unit(s) without saved weights (run with "
                         "`--set hooks=[save-model]`).")
        return AnalysisResult(table, figures, notes, captions)

    def draw(self, table: pd.DataFrame, visuals, examples: int | None = None) -> tuple[dict, dict]:
        from crossdomain.analysis.figures import lines_by_layer

        if table.empty:
            return {}, {}
        figure = lines_by_layer(table, "cka", "Linear CKA per layer", "linear CKA", label="comparison", visuals=visuals)
        return {"layer_change": figure}, {"layer_change": (
            "Linear CKA per layer between mean-pooled states of the same test items. A line per arm compares that "
            "arm's model before and after fine-tuning (1 = the layer was not rewritten); the black line compares "
            "the fine-tuned full arm with the fine-tuned reference arm. One unit per task and arm; no interval. "
            "Earlier-drawn lines are wider, so a line hidden under another shows as its outline.")}


ANALYSIS = LayerChange
