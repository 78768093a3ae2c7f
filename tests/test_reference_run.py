"""The committed reference run reproduces: re-running one of its units gives the same metrics."""
import math
from pathlib import Path

import pytest

from crossdomain.record import load_records
from crossdomain.units import Unit, run_unit

REFERENCE = Path(__file__).resolve().parents[1] / "runs" / "reference-cpu"


def committed_units():
    if not (REFERENCE / "units").is_dir():
        return []
    return [r for r in load_records(REFERENCE / "units") if r.ok]


def test_every_committed_unit_file_is_a_readable_record_with_its_predictions():
    records = committed_units()
    if not records:
        pytest.skip("no committed reference run yet")
    for record in records:
        assert Unit.from_record(record).unit_id == record.unit_id, record.path  # the id is what it computed
        assert record.predictions_path.exists(), record.unit_id


@pytest.mark.mirror
def test_rerunning_the_cheapest_committed_training_unit_reproduces_its_metrics(tmp_path, mirror):
    trained = [r for r in committed_units() if not r.unit.get("baseline")]
    if not trained:
        pytest.skip("no committed reference training unit yet")
    learned = [r for r in trained if r.metrics.get("primary")] or trained  # a unit that learned checks more
    record = min(learned, key=lambda r: r.train_seconds)
    unit = Unit.from_record(record, data_dirs=(str(mirror),))
    again = run_unit(unit, tmp_path)
    assert again.ok, again.error
    assert again.precision == record.precision == "fp32"  # re-run in the precision it ran in, bf16 or not
    for name, value in record.metrics.items():
        if isinstance(value, float):
            assert math.isclose(again.metrics[name], value, abs_tol=1e-6), (name, again.metrics[name], value)
    assert [p["step"] for p in again.curve] == [p["step"] for p in record.curve]
    assert max(abs(a["dev"] - b["dev"]) for a, b in zip(again.curve, record.curve)) <= 1e-6
