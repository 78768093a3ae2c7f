"""`crossdomain compare`: units matched by id across two runs, paired differences per task and pooled."""
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from crossdomain.cli import main
from crossdomain.record import UnitRecord
from crossdomain.report.compare import compare_runs


def write(units, task, seed, score, precision, curve=(0.1, 0.5, 0.8), baseline=False):
    unit_id = f"{task.replace('/', '-')}__seed{seed}__{'baseline' if baseline else 'x'}"
    common = {"task": task, "task_version": "1", "fold": 0}
    unit = ({**common, "baseline": "majority", "data": {}} if baseline else
            {**common, "init": "pretrained", "seed": seed, "mapping_seed": 0, "model": "tiny", "mapping": "random",
             "train": {}})
    UnitRecord(unit_id=unit_id, unit=unit, status="ok", precision=precision, train_seconds=10.0 if precision == "bf16" else 25.0,
               metrics={"mcc": score, "primary": score, "primary_metric": "mcc"}, steps=20,
               curve=[{"step": 10 * i, "dev": d} for i, d in enumerate(curve)]).write(units / f"{unit_id}.json")


@pytest.fixture
def two_runs(tmp_path):
    a, b = tmp_path / "bf16" / "units", tmp_path / "fp32" / "units"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    for seed, (x, y) in enumerate([(0.80, 0.80), (0.70, 0.75), (0.90, 0.86)]):
        write(a, "dna/splice", seed, x, "bf16", curve=(0.1, 0.5, x))
        write(b, "dna/splice", seed, y, "fp32", curve=(0.1, 0.5 if seed else 0.5, y))
    write(a, "music/region", 0, 0.6, "bf16", curve=(0.1, 0.3, 0.6))
    write(b, "music/region", 0, 0.5, "fp32", curve=(0.1, 0.4, 0.5))
    write(a, "music/region", 1, 0.6, "bf16")  # no partner
    write(a, "dna/splice", 0, 0.1, None, baseline=True)
    write(b, "dna/splice", 0, 0.9, None, baseline=True)  # baselines are not compared
    return tmp_path / "bf16", tmp_path / "fp32"


def test_pairs_are_matched_by_unit_id_and_summarised_per_task_and_pooled(two_runs):
    pairs, summary, unmatched = compare_runs(*two_runs)
    assert len(pairs) == 4 and unmatched == {"only_a": 1, "only_b": 0}
    rows = summary.set_index("task")
    deltas = [0.0, -0.05, 0.04]
    splice = rows.loc["dna/splice"]
    assert splice["pairs"] == 3 and splice["identical"] == 1
    assert splice["mean_delta"] == pytest.approx(sum(deltas) / 3)
    half = scipy_stats.t.ppf(0.975, 2) * pd.Series(deltas).std() / 3 ** 0.5
    assert splice["ci_low"] == pytest.approx(sum(deltas) / 3 - half)
    assert splice["train_time_ratio_b_over_a"] == pytest.approx(2.5)
    assert rows.loc["pooled", "pairs"] == 4 and rows.loc["pooled", "mean_delta"] == pytest.approx((sum(deltas) + 0.1) / 4)
    parted = pairs.set_index("unit_id")["curves_part_at"]
    assert parted["music-region__seed0__x"] == 10  # dev 0.3 vs 0.4 at the second evaluation
    assert parted["dna-splice__seed1__x"] == 20 and pd.isna(parted["dna-splice__seed0__x"])


def test_compare_command_writes_its_tables_and_refuses_a_folder_without_units(two_runs, tmp_path, capsys):
    assert main(["compare", *map(str, two_runs), "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "(bf16)" in out and "(fp32)" in out and "| pooled" in out
    assert (tmp_path / "cmp" / "comparison.csv").exists() and (tmp_path / "cmp" / "pairs.csv").exists()
    assert main(["compare", str(two_runs[0]), str(tmp_path)]) == 2
    assert "no units/ folder" in capsys.readouterr().err
