"""The run's visual language: layout measured on rendered figures, one colour per arm, captions, honest intervals."""
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from crossdomain.analysis.embeddings import Embeddings
from crossdomain.analysis.layer_change import LayerChange
from crossdomain.analysis.probes import Probes
from crossdomain.cli import main
from crossdomain.record import BaselineSpec, UnitRecord
from crossdomain.report import compute, draw_figures, run_visuals, write_report
from crossdomain.report.style import STYLE, Visuals, arm_colours_drawn, layout_problems
from tests.test_report import write_unit

ARMS = ("pretrained", "random", "stats-matched", "frozen:base=pretrained")
TASKS = {"dna/splice": 0.0, "protein/amp": 0.1, "music/region": -0.05}


def set_unit(path, **changes):
    record = UnitRecord.load(path)
    for key, value in changes.items():
        if key == "unit":
            record.unit = value if isinstance(value, BaselineSpec) else dataclasses.replace(record.unit, **value)
        else:
            setattr(record, key, value)
    record.write(path)


@pytest.fixture
def full_run(tmp_path):
    """Four arms on three tasks of three domains, 4 seeds, two baselines, an lr grid: every report figure."""
    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for task, shift in TASKS.items():
        for seed in range(4):
            for k, arm in enumerate(ARMS):
                score = float(np.clip(0.85 - 0.08 * k + shift + rng.normal(0, 0.02), 0, 1))
                curve = [(0, 0.0, 0.1), (10, 1.0, 0.3 + 0.1 * (k == 0)), (20, 2.0, score - 0.05), (30, 3.0, score)]
                write_unit(units, task, arm, seed, score, curve=curve)
        for name, score in (("majority", 0.5), ("kmer-logreg", 0.9)):
            unit_id = write_unit(units, task, f"baseline-{name}", 0, score)
            spec = UnitRecord.load(units / f"{unit_id}.json").unit
            set_unit(units / f"{unit_id}.json", unit=BaselineSpec(spec.task, spec.task_version, spec.fold, name, {}))
        for arm in ARMS[:2]:
            for lr, best in ((1e-4, 0.6), (3e-4, 0.7), (1e-3, 0.5)):
                unit_id = write_unit(units, task, arm, 100 + int(lr * 1e5), best)
                set_unit(units / f"{unit_id}.json", roles=["selection"] + (["main"] if lr == 3e-4 else []),
                         unit={"train": {"lr": lr}, "seed": 0})
    return tmp_path / "run"


def test_the_layout_check_finds_text_outside_the_figure_and_a_legend_on_data():
    with plt.rc_context(STYLE):
        figure, ax = plt.subplots(figsize=(3, 2), layout="constrained")
        ax.plot([0, 1, 2], [0, 1, 2], label="a line")
        assert layout_problems(figure) == []
        ax.legend(loc="center")  # on top of the diagonal
        ax.set_xlabel("a label far too long to fit under a three-inch-wide figure at this font size, by far")
        figure.legend(["one"], loc="outside lower center")
        figure.legend(["two"], loc="outside lower center")  # the same place: on top of each other
    problems = layout_problems(figure)
    assert any(p.startswith("legend overlaps Line2D 'a line'") for p in problems)
    assert "two legends overlap" in problems
    assert any("extends outside the figure" in p for p in problems)


def test_every_report_figure_keeps_its_text_inside_and_its_legend_off_the_data(full_run):
    drawn = draw_figures(compute([full_run]))
    expected = {"aggregate", "bars", "curves", "overview", "recovered", "learning_rates", "speedup",
                *[f"forest_{arm.replace(':', '-').replace('=', '-')}_vs_random" for arm in ARMS if arm != "random"]}
    assert set(drawn) == expected
    for name, (figure, caption) in drawn.items():
        assert layout_problems(figure) == [], name
        assert len(caption) > 80 and "95%" in caption or name in ("overview", "learning_rates"), name
    plt.close("all")


def test_each_arm_keeps_one_colour_across_report_and_analysis_figures(full_run):
    data = compute([full_run])
    colours: dict[str, set] = {}
    for figure, _ in draw_figures(data).values():
        for arm, found in arm_colours_drawn(figure).items():
            colours.setdefault(arm, set()).update(found)
    visuals = run_visuals(list(ARMS))  # what an analysis of the same run uses
    layers = [{"task": task, "arm": arm, "unit_id": arm, "state": state, "pooling": "mean", "layer": layer,
               "metric": "mcc", "score": 0.5 + 0.1 * k + 0.01 * layer, "spearman": 0.1 * k, "pairs": 6,
               "comparison": f"{arm}: before vs after", "cka": 1 - 0.1 * layer}
              for task in TASKS for k, arm in enumerate(ARMS) for state in ("before", "after") for layer in range(3)]
    table = pd.DataFrame(layers)
    for analysis in (Probes(), Embeddings(), LayerChange()):
        for figure in analysis.draw(table, visuals)[0].values():
            assert layout_problems(figure) == [], analysis.name
            for arm, found in arm_colours_drawn(figure).items():
                colours.setdefault(arm, set()).update(found)
    plt.close("all")
    assert set(colours) == set(ARMS)
    assert all(len(found) == 1 for found in colours.values()), colours
    assert len({next(iter(found)) for found in colours.values()}) == len(ARMS)  # and no two arms share one


def test_an_arm_added_to_the_suite_leaves_the_other_colours_as_they_were():
    before = run_visuals(["pretrained", "random", "shuffled"], planned=["pretrained", "random", "shuffled"])
    after = run_visuals(["pretrained", "random", "shuffled", "frozen"],
                        planned=["pretrained", "random", "shuffled", "frozen"])
    assert [before.colour(a) for a in before.arms] == [after.colour(a) for a in before.arms]
    assert after.colour("frozen") not in {before.colour(a) for a in before.arms}
    assert Visuals(["a"]).colour("never-planned") == "#7F7F7F"


def test_identical_lines_are_drawn_once_and_named_together():
    rows = [{"task": "t/x", "arm": arm, "state": "before", "layer": layer, "score": 0.5 + 0.1 * layer}
            for arm in ("pretrained", "frozen:base=pretrained") for layer in range(3)]
    from crossdomain.analysis.figures import lines_by_layer

    figure = lines_by_layer(pd.DataFrame(rows), "score", "t", "score",
                            visuals=run_visuals(["pretrained", "frozen:base=pretrained"]))
    assert len(figure.axes[0].lines) == 1
    labels = [" ".join(t.get_text().split()) for legend in figure.legends for t in legend.get_texts()]
    assert "pretrained = frozen:base=pretrained before fine-tuning (drawn once)" in labels


def test_the_report_writes_captions_and_bolds_the_best_of_arms_and_baselines(full_run, tmp_path):
    out = write_report([full_run], tmp_path / "report")
    figures_md = (out / "figures.md").read_text()
    assert figures_md.count("![") == len(list(out.glob("*.png")))  # every figure, with its caption
    tex = (out / "figures.tex").read_text()
    assert tex.count(r"\caption{") == tex.count(r"\includegraphics") == len(list(out.glob("*.pdf")))
    assert "*bars.* Test score per task" in (out / "report.md").read_text()
    summary = (out / "summary.tex").read_text()
    rows = [line for line in summary.splitlines() if line.startswith(("dna", "music", "protein"))]
    assert len(rows) == 3 and all(r"\textbf{0.900}" in row for row in rows)  # kmer-logreg (0.9) beats every arm
    assert all(row.count(r"\textbf") == 1 for row in rows)


def test_a_bootstrap_over_three_runs_per_arm_says_n_too_small(tmp_path):
    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    for task in ("dna/splice", "protein/amp"):
        for seed in range(3):
            write_unit(units, task, "pretrained", seed, 0.8 + 0.01 * seed)
            write_unit(units, task, "random", seed, 0.6 + 0.01 * seed)
    out = write_report([tmp_path / "run"], tmp_path / "report")
    across = (out / "report.md").read_text().split("## Across tasks")[1].split("##")[0]
    assert "1.00 (n too small)" in across and "[1.00, 1.00]" not in across
    assert pd.read_csv(out / "aggregate.csv")["interval"].tolist() == ["n too small"]


def test_an_unwritable_units_folder_or_report_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    import crossdomain.run.units as units

    monkeypatch.setattr(units, "run_unit", lambda *a: pytest.fail("a unit started"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "units").symlink_to("/proc/1")  # a folder nobody, root included, can create files in
    assert main(["run", "--suite", "smoke", "--out", str(out), "--no-progress", "--executor", "sequential"]) == 2
    assert f"{out / 'units'} not writable" in capsys.readouterr().err

    run = tmp_path / "run" / "units"
    run.mkdir(parents=True)
    write_unit(run, "dna/splice", "random", 0, 0.7)
    assert main(["report", str(tmp_path / "run"), "--out", "/proc/1/report"]) == 2
    assert "report folder /proc/1/report not writable" in capsys.readouterr().err


def test_results_csv_accounts_for_an_unreadable_unit_file(tmp_path):
    from crossdomain.run.grid import ResultsTable

    units = tmp_path / "units"
    units.mkdir()
    write_unit(units, "dna/splice", "random", 0, 0.7)
    (units / "stray.json").write_text("[1, 2")
    with pytest.warns(UserWarning, match="stray.json: unreadable unit record"):
        frame = ResultsTable(tmp_path).write()
    stray = frame[frame["unit_id"] == "stray"].iloc[0]
    assert stray["status"] == "unreadable" and "JSONDecodeError" in stray["error"]
    assert (frame["status"] == "ok").sum() == 1
