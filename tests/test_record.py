"""The unit record: round trip, version 1 upgrade, refusal of unknown versions and of files that are not records."""
import json

import pytest

from crossdomain.record import SCHEMA_VERSION, BaselineSpec, RecordError, TrainedSpec, UnitRecord, load_records

V1 = {  # a version-1 unit file as wave 1 wrote it (trimmed)
    "schema_version": 1, "unit_id": "dna-splice__fold0__random__seed0__map0__abc",
    "unit": {"task": "dna/splice", "task_version": "1", "fold": 0, "init": "random", "seed": 0, "mapping_seed": 0,
             "model": "tiny", "mapping": "random", "train": {"lr": 0.001}, "data_dirs": ["/mirror"]},
    "config": {"lr": 0.001}, "started_at": "2026-11-24T10:00:00+00:00", "task": {"name": "dna/splice"},
    "model": {"name": "tiny"}, "mapping": {}, "sizes": {"train": 256, "dev": 64, "test": 64},
    "metrics": {"accuracy": 0.5, "macro_f1": 0.4, "mcc": 0.1, "primary": 0.1, "primary_metric": "mcc"},
    "curve": [{"step": 0, "dev": 0.0}], "best_step": 0, "steps": 60, "train_seconds": 3.0, "peak_memory_mb": 900.0,
    "status": "ok", "error": None, "wall_seconds": 4.0, "finished_at": "2026-11-24T10:00:04+00:00", "device": "cpu",
    "libraries": {"torch": "2.13.0"}, "git": {"commit": "abc"}, "machine": {"cpu_count": 2},
}


def test_round_trip(tmp_path):
    record = UnitRecord.from_json(V1)
    record.write(tmp_path / "u.json")
    again = UnitRecord.load(tmp_path / "u.json")
    assert again == record and again.schema_version == SCHEMA_VERSION
    assert json.loads((tmp_path / "u.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_version_1_files_still_load():
    record = UnitRecord.from_json(V1)
    assert record.data_dirs == ["/mirror"] and "data_dirs" not in record.unit.to_json()
    assert isinstance(record.unit, TrainedSpec) and record.unit.lr == 0.001 and not record.is_baseline
    assert record.init == {"spec": "random"}
    row = record.row()
    assert row["init"] == "random" and row["primary"] == 0.1 and row["domain"] == "dna" and row["train"] == 256


def test_unknown_schema_version_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "future.json"
    path.write_text(json.dumps({**V1, "schema_version": 99}))
    with pytest.raises(RecordError, match=r"future\.json: unit record schema_version 99 is not one this crossdomain reads"):
        UnitRecord.load(path)


@pytest.mark.parametrize("content, message", [
    ('{"unit_id": "x", "unit": {', "unreadable unit record"),
    ('{"notes": "my own file"}', "not a crossdomain unit record"),
    ('[1, 2]', "not a crossdomain unit record"),
    (json.dumps({**V1, "schema_version": 2, "surprise": 1}), r"unknown unit record key\(s\) \['surprise'\]"),
])
def test_files_that_are_not_records_are_named(tmp_path, content, message):
    path = tmp_path / "notes.json"
    path.write_text(content)
    with pytest.raises(RecordError, match=rf"notes\.json: {message}"):
        UnitRecord.load(path)
    skipped = []
    assert load_records(tmp_path, on_error=skipped.append) == [] and len(skipped) == 1


def test_version_2_files_get_the_precision_they_ran_in():
    """Before version 3, bf16 acted on CUDA only: a CPU unit ran in fp32; on CUDA it is not known."""
    v2 = {**V1, "schema_version": 2, "data_dirs": [], "unit": {k: v for k, v in V1["unit"].items() if k != "data_dirs"}}
    cpu = UnitRecord.from_json(v2)
    cuda = UnitRecord.from_json({**v2, "device": "NVIDIA H100"})
    baseline_unit = {"task": "dna/splice", "task_version": "1", "fold": 0, "baseline": "majority", "data": {}}
    baseline = UnitRecord.from_json({**V1, "schema_version": 2, "unit": baseline_unit})
    assert (cpu.precision, cuda.precision, baseline.precision) == ("fp32", None, None)
    assert cpu.row()["precision"] == "fp32"


def test_version_5_files_were_evaluated_in_their_training_precision_and_re_run_so():
    """Until version 6 dev curves and test predictions ran in the training precision (bf16 on such a unit)."""
    from crossdomain.run.units import Unit

    unit = {k: v for k, v in V1["unit"].items() if k != "data_dirs"}
    v5 = {**V1, "schema_version": 5, "data_dirs": [], "unit": unit, "precision": "bf16", "resumed_from": [],
          "execution": {"threads": 1, "bf16": True}}
    old = UnitRecord.from_json(v5)
    assert (old.precision, old.eval_precision) == ("bf16", "bf16")
    assert Unit.from_record(old).execution.bf16_eval  # a re-run computes what the record did
    new = UnitRecord.from_json({**v5, "schema_version": 6, "eval_precision": "fp32"})
    assert new.eval_precision == "fp32" and not Unit.from_record(new).execution.bf16_eval


def test_the_unit_is_read_into_its_type_and_a_wrong_key_is_named():
    baseline = UnitRecord.from_json({**V1, "unit": {"task": "dna/splice", "task_version": "1", "fold": 0,
                                                    "baseline": "kmer-logreg", "data": {"max_length": 64},
                                                    "baseline_version": 2}})
    assert isinstance(baseline.unit, BaselineSpec) and baseline.is_baseline and baseline.unit.arm == "kmer-logreg"
    assert baseline.to_json()["unit"]["baseline_version"] == 2 and baseline.row()["lr"] is None
    first = UnitRecord.from_json({**V1, "unit": {**baseline.unit.to_json(), "baseline_version": 1}})
    assert "baseline_version" not in first.to_json()["unit"]  # version 1 is not in the identity (ids unchanged)
    with pytest.raises(RecordError, match=r"x\.json: unit of a trained unit: unknown key\(s\) \['sede'\]; "
                                          r"missing key\(s\) \['seed'\]"):
        unit = {k: v for k, v in V1["unit"].items() if k not in ("seed", "data_dirs")}
        UnitRecord.from_json({**V1, "schema_version": 3, "data_dirs": [], "unit": {**unit, "sede": 0}}, "x.json")
