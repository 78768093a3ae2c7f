"""Run the analyses on a run folder and write ``RUN_DIR/analysis/`` (CSV per analysis, figures, analysis.md)."""
from __future__ import annotations

import time
from pathlib import Path

from crossdomain.analysis import ANALYSES
from crossdomain.analysis.context import AnalysisContext

PREFERRED_ORDER = ("probes", "attention", "layer-change", "embeddings")


def run_analyses(run_dir: Path, tasks: list[str] | None = None, examples: int = 256, names: list[str] | None = None,
                 all_seeds: bool = False, data_dirs: tuple[str, ...] | None = None) -> Path:
    import matplotlib.pyplot as plt
    import torch

    from crossdomain.report.figures import save

    torch.manual_seed(0)
    out = Path(run_dir) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    context = AnalysisContext(run_dir, tasks, examples, all_seeds, data_dirs)
    if not context.records:
        raise ValueError(f"{run_dir}: no finished main units of an init arm to analyse")
    lines = ["# crossdomain analysis", "",
             f"Run: `{run_dir}`; {len(context.records)} unit(s) (one per task and arm"
             f"{'' if not all_seeds else ', all seeds'}): "
             + ", ".join(f"{r.unit['task']} {r.unit['init']} seed {r.unit['seed']}" for r in context.records) + ".",
             f"Items: seeded samples of {examples} from each unit's own train and test splits.", ""]
    if context.missing_after:
        lines += [f"**Fine-tuned weights missing** for {len(context.missing_after)} unit(s), so only the *before* "
                  "half (each arm's initial weights, rebuilt from its seed) is analysed for them: re-run the suite with "
                  "`--set train.save_model=true` for the *after* half. Missing: "
                  + ", ".join(f"`{u}`" for u in context.missing_after) + ".", ""]
    unmoved = [r.unit_id for r in context.records if r.best_step == 0 and r.unit_id not in context.missing_after]
    if unmoved:
        lines += [f"**No fine-tuning kept** for {len(unmoved)} unit(s): their best dev score was at step 0, so the "
                  "weights restored at the end of training (and saved) are the initial ones, and *after* equals "
                  "*before* for them: " + ", ".join(f"`{u}`" for u in unmoved) + ".", ""]
    order = {name: i for i, name in enumerate(PREFERRED_ORDER)}
    for name in names or sorted(ANALYSES.names(), key=lambda n: (order.get(n, len(order)), n)):
        started = time.perf_counter()
        result = ANALYSES.get(name)().run(context)
        if not result.table.empty:
            result.table.to_csv(out / f"{name}.csv", index=False)
        for figure_name, figure in result.figures.items():
            save(figure, out, figure_name)
            plt.close(figure)
        lines += [f"## {name}", "", *result.notes, "",
                  *[f"![{n}]({n}.png)" for n in result.figures], "",
                  f"({len(result.table)} rows in `{name}.csv`; {time.perf_counter() - started:.1f} s)", ""]
    (out / "analysis.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
