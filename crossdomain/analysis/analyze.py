"""Run the analyses on a run folder and write ``RUN_DIR/analysis/`` (CSV per analysis, figures, analysis.md)."""
from __future__ import annotations

import re
import time
from pathlib import Path

from crossdomain.analysis import ANALYSES
from crossdomain.analysis.context import AnalysisContext
from crossdomain.analysis.retrain import retrain, retraining_of
from crossdomain.report.captions import figure_lines, write_figure_files

NO_CAPTION = "(the analysis gave no caption for this figure)"

PREFERRED_ORDER = ("probes", "attention", "layer-change", "embeddings")


def run_analyses(run_dir: Path, tasks: list[str] | None = None, examples: int = 256, names: list[str] | None = None,
                 all_seeds: bool = False, data_dirs: tuple[str, ...] | None = None, retrain_with=None) -> Path:
    """``retrain_with``: an executor that re-trains, from their records, the analysed units whose weights are
    missing (see :mod:`crossdomain.analysis.retrain`); without it those units get the *before* half only."""
    import matplotlib.pyplot as plt
    import torch

    from crossdomain.report.figures import save

    out = Path(run_dir) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    context = AnalysisContext(run_dir, tasks, examples, all_seeds, data_dirs)
    if not context.records:
        raise ValueError(f"{run_dir}: no finished main units of an init arm to analyse")
    if retrain_with is not None and context.missing_after:
        missing = [r for r in context.records if r.unit_id in context.missing_after]
        retrain(missing, retrain_with, data_dirs)
        context = AnalysisContext(run_dir, tasks, examples, all_seeds, data_dirs)
    torch.manual_seed(0)
    captions = {}
    lines = ["# crossdomain analysis", "",
             f"Run: `{run_dir}`; {len(context.records)} unit(s) (one per task and arm"
             f"{'' if not all_seeds else ', all seeds'}): "
             + ", ".join(f"{r.unit.task} {r.unit.init} seed {r.unit.seed}" for r in context.records) + ".",
             f"Items: seeded samples of {examples} from each unit's own train and test splits.", ""]
    if context.missing_after:
        lines += [f"**Fine-tuned weights missing** for {len(context.missing_after)} unit(s), so only the *before* "
                  "half (each arm's initial weights, rebuilt from its seed) is analysed for them: `crossdomain analyze "
                  "--retrain` re-trains them from their records, or re-run the suite with `--set hooks=[save-model]`, "
                  "for the *after* half. Missing: " + ", ".join(f"`{u}`" for u in context.missing_after) + ".", ""]
    retrained = [outcome for outcome in map(retraining_of, context.records) if outcome is not None]
    if retrained:
        same = sum(outcome.reproduced for outcome in retrained)
        lines += [f"**Fine-tuned weights re-trained from the records** (`--retrain`) for {len(retrained)} unit(s), "
                  f"{same} of them reproducing the record's test metrics and dev curve: "
                  + "; ".join(outcome.describe() for outcome in retrained) + ".", ""]
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
            captions[figure_name] = result.captions.get(figure_name, NO_CAPTION)
        lines += [f"## {name}", "", *result.notes, "",
                  *[line for n in result.figures for line in figure_lines(n, captions[n])],
                  f"({len(result.table)} rows in `{name}.csv`; {time.perf_counter() - started:.1f} s)", ""]
    (out / "analysis.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_figure_files(out, captions, "crossdomain analysis: figures")
    return out


def redraw_analyses(run_dir: Path, names: list[str] | None = None) -> Path:
    """Redraws the figures of ``RUN_DIR/analysis/`` from its CSV files (no model is loaded, no number changes),
    and puts each figure's caption under it in analysis.md; figures an analysis cannot draw from its table alone
    (``heads_*``, which need attention matrices) are left as they are."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from crossdomain.report import run_plan, run_visuals
    from crossdomain.report.figures import save

    out = Path(run_dir) / "analysis"
    markdown = out / "analysis.md"
    if not markdown.is_file():
        raise ValueError(f"{out}: no analysis.md to redraw (run `crossdomain analyze {run_dir}` first)")
    from crossdomain.run.plan import load_run_records

    inits = [r.unit.init for r in load_run_records(Path(run_dir), on_error=lambda e: None)
             if r.ok and not r.is_baseline and "main" in r.roles]
    roles = run_plan([Path(run_dir)])
    visuals = run_visuals(inits, roles.arms, (roles.full, roles.reference))  # as the report and a full analyze colour them
    captions = {}
    for name in names or ANALYSES.names():
        csv, analysis = out / f"{name}.csv", ANALYSES.get(name)()
        if not csv.is_file() or not hasattr(analysis, "draw"):
            continue
        table = pd.read_csv(csv)
        figures, drawn_captions = analysis.draw(table, visuals)
        for figure_name, figure in figures.items():
            save(figure, out, figure_name)
            plt.close(figure)
        captions.update(drawn_captions)
    text = markdown.read_text(encoding="utf-8")
    for name, caption in captions.items():
        text = re.sub(rf"\n\*{re.escape(name)}\.\* [^\n]*\n", "\n", text)  # its caption from an earlier draw
        text = text.replace(f"![{name}]({name}.png)\n", "\n".join(figure_lines(name, caption)) + "\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    markdown.write_text(text, encoding="utf-8")
    written = dict(re.findall(r"\n\*([\w.-]+)\.\* ([^\n]*)\n", text))  # every caption now in analysis.md
    shown = re.findall(r"!\[([\w.-]+)\]\(\1\.png\)", text)
    write_figure_files(out, {n: written.get(n, NO_CAPTION) for n in shown}, "crossdomain analysis: figures")
    return out
