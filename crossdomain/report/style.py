"""The visual language of a run: one colour per arm, one marker per domain, one style per baseline, the interval
names, the legend placement and the file formats, shared by every report and analysis figure.

Colour means *arm* and nothing else. Domains are told apart by marker shape, baselines by line style (in greys),
so no colour changes meaning between two figures of one run. An arm's colour comes from its place in the run's
arm order (the full and reference arms first, then the suite's order), so an arm added at the end of a suite
leaves every other arm's colour as it was.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

# Okabe & Ito (2008) without black (black is for references and seed dots), then Tol's muted colours
ARM_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#882255", "#44AA99",
               "#999933", "#AA4499", "#332288"]
UNKNOWN_ARM_COLOUR = "#7F7F7F"
DOMAIN_MARKERS = {"dna": "o", "protein": "s", "music": "^"}
OTHER_DOMAIN_MARKERS = ["D", "v", "P", "X", "p", "h"]
ARM_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "p", "h", "<", ">", "*"]
# the know-nothing references (majority class, training mean) dashed; the k-mer models dotted
BASELINE_STYLES = {"majority": {"color": "#666666", "linestyle": "--"}, "kmer-logreg": {"color": "black", "linestyle": ":"},
                   "mean": {"color": "#666666", "linestyle": "--"}, "kmer-ridge": {"color": "black", "linestyle": ":"},
                   "onehot-ridge": {"color": "#333333", "linestyle": "-."}}
OTHER_BASELINE_STYLES = [{"color": "#999999", "linestyle": (0, (5, 1))},
                         {"color": "#333333", "linestyle": (0, (3, 1, 1, 1, 1, 1))}]
SEED_DOT = {"s": 7, "color": "black", "edgecolors": "white", "linewidths": 0.3, "zorder": 3}

# what an interval is, said the same way in every figure, caption and table
T_OVER_SEEDS = "95% t interval over seeds"
T_OVER_PAIRS = "95% t interval over seed-matched pairs"
BOOTSTRAP_ITEMS = "95% bootstrap interval over test items"
STRATIFIED_BOOTSTRAP = "95% stratified percentile bootstrap"
BOOTSTRAP_PAIRS = "95% percentile bootstrap over pairs"
FIELLER = "95% Fieller interval"
TOO_FEW_RUNS = 3  # a bootstrap over this many runs per arm (or fewer) has too few distinct resamples to mean much
N_TOO_SMALL = "n too small"

SINGLE_COLUMN_IN = 3.4
DOUBLE_COLUMN_IN = 7.0
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 7, "axes.titlesize": 7, "axes.labelsize": 7, "legend.fontsize": 6,
    "xtick.labelsize": 6, "ytick.labelsize": 6, "axes.spines.top": False, "axes.spines.right": False,
    "svg.hashsalt": "crossdomain", "svg.fonttype": "path", "pdf.fonttype": 42, "figure.dpi": 100,
    "legend.handlelength": 2.6,  # long enough that a dashed "before" and a solid "after" look different
}
FORMATS = {"pdf": {"CreationDate": None, "Producer": None, "Creator": None},
           "png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
PNG_DPI = 200


@dataclass
class Visuals:
    """The run's arm order and what follows from it: colours and markers."""

    arms: list[str] = field(default_factory=list)

    def colour(self, arm: str) -> str:
        if arm in self.arms:
            return ARM_PALETTE[self.arms.index(arm) % len(ARM_PALETTE)]
        base = arm.split(" · ")[0]  # "pretrained · tiny" takes its init's colour when only the init is planned
        return ARM_PALETTE[self.arms.index(base) % len(ARM_PALETTE)] if base in self.arms else UNKNOWN_ARM_COLOUR

    def marker(self, arm: str) -> str:
        return ARM_MARKERS[self.arms.index(arm) % len(ARM_MARKERS)] if arm in self.arms else "o"

    def extended(self, arms) -> "Visuals":
        """These visuals with any arm they lack appended (alphabetically), existing colours unchanged."""
        extra = sorted(set(arms) - set(self.arms))
        return Visuals([*self.arms, *extra])


def domain_marker(domain: str, domains_seen: list[str] = ()) -> str:
    if domain in DOMAIN_MARKERS:
        return DOMAIN_MARKERS[domain]
    others = sorted(d for d in set(domains_seen) | {domain} if d not in DOMAIN_MARKERS)
    return OTHER_DOMAIN_MARKERS[others.index(domain) % len(OTHER_DOMAIN_MARKERS)]


def baseline_style(name: str, names: list[str]) -> dict:
    if name in BASELINE_STYLES:
        return BASELINE_STYLES[name]
    others = sorted(n for n in names if n not in BASELINE_STYLES)
    return OTHER_BASELINE_STYLES[others.index(name) % len(OTHER_BASELINE_STYLES)] if name in others else {}


def tag(artist, arm: str):
    """Marks an artist as drawn for ``arm``: the layout tests check one colour per arm across a run's figures."""
    artist.set_gid(f"arm:{arm}")
    return artist


def wrap(text: str, width: int) -> str:
    """Wraps each line of ``text`` at ``width`` characters (labels that would run past a narrow figure)."""
    return "\n".join(textwrap.fill(line, width) if line else line for line in text.split("\n"))


def title(figure, text: str) -> None:
    """A figure title, wrapped to the figure's width (a one-panel figure is narrow)."""
    figure.suptitle(wrap(text, max(20, int(figure.get_figwidth() * 13))), fontsize=STYLE["axes.titlesize"] + 1)


def proxy(label: str, **style) -> Line2D:
    """A legend entry for an encoding that is not itself an artist (a ring, a band, a marker shape)."""
    style.setdefault("color", "black")
    style.setdefault("linestyle", "none")
    return Line2D([], [], label=label, **style)


def legend_below(figure, handles, labels=None, ncols: int = 3, fontsize=None) -> None:
    """The figure's legend under its panels, outside every axes (constrained layout makes room for it), in as
    many of ``ncols`` columns as fit the figure's width; a label still too wide for one column is wrapped."""
    if labels is None:
        labels = [h.get_label() for h in handles]
    unique = dict(zip(labels, handles))
    if not unique:
        return
    renderer = figure.canvas.get_renderer()
    columns = max(1, min(ncols, len(unique)))
    texts = list(unique)
    while True:
        legend = figure.legend(list(unique.values()), texts, loc="outside lower center", frameon=False,
                               ncols=columns, fontsize=fontsize)
        if legend.get_window_extent(renderer).width <= 0.98 * figure.bbox.width:
            return
        legend.remove()
        if columns > 1:
            columns -= 1
        else:
            widest = max(len(line) for text in texts for line in text.split("\n"))
            texts = [wrap(text, max(12, int(widest * 0.75))) for text in texts]


def save(figure, out_dir: Path, name: str) -> list[Path]:
    paths = []
    with plt.rc_context(STYLE):  # svg.hashsalt is read at save time: fixed clip-path ids
        for ext, metadata in FORMATS.items():
            path = out_dir / f"{name}.{ext}"
            figure.savefig(path, format=ext, metadata=metadata, dpi=PNG_DPI if ext == "png" else None, bbox_inches=None)
            paths.append(path)
    return paths


# -- layout checks: the report tests (and anyone) can ask a rendered figure what is wrong with it ---------------

def layout_problems(figure, tolerance: float = 0.0) -> list[str]:
    """Text that leaves the figure, and legends that sit on data, measured on the rendered figure."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    frame = figure.bbox
    problems = []
    undrawn = {id(label) for ax in figure.axes for label in ticks_outside_view(ax)}
    for text in figure.findobj(matplotlib.text.Text):
        if (not text.get_visible() or not text.get_text().strip() or id(text) in undrawn
                or text.axes is not None and not text.axes.get_visible()):
            continue
        box = text.get_window_extent(renderer)
        if (box.x0 < frame.x0 - tolerance or box.y0 < frame.y0 - tolerance or box.x1 > frame.x1 + tolerance
                or box.y1 > frame.y1 + tolerance):
            problems.append(f"text {text.get_text()!r} extends outside the figure ({box.bounds} vs {frame.bounds})")
    for ax in figure.axes:
        if ax.get_visible():
            problems += overlapping_tick_labels(ax, renderer)
    legends = [*figure.legends, *[ax.get_legend() for ax in figure.axes if ax.get_legend()]]
    boxes = [legend.get_window_extent(renderer) for legend in legends]
    for i, first in enumerate(boxes):
        for second in boxes[i + 1:]:
            if first.overlaps(second):
                problems.append("two legends overlap")
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in figure.axes:
            if not ax.get_visible():
                continue
            for artist in data_artists(ax):
                if covers(box, artist, ax, renderer):
                    problems.append(f"legend overlaps {type(artist).__name__} {artist.get_label()!r} "
                                    f"in axes {ax.get_title()!r}")
                    break
    return problems


def overlapping_tick_labels(ax, renderer) -> list[str]:
    hidden = {id(label) for label in ticks_outside_view(ax)}
    problems = []
    for axis in (ax.xaxis, ax.yaxis):
        labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text() and id(t) not in hidden]
        boxes = [t.get_window_extent(renderer) for t in labels]
        for i in range(len(boxes) - 1):
            if boxes[i].overlaps(boxes[i + 1]):
                problems.append(f"tick labels {labels[i].get_text()!r} and {labels[i + 1].get_text()!r} overlap")
    return problems


def ticks_outside_view(ax) -> list:
    """Tick labels matplotlib keeps but does not draw: their ticks lie outside the axis' view interval."""
    hidden = []
    for axis in (ax.xaxis, ax.yaxis):
        low, high = sorted(axis.get_view_interval())
        span = (high - low) or 1.0
        for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
            location = tick.get_loc()
            if location is None or not low - 1e-9 * span <= location <= high + 1e-9 * span:
                hidden += [tick.label1, tick.label2]
    return hidden


def data_artists(ax):
    return [a for a in [*ax.lines, *ax.patches, *ax.collections] if a.get_visible()]


def covers(box, artist, ax, renderer) -> bool:
    """Does ``box`` (display coordinates) cover any visible part of the artist inside the axes?"""
    inside_axes = ax.bbox
    if isinstance(artist, Line2D):
        xy = artist.get_transform().transform(np.asarray(artist.get_xydata(), float))
        points = densify(xy)
    elif isinstance(artist, matplotlib.collections.PathCollection) and len(artist.get_offsets()):
        points = artist.get_offset_transform().transform(np.asarray(artist.get_offsets(), float))
    else:
        extent = artist.get_window_extent(renderer)
        if extent.width <= 0 and extent.height <= 0:
            return False
        clipped = matplotlib.transforms.Bbox.intersection(extent, inside_axes)
        return clipped is not None and box.overlaps(clipped) and clipped.width > 0 and clipped.height > 0
    points = points[np.isfinite(points).all(axis=1)]
    visible = [p for p in points if inside_axes.contains(*p)]
    return any(box.contains(*p) for p in visible)


def densify(xy: np.ndarray, per_segment: int = 40) -> np.ndarray:
    """The points of a polyline and points along each of its segments (a line can cross a box between points)."""
    if len(xy) < 2:
        return xy
    share = np.linspace(0, 1, per_segment)[:, None]
    return np.vstack([start + share * (end - start) for start, end in zip(xy[:-1], xy[1:])])


def arm_colours_drawn(figure) -> dict[str, set[str]]:
    """arm → the colours of the artists tagged for it in ``figure``."""
    found: dict[str, set[str]] = {}
    for artist in figure.findobj(lambda a: (a.get_gid() or "").startswith("arm:")):
        arm = artist.get_gid()[4:]
        if isinstance(artist, Line2D):
            colour = artist.get_color()
        elif isinstance(artist, matplotlib.collections.Collection):
            colour = artist.get_facecolor()[0] if len(artist.get_facecolor()) else artist.get_edgecolor()[0]
        else:
            colour = artist.get_facecolor()
        found.setdefault(arm, set()).add(matplotlib.colors.to_hex(colour, keep_alpha=False))
    return found
