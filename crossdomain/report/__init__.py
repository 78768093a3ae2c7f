"""``crossdomain report``: unit files → statistics → tables and figures, in ``<out>/``.

Reads only unit files, so it works on partial runs, merged run folders and units from other machines.
The steps are in :mod:`crossdomain.report.build`; :func:`write_report` runs them.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from crossdomain.report import captions, figures
from crossdomain.report.build import (  # noqa: F401 - the report's interface
    ReportData,
    ReportError,
    arm_order,
    compute,
    contrast_figure_name,
    default_contrasts,
    describe_run,
    draw_figures,
    run_plan,
    run_visuals,
    scores_by_stratum,
    slug,
    table_caption,
    write_tables,
)


def write_report(run_dirs: list[Path], out_dir: Path, metric: str = "primary",
                 contrasts: list[tuple[str, str]] | None = None, on_unreadable=None) -> Path:
    """The report of the run folders in ``out_dir``. Each file in ``units/`` that is not a readable unit record
    goes to ``on_unreadable(message)`` (default: a warning) and is listed in report.md."""
    from crossdomain.report.markdown import report_markdown

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = compute(run_dirs, metric, contrasts, on_unreadable)
    head = write_tables(data, out_dir)
    drawn = draw_figures(data)
    for name, (figure, _) in drawn.items():
        figures.save(figure, out_dir, name)
        plt.close(figure)
    figure_captions = {name: caption for name, (_, caption) in drawn.items()}
    captions.write_figure_files(out_dir, figure_captions, "crossdomain report: figures")
    (out_dir / "report.md").write_text(report_markdown(data, head, figure_captions), encoding="utf-8")
    return out_dir
