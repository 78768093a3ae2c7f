"""The committed reference runs reproduce: re-running one of their units gives the same metrics."""
import math
from pathlib import Path

import pytest

from crossdomain.record import load_records
from crossdomain.run import provenance
from crossdomain.run.units import Unit, run_unit
from crossdomain.training.precision import cpu_has_native_bf16

RUNS = Path(__file__).resolve().parents[1] / "runs"
REFERENCES = ["reference-cpu", "reference-cpu-v1"]
COMMITTED = sorted(path.parent.name for path in RUNS.glob("*/units"))
# runs made under the rule that a committed result comes from one clean commit (earlier runs, the v1 ones and
# quick-saved, predate it and say so in runs/README.md)
ONE_CLEAN_COMMIT = ["precision-bf16", "reference-cpu", "regression", "sizes", "why"]


def committed_units(name):
    units = RUNS / name / "units"
    return [r for r in load_records(units) if r.ok] if units.is_dir() else []


@pytest.mark.parametrize("name", COMMITTED)
def test_every_committed_unit_file_is_a_readable_record_with_its_predictions(name):
    records = committed_units(name)
    if not records:
        pytest.skip(f"no committed {name} run yet")
    for record in records:
        assert Unit.from_record(record).unit_id == record.unit_id, record.path  # the id is what it computed
        assert record.predictions_path.exists(), record.unit_id


@pytest.mark.parametrize("name", ONE_CLEAN_COMMIT)
def test_a_committed_result_comes_from_one_clean_commit(name):
    records = committed_units(name)
    if not records:
        pytest.skip(f"no committed {name} run yet")
    commits = {(record.git.get("commit"), record.git.get("dirty")) for record in records}
    assert len(commits) == 1, sorted(commits, key=str)
    commit, dirty = commits.pop()
    assert commit and dirty is False, (commit, dirty)


def skip_unless_same_bf16_kernels(recorded: dict) -> None:
    """bf16 results are bit-identical only on CPUs of the same kind: oneDNN picks its bf16 kernels by the CPU
    (an AMD EPYC with AVX512-BF16 re-ran reference-cpu's cheapest unit, recorded before records named the CPU, to
    the same test metrics but a dev curve that parted by 0.27 MCC at one step)."""
    if not cpu_has_native_bf16():
        pytest.skip("the unit ran in bf16; this CPU has no native bf16")
    theirs, here = provenance.cpu_kind(recorded), provenance.cpu_kind(provenance.machine())
    if theirs is None:
        pytest.skip(f"the unit ran in bf16 on a CPU its record does not name; this one is {here}: bf16 kernels, "
                    "and so the numbers, may differ")
    if theirs != here:
        pytest.skip(f"the unit ran in bf16 on {theirs}, this CPU is {here}: bf16 kernels, and so the numbers, may differ")


@pytest.mark.mirror
@pytest.mark.parametrize("name", REFERENCES)
def test_rerunning_the_cheapest_committed_training_unit_reproduces_its_metrics(tmp_path, mirror, name):
    trained = [r for r in committed_units(name) if not r.is_baseline]
    if not trained:
        pytest.skip(f"no committed {name} training unit yet")
    learned = [r for r in trained if r.metrics.get("primary")] or trained  # a unit that learned checks more
    record = min(learned, key=lambda r: r.train_seconds)
    if record.precision == "bf16":
        skip_unless_same_bf16_kernels(record.machine)
    unit = Unit.from_record(record, data_dirs=(str(mirror),))
    again = run_unit(unit, tmp_path)
    assert again.ok, again.error
    assert again.precision == record.precision  # re-run in the precision it ran in
    for metric, value in record.metrics.items():
        if isinstance(value, float):
            assert math.isclose(again.metrics[metric], value, abs_tol=1e-6), (metric, again.metrics[metric], value)
    assert [p["step"] for p in again.curve] == [p["step"] for p in record.curve]
    assert max(abs(a["dev"] - b["dev"]) for a, b in zip(again.curve, record.curve)) <= 1e-6
