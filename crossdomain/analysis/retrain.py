"""Fine-tuned weights re-made from a unit's record (``crossdomain analyze --retrain``).

Weights are git-ignored (42 MB a MiniLM unit), so a committed run, a fresh clone or a run resumed across machines
holds records without them, and ``analyze`` could only do the *before* half. A unit is determined by its record
(resolved config, seeds, task version, data checksum), so re-training it from the record gives the model the record
describes: bit for bit on the same kind of CPU (bf16 kernels differ between CPU kinds, so elsewhere the metrics may
differ in their last digits). Each re-run is compared with its record (test metrics and the dev curve) and the
outcome is kept beside the weights, in ``units/<unit_id>/save-model/retrained.json``, which ``analysis.md`` cites.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

TOLERANCE = 1e-6  # metrics and dev scores that agree this closely count as reproduced
RECEIPT = "retrained.json"


@dataclass(frozen=True)
class Retraining:
    """How a re-trained unit compares with its record."""

    unit_id: str
    metric_difference: float  # largest |re-run − record| over the record's numeric test metrics
    dev_difference: float | None  # the same over the dev curve; None when the curves have other steps
    retrained_at: str = ""
    commit: str = ""
    cpu: str = ""

    @property
    def reproduced(self) -> bool:
        return self.metric_difference <= TOLERANCE and self.dev_difference is not None \
            and self.dev_difference <= TOLERANCE

    def describe(self) -> str:
        if self.reproduced:
            return f"`{self.unit_id}`: reproduced (test metrics and dev curve within {TOLERANCE:g})"
        curve = ("other evaluation steps" if self.dev_difference is None
                 else f"dev scores by up to {self.dev_difference:.3g}")
        return (f"`{self.unit_id}`: **not reproduced** (test metrics differ by up to {self.metric_difference:.3g}, "
                f"{curve}; re-trained on {self.cpu or 'an unnamed CPU'}): the weights analysed are a sibling of the "
                "recorded unit, not that unit")

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "reproduced": self.reproduced, "tolerance": TOLERANCE}

    @classmethod
    def load(cls, path: Path) -> "Retraining":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(**{f.name: data.get(f.name, f.default) for f in dataclasses.fields(cls)})


def difference(a: float | None, b: float | None) -> float:
    """|a − b|, where two NaNs (an undefined metric, both times) agree and one NaN differs from everything."""
    a, b = (math.nan if value is None else value for value in (a, b))
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b)


def compare(record, again) -> tuple[float, float | None]:
    """(largest test-metric difference, largest dev-curve difference or None when the steps differ)."""
    metrics = [difference(again.metrics.get(name, math.nan), value) for name, value in record.metrics.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)]
    metric_difference = max(metrics, default=0.0)
    steps = [point["step"] for point in record.curve]
    if steps != [point["step"] for point in again.curve]:
        return metric_difference, None
    dev = [difference(a["dev"], b["dev"]) for a, b in zip(again.curve, record.curve)]
    return metric_difference, max(dev, default=0.0)


def retraining_of(record) -> Retraining | None:
    """The receipt of a unit whose weights were re-trained, None for weights its own run saved (or none)."""
    from crossdomain.analysis.context import saved_model_dir

    path = saved_model_dir(record) / RECEIPT
    return Retraining.load(path) if path.is_file() else None


def retrain(records: list, executor, data_dirs: tuple[str, ...] | None = None) -> list[Retraining]:
    """Re-train each record's unit with the ``save-model`` hook in a scratch folder beside the run, and move its
    weights in beside the record as each unit finishes (an interruption keeps those already moved)."""
    from crossdomain.analysis.context import saved_model_dir
    from crossdomain.atomic import atomic_write_json, publish
    from crossdomain.run import provenance
    from crossdomain.run.units import Unit

    if not records:
        return []
    by_id = {record.unit_id: record for record in records}
    units = [dataclasses.replace(Unit.from_record(record, data_dirs), hooks=("save-model",)) for record in records]
    scratch = Path(tempfile.mkdtemp(dir=records[0].path.parent.parent, prefix=".retrain."))  # beside units/
    done = []

    def adopt(again) -> None:
        record = by_id[again.unit_id]
        if not again.ok:
            raise RuntimeError(f"re-training {again.unit_id} from {record.path} failed: {again.error}")
        weights = scratch / "units" / again.unit_id / "save-model"
        target = saved_model_dir(record)
        metric_difference, dev_difference = compare(record, again)
        outcome = Retraining(again.unit_id, metric_difference, dev_difference,
                             retrained_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                             commit=(again.git or {}).get("commit") or "",
                             cpu=provenance.cpu_kind(again.machine or {}) or "")
        atomic_write_json(weights / RECEIPT, outcome.to_json())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        publish(weights, target, directory=True)
        done.append(outcome)
        print(outcome.describe())

    try:
        executor.run(units, scratch, adopt)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return done
