"""What the report does with what it is given: stray and truncated unit files, and figure layout."""

import pytest

from crossdomain.cli import main


def test_report_skips_a_stray_file_in_units_with_a_warning(tmp_path):
    from crossdomain.report import write_report
    from tests.test_report import write_unit

    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    write_unit(units, "dna/splice", "pretrained", 0, 0.8)
    (units / "notes.json").write_text('{"my": "notes"}')
    with pytest.warns(UserWarning, match=r"notes\.json: not a crossdomain unit record"):
        write_report([tmp_path / "run"], tmp_path / "report")


def test_a_truncated_unit_file_is_named_in_the_report_and_warned_in_one_clean_line(tmp_path, capsys):
    from tests.test_report import write_unit

    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    write_unit(units, "dna/splice", "pretrained", 0, 0.8)
    truncated = units / f"{write_unit(units, 'dna/splice', 'random', 0, 0.7)}.json"
    truncated.write_text(truncated.read_text()[:50])
    assert main(["report", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"crossdomain report: warning: {truncated}: unreadable unit record")
    report = (tmp_path / "run" / "report" / "report.md").read_text()
    section = report.split("## Files in units/ that are not unit records")[1].split("##")[0]
    assert f"- {truncated}: unreadable unit record (JSONDecodeError" in section


def test_figure_titles_fit_inside_their_figures(tmp_path):
    from crossdomain.report import figures, stats
    from tests.test_report import write_unit

    units = tmp_path / "run" / "units"
    units.mkdir(parents=True)
    for seed in range(2):
        for arm in ("pretrained", "random"):
            write_unit(units, "music/composer", arm, seed, 0.6 + 0.1 * seed)
            write_unit(units, "protein/localization", arm, seed, 0.4 + 0.1 * seed)
    table = stats.load_units([tmp_path / "run"])
    for arms in (["pretrained", "random"], ["pretrained", "random", "a", "b"]):
        figure = figures.bars_figure(stats.summarise_arms(table), table.ok, arms)
        figure.canvas.draw()
        title = figure.axes[0].title.get_window_extent(figure.canvas.get_renderer())
        assert title.x0 >= 0 and title.x1 <= figure.bbox.x1, (arms, title, figure.bbox)
