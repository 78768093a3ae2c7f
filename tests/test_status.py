"""`crossdomain status`: counts per phase, task and arm from the plan, unit files and live claims."""
import json

import pytest

from crossdomain.cli import main
from crossdomain.config import apply_overrides
from crossdomain.run import claims
from crossdomain.run import grid as runner
from tests.test_executors import run_until_the_first_unit_is_done, small_suite


@pytest.mark.mirror
def test_status_on_a_partial_run(tmp_path, capsys):
    suite = small_suite()
    out = tmp_path / "partial"
    run_until_the_first_unit_is_done(suite, out)
    claims.try_claim(out / "units", runner.expand_units(suite)[-1].unit_id)  # as if another runner held it
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "all" in text and text.splitlines()[-3].split()[-4:] == ["1", "0", "1", "2"]
    assert "projected remaining" in text and "with 1 worker(s) (each unit" in text
    claims.try_claim(out / "units", runner.expand_units(suite)[-2].unit_id)  # a second runner on the folder
    assert main(["status", str(out)]) == 0
    assert "with 2 worker(s) (the units running now, by several runners)" in capsys.readouterr().out
    (out / "units" / "notes.json").write_text("[1, 2]")
    assert main(["status", str(out)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("not a unit record (left out above") and "notes.json: not a crossdomain unit record" in last


@pytest.mark.mirror
def test_status_during_lr_selection_counts_selection_units_and_main_units_awaiting_them(tmp_path, capsys):
    suite = apply_overrides(small_suite(), ["lr_grid=[0.001,0.003]"])
    out = tmp_path / "selecting"
    seen = run_until_the_first_unit_is_done(suite, out)
    plan = json.loads((out / "run.json").read_text())["units"]
    assert sum(e["phase"] == "selection" for e in plan) == 4  # 2 arms × 2 learning rates
    assert [e["id"] for e in plan if e["phase"] == "main"] == [None] * 4  # ids depend on the lr still to choose
    assert main(["status", str(out)]) == 0
    rows = {tuple(line.split()[:3]): line.split()[3:] for line in capsys.readouterr().out.splitlines()}
    first_arm = seen[0].unit.init
    assert rows[("selection", "dna/splice", first_arm)] == ["1", "0", "0", "1"]
    assert rows[("main", "dna/splice", first_arm)] == ["0", "0", "0", "2"]


@pytest.mark.mirror
def test_status_says_when_the_units_left_would_train_in_another_precision_here(tmp_path, capsys, monkeypatch):
    import crossdomain.training.precision as precision
    from crossdomain.record import UnitRecord

    out = tmp_path / "bf16-run"
    finished = run_until_the_first_unit_is_done(small_suite(), out)[0]
    path = out / "units" / f"{finished.unit_id}.json"
    record = UnitRecord.load(path)
    record.precision = "bf16"  # as if it trained on a CPU with native bf16
    record.write(path)
    monkeypatch.setattr(precision, "uses_cuda", lambda execution=None: False)
    for native, said in ((None, True), ("amx", False)):
        monkeypatch.setattr(precision, "cpu_native_bf16", lambda native=native: native)
        assert main(["status", str(out)]) == 0
        last = capsys.readouterr().out.splitlines()[-1]
        assert last.startswith("precision: the finished trained units ran 1 in bf16, but the units left would "
                               "train in fp32 here (this CPU has no native bf16") == said, last


@pytest.mark.mirror
def test_status_names_finished_units_outside_the_plan(tmp_path, capsys):
    suite = small_suite()
    out = tmp_path / "extended"
    seen = run_until_the_first_unit_is_done(suite, out)
    plan = json.loads((out / "run.json").read_text())
    plan["units"] = [e for e in plan["units"] if e["id"] != seen[0].unit_id]  # as if a later command planned less
    (out / "run.json").write_text(json.dumps(plan))
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 finished units are not in this plan" in text and f"dna/splice {seen[0].unit.arm} 1" in text


@pytest.mark.mirror
def test_status_names_the_unfinished_units_that_will_resume_from_a_checkpoint(tmp_path, capsys):
    from crossdomain.training import resume

    suite = small_suite()
    out = tmp_path / "interrupted"
    seen = run_until_the_first_unit_is_done(suite, out)
    waiting = next(u for u in runner.expand_units(suite) if u.unit_id != seen[0].unit_id)
    checkpoint = resume.resume_dir(out / "units", waiting.unit_id) / "checkpoint-3"
    checkpoint.mkdir(parents=True)
    resume.write_progress(checkpoint, {"step": 3}, None)  # as an interrupted attempt leaves it
    cut_short = resume.resume_dir(out / "units", "some-other-unit") / "checkpoint-6"
    cut_short.mkdir(parents=True)  # no progress file: never resumed from, not named
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"1 unfinished unit(s) will resume from a checkpoint: {waiting.unit_id} (step 3)" in text


def test_the_projection_prices_each_unit_at_its_own_training_set_size():
    """On a size axis a unit on 2000 sequences costs several times one on 64: the estimate of a unit the plan
    places on the axes is the median of the finished units at the same point, else of its task."""
    from types import SimpleNamespace

    from crossdomain.run.plan import PlannedUnit
    from crossdomain.run.status import seconds_estimator

    def record(unit_id, limit, seconds, task="dna/splice"):
        return SimpleNamespace(ok=True, wall_seconds=seconds, train_seconds=seconds - 1, is_baseline=False,
                               unit=SimpleNamespace(task=task, model="tiny"), train_limit=limit, unit_id=unit_id)

    records = {r.unit_id: r for r in (record("a", 64, 60.0), record("b", 64, 80.0), record("c", 2000, 600.0),
                                       record("d", 2000, 700.0), record("e", 64, 10.0, task="music/region"))}
    estimate = seconds_estimator(records)
    assert estimate("dna/splice", False, "tiny", 64) == 70.0
    assert estimate("dna/splice", False, "tiny", 2000) == 650.0
    assert estimate("dna/splice", False, "tiny", 250) == 340.0  # no unit at 250 yet: the task's median
    assert estimate("dna/splice", False) == 340.0  # a plan entry without the axes (plans before they were recorded)
    assert estimate("protein/amp", False, "tiny", 64) == 80.0  # an unseen task: every training unit's median

    suite = apply_overrides(small_suite(), ["train_sizes=[16,0]"])
    entries = [runner.plan_entry(unit, "main").to_json() for unit in runner.expand_units(suite)]
    assert {(e["model"], e["train_limit"]) for e in entries} == {("tiny", 16), ("tiny", 0)}
    assert PlannedUnit.from_json(entries[0], []).train_limit == entries[0]["train_limit"]  # read back
