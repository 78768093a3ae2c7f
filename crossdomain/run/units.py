"""A unit: one (task, fold, init arm, seed, mapping seed, model, config), run start to finish on its own.

A unit carries everything needed to run it, so an executor could ship it to another process
or machine. :func:`run_unit` runs the stages of :mod:`crossdomain.training.stages` and writes the
:class:`~crossdomain.record.UnitRecord`, atomically, as ``<out>/units/<unit_id>.json`` (plus
``<unit_id>.predictions.csv`` for bootstrapping, and ``<unit_id>/`` when hooks leave files).

The unit id is a readable slug plus a hash of :meth:`Unit.identity`: everything that changes the
result (task and its version, fold, arm spec, seeds, model, mapping, training hyper-parameters),
and nothing that does not (its :class:`~crossdomain.config.ExecutionConfig`: threads, evaluation batch size,
precision, device; where the data was found; hooks).
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import glob
import hashlib
import io
import json
import re
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from crossdomain.atomic import atomic_write_text, publish
from crossdomain.config import ExecutionConfig, TrainConfig
from crossdomain.data.tasks import get_task
from crossdomain.record import BaselineSpec, TrainedSpec, UnitRecord, UnitSpec
from crossdomain.run import provenance


@dataclass(frozen=True, kw_only=True)
class Unit:
    """What every unit has: a task, a fold, the training/data configuration, and where and how it runs."""

    task: str
    fold: int
    train: TrainConfig
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)  # how it runs (not hashed)
    data_dirs: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()
    # what the unit is for, not what it computes (not hashed): lr selection and/or the main grid
    roles: tuple[str, ...] = ("main",)

    def spec(self) -> UnitSpec:
        raise NotImplementedError

    @property
    def arm(self) -> str:
        return self.spec().arm

    def identity(self) -> dict:
        """Everything that changes the result."""
        return self.spec().to_json()

    @classmethod
    def from_record(cls, record: UnitRecord, data_dirs: tuple[str, ...] | None = None) -> "Unit":
        """The unit a record was produced by (same id), with the record's execution settings (an fp32 unit
        is re-run in fp32 even where bf16 is available)."""
        from crossdomain.config import build

        spec = record.unit
        train = build(TrainConfig, record.config, f"{record.path}: config")
        execution = build(ExecutionConfig, record.execution, f"{record.path}: execution")
        if record.precision == "fp32":
            execution = dataclasses.replace(execution, bf16=False)
        if record.eval_precision == "bf16":
            execution = dataclasses.replace(execution, bf16_eval=True)
        dirs = tuple(record.data_dirs) if data_dirs is None else data_dirs
        common = {"task": spec.task, "fold": spec.fold, "train": train, "execution": execution, "data_dirs": dirs}
        if isinstance(spec, BaselineSpec):
            return BaselineUnit(**common, baseline=spec.baseline, baseline_version=spec.baseline_version)
        return TrainedUnit(**common, init=spec.init, seed=spec.seed, mapping_seed=spec.mapping_seed, model=spec.model,
                           mapping=spec.mapping)

    @property
    def unit_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.task.replace('/', '-')}__fold{self.fold}__{self.slug()}__{digest}"

    def slug(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class TrainedUnit(Unit):
    """An init arm fine-tuned with one seed and token mapping."""

    init: str  # canonical arm spec, e.g. "pretrained-layers:k=3"
    seed: int
    mapping_seed: int
    model: str
    mapping: str
    selection: dict | None = field(default=None, compare=False, hash=False)  # how its lr was chosen

    def spec(self) -> TrainedSpec:
        return TrainedSpec(task=self.task, task_version=get_task(self.task).version, fold=self.fold, init=self.init,
                           seed=self.seed, mapping_seed=self.mapping_seed, model=self.model, mapping=self.mapping,
                           train=self.train.identity())

    def slug(self) -> str:
        arm = re.sub(r"[^A-Za-z0-9.-]+", "-", self.init)
        return f"{arm}__seed{self.seed}__map{self.mapping_seed}"


@dataclass(frozen=True, kw_only=True)
class BaselineUnit(Unit):
    """A reference model (e.g. ``kmer-logreg``) fitted on the same subsampled, truncated splits as the arms."""

    baseline: str
    baseline_version: int = 1  # the baseline's version (in the id from 2 on)

    def spec(self) -> BaselineSpec:
        data = {k: getattr(self.train, k) for k in ("max_length", "max_train_examples", "max_eval_examples")}
        return BaselineSpec(task=self.task, task_version=get_task(self.task).version, fold=self.fold,
                            baseline=self.baseline, data=data, baseline_version=self.baseline_version)

    def slug(self) -> str:
        return f"baseline-{self.baseline}"


def finished(out_dir: Path, unit_id: str) -> bool:
    from crossdomain.record import RecordError

    path = out_dir / "units" / f"{unit_id}.json"
    try:
        return path.exists() and UnitRecord.load(path).ok
    except RecordError:
        return False


def claim_and_run(unit: Unit, out_dir: Path) -> UnitRecord | None:
    """Run the unit unless another live process holds it or has finished it meanwhile (then None)."""
    from crossdomain.run.claims import release, try_claim

    claim = try_claim(out_dir / "units", unit.unit_id)
    if claim is None:
        return None
    try:
        if finished(out_dir, unit.unit_id):
            return None
        discard_abandoned_staging(out_dir / "units", unit.unit_id)
        return run_unit(unit, out_dir)
    finally:
        release(claim)


STAGING_SUFFIX = ".artifacts"  # a unit's hook staging folder: units/.<unit_id>.<random><suffix>


def staging_prefix(unit_id: str) -> str:
    return f".{unit_id}."


def discard_abandoned_staging(units_dir: Path, unit_id: str) -> None:
    """Remove the hook staging folders a killed attempt at this unit left behind. Only the claim's holder may:
    no live process stages files for a unit it has not claimed."""
    for staging in units_dir.glob(f"{glob.escape(staging_prefix(unit_id))}*{STAGING_SUFFIX}"):
        shutil.rmtree(staging, ignore_errors=True)


def run_unit(unit: Unit, out_dir: Path) -> UnitRecord:
    """Run a unit and write its result file, recording a failure instead of raising it."""
    from crossdomain.training import resume
    from crossdomain.training import stages as pipeline
    from crossdomain.training.trainer import device_name

    started = time.perf_counter()
    units_dir = out_dir / "units"
    units_dir.mkdir(parents=True, exist_ok=True)
    record = UnitRecord(unit_id=unit.unit_id, unit=unit.identity(), status="failed", config=dataclasses.asdict(unit.train),
                        execution=dataclasses.asdict(unit.execution),
                        data_dirs=list(unit.data_dirs), roles=list(unit.roles), selection=getattr(unit, "selection", None) or {},
                        started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    predictions = None
    reset_peak_memory()
    staging = Path(tempfile.mkdtemp(dir=units_dir, prefix=staging_prefix(unit.unit_id), suffix=STAGING_SUFFIX))
    checkpoints = resume.resume_dir(units_dir, unit.unit_id)
    try:
        with tempfile.TemporaryDirectory(prefix="crossdomain-") as work_dir:
            result = pipeline.execute(unit, work_dir, staging, checkpoints)
        for key, value in result.fields.items():
            setattr(record, key, value)
        predictions = result.predictions
        record.status = "ok"
    except Exception as error:  # noqa: BLE001 - a failed unit must not stop the grid
        record.error = f"{error.__class__.__name__}: {error}"
        record.traceback = traceback.format_exc()
    record.wall_seconds = round(time.perf_counter() - started, 3)
    record.finished_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    record.peak_memory_mb = peak_memory_mb()
    record.device = device_name(unit.execution)
    record.libraries = provenance.library_versions()
    record.git = provenance.git_commit()
    record.machine = provenance.machine()
    publish_artifacts(staging, units_dir / unit.unit_id, keep=record.ok and bool(record.artifacts))
    if predictions is not None:
        write_predictions(units_dir / f"{unit.unit_id}.predictions.csv", *predictions)
    record.write(units_dir / f"{unit.unit_id}.json")  # last: a unit counts as done only once this exists
    record.path = units_dir / f"{unit.unit_id}.json"
    if record.ok:
        resume.discard(checkpoints)  # a failed unit keeps its last checkpoint: the retry resumes from it
    return record


def publish_artifacts(staging: Path, target: Path, keep: bool) -> None:
    if keep:
        shutil.rmtree(target, ignore_errors=True)
        publish(staging, target, directory=True)
    else:
        shutil.rmtree(staging, ignore_errors=True)


def write_predictions(path: Path, ids, labels, predictions, probabilities, label_names) -> None:
    """One row per test item: id, true label and predicted label with each class's probability, or for a
    regression task (no label names) the true and the predicted value on the target's original scale."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "label", "prediction", *[f"p_{name}" for name in label_names]])
    if not label_names:
        writer.writerows([item, repr(float(truth)), repr(float(guess))] for item, truth, guess in
                         zip(ids, labels, predictions))
    for row in zip(ids, labels, predictions, probabilities):
        writer.writerow([row[0], label_names[row[1]], label_names[row[2]], *row[3]])
    atomic_write_text(path, buffer.getvalue())


# -- per-unit peak memory ------------------------------------------------------------------------------

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


def reset_peak_memory() -> None:
    """Start a new high-water mark, so a unit's peak is its own, not the largest of the process so far."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        CLEAR_REFS.write_text("5")  # Linux: resets VmHWM to the current resident size
    except OSError:
        pass


def peak_memory_mb() -> float:
    """CUDA: peak allocated since the reset; CPU (Linux): the process's resident high-water mark since the reset."""
    import resource

    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
