"""Per-arm lr selection, baselines and the still-improving flag."""
import dataclasses
import json
import random

import numpy as np
import pandas as pd
import pytest

from crossdomain.baselines import BASELINES, SymbolSplit
from crossdomain.config import apply_overrides
from crossdomain.record import UnitRecord
from crossdomain.report import stats
from crossdomain.run import grid as runner
from crossdomain.run import selection
from crossdomain.run import units as units_module
from crossdomain.run.suites import load_suite

SPEC = {"task": "dna/splice", "task_version": "1", "fold": 0, "init": "random", "seed": 0, "mapping_seed": 0,
        "model": "tiny", "mapping": "random", "train": {"lr": 1e-4}}


def fake_record(unit_id, curve_devs, status="ok"):
    return UnitRecord(unit_id=unit_id, unit=SPEC, status=status, curve=[{"step": i, "dev": d} for i, d in enumerate(curve_devs)])


class FakeUnit:
    def __init__(self, unit_id):
        self.unit_id = unit_id


def test_the_lr_with_the_best_dev_score_over_the_curve_is_chosen_ties_to_the_smaller():
    units = {1e-4: [FakeUnit("a")], 3e-4: [FakeUnit("b")], 1e-3: [FakeUnit("c")]}
    records = {"a": fake_record("a", [0.1, 0.5, 0.4]), "b": fake_record("b", [0.1, 0.7, 0.2]),
               "c": fake_record("c", [0.1, 0.6, 0.65])}
    picked = selection.choose("t", "arm", units, records)
    assert picked.chosen_lr == 3e-4 and picked.dev_scores == {1e-4: 0.5, 3e-4: 0.7, 1e-3: 0.65}
    records["c"] = fake_record("c", [0.7])
    assert selection.choose("t", "arm", units, records).chosen_lr == 3e-4  # a tie keeps the smaller lr
    records["b"] = fake_record("b", [0.9], status="failed")
    assert selection.choose("t", "arm", units, records).chosen_lr == 1e-3  # failed units do not count
    assert selection.choose("t", "arm", units, {}).chosen_lr is None


def test_on_several_folds_the_mean_dev_score_chooses_and_final_weights_score_their_final_point():
    units = {1e-4: [FakeUnit("a0"), FakeUnit("a1")], 3e-4: [FakeUnit("b0"), FakeUnit("b1")]}
    records = {"a0": fake_record("a0", [0.1, 0.9]), "a1": fake_record("a1", [0.1, 0.1]),  # mean 0.5
               "b0": fake_record("b0", [0.1, 0.6]), "b1": fake_record("b1", [0.1, 0.6])}  # mean 0.6
    picked = selection.choose("t", "arm", units, records)
    assert picked.chosen_lr == 3e-4 and picked.dev_scores == pytest.approx({1e-4: 0.5, 3e-4: 0.6})
    assert picked.to_json()["units"] == {"0.0001": ["a0", "a1"], "0.0003": ["b0", "b1"]}
    assert picked.annotation()["selection_units"] == ["a0", "a1", "b0", "b1"]
    for record in records.values():
        record.config = {"keep_best": False}
    records["b1"] = fake_record("b1", [0.9, 0.0])
    records["b1"].config = {"keep_best": False}
    assert selection.choose("t", "arm", units, records).dev_scores == pytest.approx({1e-4: 0.5, 3e-4: 0.3})


def toy_symbols(n, seed):
    """Class 1 iff the motif 'G G' occurs; otherwise random A/C/T."""
    rng = random.Random(seed)
    split = SymbolSplit([], [], [])
    for i in range(n):
        symbols = [rng.choice("ACT") for _ in range(20)]
        label = i % 2
        if label:
            position = rng.randrange(19)
            symbols[position:position + 2] = ["G", "G"]
        split.symbols.append(symbols)
        split.labels.append(label)
        split.ids.append(f"s{i}")
    return split


def test_kmer_logreg_finds_a_motif_and_majority_predicts_the_majority():
    train, dev, test = toy_symbols(200, 0), toy_symbols(60, 1), toy_symbols(60, 2)
    kmer = BASELINES.get("kmer-logreg")().fit_predict(train, dev, test, 2, "accuracy")
    assert kmer.test_metrics["accuracy"] >= 0.95 and kmer.details["C"] in kmer.details["C_grid"]
    assert np.allclose(np.sum(kmer.test_probabilities, axis=1), 1, atol=1e-4)
    skewed = SymbolSplit(train.symbols[:30], [0] * 20 + [1] * 10, train.ids[:30])
    majority = BASELINES.get("majority")().fit_predict(skewed, dev, test, 2, "accuracy")
    assert set(majority.test_predictions) == {0} and majority.test_metrics["accuracy"] == pytest.approx(0.5)


def peaking_at(step, steps=100):
    """A unit whose dev curve (every step) is best at ``step`` and which kept its final weights."""
    curve = [{"step": s, "dev": 1.0 if s == step else 0.5} for s in range(steps + 1)]
    return UnitRecord("u", SPEC, "ok", steps=steps, best_step=steps, curve=curve)


def test_still_improving_means_the_best_dev_step_is_in_the_last_tenth():
    assert stats.still_improving(peaking_at(95)) and stats.still_improving(peaking_at(90))
    assert not stats.still_improving(peaking_at(89))  # whatever best_step says about the weights kept
    assert not stats.still_improving(UnitRecord("u", SPEC, "ok", steps=0, best_step=0, curve=[{"step": 0, "dev": 0.5}]))


def early_stopped(best, steps, minimum=400, every=50):
    """A unit evaluated every ``every`` steps, best at ``best``, ended by early stopping at ``steps``."""
    curve = [{"step": s, "dev": 0.9 if s == best else 0.5} for s in range(0, steps + 1, every)]
    config = {"early_stopping_patience": 5, "early_stopping_min_steps": minimum, "eval_every": every}
    return UnitRecord("u", SPEC, "ok", steps=steps, best_step=best, curve=curve, config=config)


def test_stopped_at_minimum_means_early_stopping_ended_the_unit_at_the_first_step_it_allowed():
    assert stats.stopped_at_minimum(early_stopped(best=150, steps=400))  # the v1 regression gb1 random seed
    assert not stats.stopped_at_minimum(early_stopped(best=350, steps=600))  # patience ran out after the minimum
    assert not stats.stopped_at_minimum(early_stopped(best=400, steps=400))  # its best is at the minimum itself
    assert not stats.stopped_at_minimum(early_stopped(best=150, steps=450))  # it went on past the first allowed step
    assert stats.stopped_at_minimum(early_stopped(best=100, steps=420, minimum=410, every=20))  # minimum off the grid
    no_early_stopping = early_stopped(best=150, steps=400)
    no_early_stopping.config["early_stopping_patience"] = 0  # a fixed budget that happens to equal the minimum
    assert not stats.stopped_at_minimum(no_early_stopping)
    assert not stats.stopped_at_minimum(early_stopped(best=50, steps=300))  # a ceiling below the minimum


@pytest.mark.mirror
def test_selection_then_main_units_with_each_arms_lr_and_baselines_on_the_same_items(tmp_path, monkeypatch):
    suite = apply_overrides(load_suite("smoke"), ["tasks=[dna/splice]", "seeds=[0,1]", "train.max_steps=6",
                                                   "train.eval_every=3", "lr_grid=[0.001,0.003]",
                                                   "baselines=[majority,kmer-logreg]"])
    out = tmp_path / "run"
    frame = runner.run_suite(suite, out, progress=False)
    assert len(frame) == 2 * 2 + 2 * 2 - 2 + 2  # selection (arm × lr) + main (arm × seed) − reused + baselines
    plan = json.loads((out / "run.json").read_text())["selection"]
    records = {r.unit_id: r for r in runner.load_unit_records(out)}
    for key, chosen in plan.items():
        task, arm = key.split("|")
        scores = {float(lr): max(p["dev"] for p in records[uid].curve) for lr, uid in chosen["units"].items()}
        assert chosen["chosen_lr"] == min(scores, key=lambda lr: (-scores[lr], lr))
        main = [r for r in records.values() if r.unit.arm == arm and not r.is_baseline and "main" in r.roles]
        assert len(main) == 2 and all(r.unit.lr == chosen["chosen_lr"] for r in main)
        # a main unit run after the selection records how its lr was chosen; the reused one is told by the plan
        assert all(r.selection["selection_units"] == list(chosen["units"].values()) for r in main if r.roles == ["main"])
        assert sum(r.roles == ["selection", "main"] for r in main) == 1  # seed 0 at the chosen lr ran once
    baseline_items = [pd.read_csv(r.predictions_path)["id"].tolist() for r in records.values() if r.is_baseline]
    arm_unit = next(r for r in records.values() if "main" in r.roles and not r.is_baseline)
    arm_items = pd.read_csv(arm_unit.predictions_path)["id"].tolist()
    assert baseline_items and all(items == arm_items for items in baseline_items)  # exactly the same test items

    reused = next(r for r in records.values() if r.roles == ["selection", "main"])  # roles from the plan
    assert json.loads(reused.path.read_text())["roles"] == ["selection"]  # its file is as it was written
    written = {path.name: path.stat().st_mtime_ns for path in (out / "units").glob("*.json")}
    executed = []
    monkeypatch.setattr(units_module, "run_unit", lambda unit, o: executed.append(unit.unit_id))
    runner.run_suite(suite, out, progress=False)
    assert executed == []
    assert {path.name: path.stat().st_mtime_ns for path in (out / "units").glob("*.json")} == written
    csv = pd.read_csv(out / "results.csv").set_index("unit_id")
    assert csv.loc[reused.unit_id, "role"] == "selection+main"

    from crossdomain.report import write_report

    report = write_report([out], out / "report")
    learning_rates = pd.read_csv(report / "learning_rates.csv")
    assert len(learning_rates) == 4 and learning_rates["chosen"].sum() == 2
    summary = pd.read_csv(report / "summary.csv")
    assert set(summary.loc[summary["kind"] == "baseline", "arm"]) == {"majority", "kmer-logreg"}
    assert "kmer-logreg†" in (report / "summary.md").read_text()
    assert (report / "aggregate.csv").exists() and (report / "learning_rates.png").stat().st_size > 1000


def test_a_baseline_version_enters_the_id_from_2_on_and_an_older_version_is_not_re_run(tmp_path):
    from crossdomain.run.units import Unit, run_unit

    suite = apply_overrides(load_suite("smoke"), ["tasks=[dna/splice]", "baselines=[majority,kmer-logreg]"])
    majority, kmer = runner.baseline_units(suite)
    assert (majority.baseline_version, kmer.baseline_version) == (1, BASELINES.get("kmer-logreg").version) == (1, 2)
    assert "baseline_version" not in majority.identity() and kmer.identity()["baseline_version"] == 2
    older = dataclasses.replace(kmer, baseline_version=1)
    assert older.unit_id != kmer.unit_id and "baseline_version" not in older.identity()
    record = run_unit(older, tmp_path)
    assert not record.ok and "at version 2; this unit was planned for version 1" in record.error
    assert Unit.from_record(record).unit_id == older.unit_id


@pytest.mark.mirror
def test_an_lr_chosen_over_several_folds_with_final_weights_end_to_end(tmp_path):
    """dna/promoters as the reference suite runs it: each lr scored on the mean final dev score over 2 folds."""
    suite = apply_overrides(load_suite("smoke"), [
        "tasks=[dna/promoters]", "seeds=[0,1]", "inits=[random]", "folds=[0,1]", "lr_grid=[1e-4,3e-3]",
        "task_lr_selection_folds={dna/promoters: 2}", "train.max_steps=4", "train.eval_every=2",
        "train.keep_best=false", "task_train={}"])
    out = tmp_path / "folds"
    runner.run_suite(suite, out, progress=False)
    records = {r.unit_id: r for r in runner.load_unit_records(out)}
    (chosen,) = json.loads((out / "run.json").read_text())["selection"].values()
    assert all(len(ids) == 2 for ids in chosen["units"].values())  # one selection unit per fold and lr
    for lr, ids in chosen["units"].items():
        assert {records[i].unit.fold for i in ids} == {0, 1}
        final = [records[i].curve[-1]["dev"] for i in ids]
        assert chosen["dev_scores"][lr] == pytest.approx(sum(final) / 2)  # the final weights' score, averaged
    main = [r for r in records.values() if "main" in r.roles]
    assert len(main) == 4 and {r.unit.lr for r in main} == {chosen["chosen_lr"]}
    assert sum(r.roles == ["selection", "main"] for r in main) == 2  # seed 0 of each fold ran once
    assert all(r.best_step == r.steps == 4 for r in main)  # the final weights were kept and tested


def test_an_arm_lr_grid_replaces_the_grid_for_that_arm_only_and_a_non_canonical_key_is_refused():
    from crossdomain.config import ConfigError
    from crossdomain.run.suites import validate_suite

    suite = apply_overrides(load_suite("smoke"), [
        "tasks=[dna/splice]", "inits=[pretrained, random, frozen:base=pretrained]", "lr_grid=[1e-4,3e-4]",
        "arm_lr_grid={frozen:base=pretrained: [1e-3, 3e-3, 1e-2]}"])
    validate_suite(suite, check_resources=False)
    plan = selection.selection_units(suite, runner.expand_units(suite))
    grids = {key[1]: sorted(lrs) for key, lrs in plan.items()}
    assert grids == {"pretrained": [1e-4, 3e-4], "random": [1e-4, 3e-4], "frozen:base=pretrained": [1e-3, 3e-3, 1e-2]}
    bad = apply_overrides(suite, ["arm_lr_grid={frozen: [1e-3]}"])
    with pytest.raises(ConfigError, match=r"arm_lr_grid names 'frozen'.*frozen:base=pretrained"):
        validate_suite(bad, check_resources=False)


def test_an_arm_with_its_own_seeds_selects_its_lr_on_its_own_first_seed():
    from crossdomain.run.suites import validate_suite

    suite = apply_overrides(load_suite("smoke"), [
        "tasks=[dna/splice]", "lr_grid=[1e-4,3e-4]", "task_arm_seeds={dna/splice: {random: [3, 4, 5]}}"])
    validate_suite(suite, check_resources=False)
    units = runner.expand_units(suite)
    assert [(u.init, u.seed) for u in units] == [("pretrained", 0), ("pretrained", 1), ("random", 3),
                                                 ("random", 4), ("random", 5)]
    plan = selection.selection_units(suite, units)
    assert {key[1]: {u.seed for group in by_lr.values() for u in group} for key, by_lr in plan.items()} == {
        "pretrained": {0}, "random": {3}}


@pytest.mark.parametrize("other_runner", ["finishes", "dies"])
def test_an_lr_is_chosen_only_once_every_selection_unit_another_runner_holds_has_its_record(
        tmp_path, monkeypatch, capsys, other_runner):
    from crossdomain.run import claims
    from crossdomain.run.units import run_unit

    suite = apply_overrides(load_suite("smoke"), ["tasks=[dna/splice]", "inits=[random]", "seeds=[0]",
                                                   "train.max_steps=4", "train.eval_every=2",
                                                   "lr_grid=[0.001,0.003]", "baselines=[]"])
    out = tmp_path / "run"
    held = runner.expand(suite, ()).selection_units[1]
    claim = claims.try_claim(out / "units", held.unit_id)  # this test process plays the other, live runner
    sleeps = []

    def other_runner_meanwhile(seconds):
        sleeps.append(seconds)
        if other_runner == "finishes":
            run_unit(held, out)
        claims.release(claim)

    monkeypatch.setattr(runner, "SELECTION_POLL_S", 0.5)
    monkeypatch.setattr("time.sleep", other_runner_meanwhile)
    runner.run_suite(suite, out, progress=False)
    assert sleeps == [0.5] and f"waiting for 1 unit(s) another runner is training ({held.unit_id})" in capsys.readouterr().out
    (chosen,) = json.loads((out / "run.json").read_text())["selection"].values()
    records = {r.unit_id: r for r in runner.load_unit_records(out)}
    assert set(chosen["dev_scores"]) == {"0.001", "0.003"} and records[held.unit_id].ok  # the whole grid, not half
    assert chosen["dev_scores"][str(held.train.lr)] == pytest.approx(max(p["dev"] for p in records[held.unit_id].curve))


def test_until_selection_stops_before_the_main_grid_and_a_later_run_goes_on(tmp_path, monkeypatch):
    from crossdomain.cli import main

    out = tmp_path / "run"
    common = ["run", "--suite", "smoke", "--tasks", "dna/splice", "--inits", "random", "--seeds", "0", "1",
              "--set", "lr_grid=[0.001,0.003]", "--set", "train.max_steps=4", "--set", "train.eval_every=2",
              "--set", "baselines=[]", "--out", str(out), "--no-progress", "--no-report", "--executor", "sequential"]
    assert main([*common, "--until", "selection"]) == 0
    records = runner.load_unit_records(out)
    assert len(records) == 2 and all("selection" in r.roles for r in records)  # one per lr, no main-only unit
    (chosen,) = json.loads((out / "run.json").read_text())["selection"].values()
    assert chosen["chosen_lr"] in (0.001, 0.003)
    executed = []
    real_run_unit = units_module.run_unit
    monkeypatch.setattr(units_module, "run_unit", lambda unit, o: executed.append(unit) or real_run_unit(unit, o))
    assert main(common) == 0
    assert [(u.seed, u.train.lr) for u in executed] == [(1, chosen["chosen_lr"])]  # seed 0 is a selection unit
