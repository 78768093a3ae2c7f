"""Small-multiple figures for the analyses, in the run's visual language (:mod:`crossdomain.report.style`).

Colour means arm, as in the report; line style means the model's state (dashed: before fine-tuning, solid:
after). Lines that are identical (arms whose initial weights coincide, e.g. ``pretrained`` and
``frozen:base=pretrained`` before fine-tuning) are drawn once and named together in the legend.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from crossdomain.report.figures import panels  # noqa: E402
from crossdomain.report.style import STYLE, Visuals, legend_below, proxy, tag, wrap  # noqa: E402
from crossdomain.report.style import title as set_title  # noqa: E402

STATE_STYLE = {"before": "--", "after": "-"}
STATE_NAMES = {"before": "before fine-tuning", "after": "after fine-tuning"}
OTHER_GROUP_COLOURS = ["#000000", "#555555", "#999999"]  # lines that are not one arm (e.g. arm vs arm)


def group_colour(group: str, visuals: Visuals, others: list[str]) -> str:
    if group in visuals.arms:
        return visuals.colour(group)
    return OTHER_GROUP_COLOURS[others.index(group) % len(OTHER_GROUP_COLOURS)]


def merge_identical(series: list[tuple], values=np.asarray) -> list[tuple]:
    """[(group, state, data)] → [(groups, state, data)]: entries of one state whose ``values(data)`` are equal (to
    1e-9) become one, e.g. ``pretrained`` and ``frozen:base=pretrained`` before fine-tuning."""
    merged: list[tuple] = []
    for group, state, data in series:
        for groups, other_state, other in merged:
            mine, theirs = values(data), values(other)
            if (other_state == state and mine.shape == theirs.shape
                    and np.allclose(theirs, mine, atol=1e-9, equal_nan=True)):
                groups.append(group)
                break
        else:
            merged.append(([group], state, data))
    return merged


def lines_by_layer(frame, value: str, title: str, ylabel: str, group: str = "arm", label: str | None = None,
                   visuals: Visuals | None = None):
    """One panel per task: value vs layer, a colour and marker per arm, dashed = before fine-tuning, solid = after.

    The legend names the arms and the two states, or, where a ``label`` column names what a line compares, each
    line by that label. A line drawn under another keeps showing as an outline (earlier lines are wider).
    """
    tasks = sorted(frame["task"].unique())
    visuals = visuals or Visuals(list(dict.fromkeys(frame[group])))
    rank = {arm: i for i, arm in enumerate(visuals.arms)}
    groups = sorted(dict.fromkeys(frame[group]), key=lambda g: rank.get(g, len(rank)))  # the run's arm order
    others = [g for g in groups if g not in visuals.arms]
    handles, merged_notes = {}, []
    with plt.rc_context(STYLE):
        figure, axes = panels(len(tasks), height=1.8, extra_height=0.12 * (len(groups) // 3 + 2))
        for ax, task in zip(axes, tasks):
            series = sorted([(g, state, rows.sort_values("layer"))
                             for (g, state), rows in frame[frame["task"] == task].groupby([group, "state"], sort=False)],
                            key=lambda entry: (groups.index(entry[0]), entry[1] != "before"))
            for k, (same, state, rows) in enumerate(merge_identical(series, lambda data: data[value].to_numpy(float))):
                colour = group_colour(same[0], visuals, others)
                line = ax.plot(rows["layer"], rows[value], STATE_STYLE.get(state, "-"), color=colour,
                               linewidth=max(0.8, 2.4 - 0.4 * k), marker=visuals.marker(same[0]), markersize=2.5)[0]
                if same[0] in visuals.arms:
                    tag(line, same[0])
                name = rows[label].iloc[0] if label else same[0]
                handles.setdefault(name, proxy(name, color=colour, linestyle="-", marker=visuals.marker(same[0]),
                                               markersize=2.5))
                if len(same) > 1 and label:
                    texts = [frame[(frame[group] == g) & (frame["task"] == task)][label].iloc[0] for g in same]
                    merged_notes.append(f"{task}: {' = '.join(texts)} (drawn once)")
                elif len(same) > 1:
                    merged_notes.append(f"{' = '.join(same)} {STATE_NAMES.get(state, state)} (drawn once)")
            ax.set_title(task)
            ax.set_xlabel("layer (0 = embeddings)")
            ax.set_ylabel(ylabel)
        entries = list(handles.values())
        states = sorted(set(frame["state"]))
        if not label and len(states) > 1:
            entries += [proxy(STATE_NAMES.get(s, s), color="#444444", linestyle=STATE_STYLE.get(s, "-")) for s in states]
        width = int(figure.get_figwidth() * 10)  # characters a legend column of two can hold at this font size
        entries += [proxy(wrap(note, width)) for note in dict.fromkeys(merged_notes)]  # identical lines, said once
        legend_below(figure, entries, ncols=2 if merged_notes else 3, fontsize=5)
        set_title(figure, title)
    return figure
