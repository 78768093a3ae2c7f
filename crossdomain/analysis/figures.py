"""Small-multiple figures for the analyses, in the report's style (Okabe-Ito colours, deterministic files)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from crossdomain.report.figures import STYLE, arm_colours, panels  # noqa: E402

STATE_STYLE = {"before": "--", "after": "-"}


def lines_by_layer(frame, value: str, title: str, ylabel: str, group: str = "arm", label: str | None = None):
    """One panel per task: value vs layer, a colour per arm, dashed = before fine-tuning, solid = after.

    Lines are labelled "arm (state)", or by the ``label`` column where one names what a line compares.
    """
    tasks = sorted(frame["task"].unique())
    arms = list(dict.fromkeys(frame[group]))
    palette = arm_colours(arms)
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks), height=1.8)
        for ax, task in zip(axes, tasks):
            for (arm, state), rows in frame[frame["task"] == task].groupby([group, "state"], sort=False):
                rows = rows.sort_values("layer")
                ax.plot(rows["layer"], rows[value], STATE_STYLE.get(state, "-"), color=palette[arm], linewidth=1.1,
                        marker=".", label=rows[label].iloc[0] if label else f"{arm} ({state})")
            ax.set_title(task)
            ax.set_xlabel("layer (0 = embeddings)")
            ax.set_ylabel(ylabel)
        legend = {}  # every line of every panel, once (a panel may lack an arm)
        for ax in axes:
            for handle, text in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(text, handle)
        if legend:
            figure.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=4, frameon=False,
                          fontsize=5)
        figure.suptitle(title)
    return figure
