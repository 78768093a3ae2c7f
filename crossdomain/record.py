"""The unit record: one versioned dataclass for a unit's result, read and written by everyone.

The runner writes it (``<out>/units/<unit_id>.json``), ``results.csv``, the report and the tests
read it back through :meth:`UnitRecord.load` and flatten it with :meth:`UnitRecord.row`; nothing
else parses unit JSON. A file with an unknown ``schema_version`` is refused; version 1 files
(two init arms, ``data_dirs`` inside ``unit``), version 2 files (no ``precision``), version 3 files (execution
settings inside ``config``), version 4 files (no ``resumed_from``: they ran in one go) and version 5 files (no
``eval_precision``: dev evaluation and test predictions ran in the training precision) are upgraded when read.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from crossdomain.atomic import atomic_write_json

SCHEMA_VERSION = 6
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6)
# how a unit ran, in the training config until version 3 (read from there for older files)
EXECUTION_KEYS = ("threads", "eval_batch_size", "bf16")

ROW_COLUMNS = ["unit_id", "status", "task", "domain", "fold", "init", "baseline", "role", "seed", "mapping_seed",
               "model", "mapping", "lr",
               "primary_metric", "primary", "accuracy", "macro_f1", "mcc", "train", "dev", "test", "steps",
               "best_step", "trainable_parameters", "train_seconds", "wall_seconds", "peak_memory_mb", "device",
               "precision", "error"]


class RecordError(ValueError):
    """A file in ``units/`` that is not a readable unit record; the message names the file."""


@dataclass(frozen=True)
class TrainedSpec:
    """What a fine-tuned unit is: everything that changes its result, hashed into its id."""

    task: str
    task_version: str
    fold: int
    init: str  # the canonical arm spec, e.g. "pretrained-layers:k=3"
    seed: int
    mapping_seed: int
    model: str
    mapping: str
    train: dict  # the hyper-parameters that change the result (TrainConfig.identity())

    @property
    def arm(self) -> str:
        return self.init

    @property
    def lr(self) -> float | None:
        return self.train.get("lr")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BaselineSpec:
    """What a baseline unit is: a reference model fitted on the same (subsampled, truncated) splits as the arms."""

    task: str
    task_version: str
    fold: int
    baseline: str  # e.g. "kmer-logreg"
    data: dict  # the split sizes and truncation it shares with the arms
    baseline_version: int = 1  # in the identity (and so the id) from 2 on

    @property
    def arm(self) -> str:
        return self.baseline

    @property
    def lr(self) -> None:
        return None

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        if self.baseline_version == 1:
            del data["baseline_version"]
        return data


UnitSpec = TrainedSpec | BaselineSpec


def spec_from_json(data, origin: str = "<record>") -> UnitSpec:
    """The typed unit spec of a record's ``unit`` mapping (a baseline's names its ``baseline``)."""
    if isinstance(data, (TrainedSpec, BaselineSpec)):
        return data
    if not isinstance(data, dict):
        raise RecordError(f"{origin}: unit: expected a mapping, got {type(data).__name__}")
    cls = BaselineSpec if "baseline" in data else TrainedSpec
    fields = dataclasses.fields(cls)
    names = {f.name for f in fields}
    unknown = sorted(set(data) - names)
    missing = [f.name for f in fields if f.default is dataclasses.MISSING and f.name not in data]
    if unknown or missing:
        kind = "baseline" if cls is BaselineSpec else "trained"
        raise RecordError(f"{origin}: unit of a {kind} unit: " + "; ".join(
            part for part in (f"unknown key(s) {unknown}" if unknown else "",
                              f"missing key(s) {missing}" if missing else "") if part))
    return cls(**data)


@dataclass
class UnitRecord:
    unit_id: str
    unit: UnitSpec  # the identity (a mapping is read into its type)
    status: str  # "ok" or "failed"
    config: dict = field(default_factory=dict)  # the full training config
    execution: dict = field(default_factory=dict)  # threads, evaluation batch size, bf16, device (not in the id)
    data_dirs: list = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    task: dict = field(default_factory=dict)  # name, version, checksum, sources, labels, primary metric, split
    model: dict = field(default_factory=dict)  # name, location, parameters, embedding rows
    init: dict = field(default_factory=dict)  # arm spec, what the arm did, trainable/frozen parameter counts
    mapping: dict = field(default_factory=dict)  # symbol → token and original vocabulary id
    sizes: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # test metrics; "primary" is the task's own
    curve: list = field(default_factory=list)  # dev evaluations: step, seconds, dev, dev_loss, train_loss
    best_step: int | None = None
    steps: int | None = None
    train_seconds: float | None = None
    wall_seconds: float | None = None
    peak_memory_mb: float | None = None
    started_at: str | None = None
    finished_at: str | None = None
    device: str | None = None
    precision: str | None = None  # what the unit trained in: "fp32" or "bf16"; None for baselines
    eval_precision: str | None = None  # what its dev curve and test predictions were computed in
    resumed_from: list = field(default_factory=list)  # the checkpoint step(s) training resumed from after interruptions
    libraries: dict = field(default_factory=dict)
    git: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)  # post-training hook → what it left in units/<unit_id>/
    roles: list = field(default_factory=lambda: ["main"])  # "main" and/or "selection" (an lr-selection unit)
    selection: dict = field(default_factory=dict)  # main units under lr selection: grid, chosen lr, selection units
    schema_version: int = SCHEMA_VERSION
    path: Path | None = field(default=None, compare=False, repr=False)  # where it was read from (not saved)

    def __post_init__(self):
        self.unit = spec_from_json(self.unit, str(self.path or self.unit_id))

    @property
    def is_baseline(self) -> bool:
        return isinstance(self.unit, BaselineSpec)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def train_limit(self) -> int | None:
        """The training-set size it was configured with (the data axis; 0 = the whole split)."""
        return (self.config or {}).get("max_train_examples")

    @property
    def predictions_path(self) -> Path | None:
        return self.path.with_name(f"{self.unit_id}.predictions.csv") if self.path else None

    def row(self) -> dict:
        """The flat view of a record: one row of results.csv and of the report's unit table."""
        unit, metrics, sizes = self.unit, self.metrics or {}, self.sizes or {}
        row = {
            "unit_id": self.unit_id, "status": self.status, "error": self.error,
            **{k: getattr(unit, k, None) for k in ("task", "fold", "init", "seed", "mapping_seed", "model", "mapping")},
            "baseline": getattr(unit, "baseline", None), "role": "+".join(self.roles), "lr": unit.lr,
            "domain": unit.task.split("/")[0],
            **{k: metrics.get(k) for k in ("primary_metric", "primary", "accuracy", "macro_f1", "mcc")},
            **{k: sizes.get(k) for k in ("train", "dev", "test")},
            "trainable_parameters": (self.init or {}).get("trainable_parameters"),
            "steps": self.steps, "best_step": self.best_step, "train_seconds": self.train_seconds,
            "wall_seconds": self.wall_seconds, "peak_memory_mb": self.peak_memory_mb, "device": self.device,
            "precision": self.precision,
        }
        return {column: row.get(column) for column in ROW_COLUMNS}

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data.pop("path")
        data["unit"] = self.unit.to_json()
        return {"schema_version": data.pop("schema_version"), **data}

    def write(self, path: Path) -> None:
        atomic_write_json(path, self.to_json())

    @classmethod
    def from_json(cls, data, origin: str = "<record>") -> "UnitRecord":
        if not isinstance(data, dict) or "unit_id" not in data or "unit" not in data:
            raise RecordError(f"{origin}: not a crossdomain unit record (no unit_id/unit keys)")
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise RecordError(f"{origin}: unit record schema_version {version!r} is not one this crossdomain reads "
                              f"({', '.join(map(str, READABLE_VERSIONS))}); upgrade crossdomain or re-run the unit")
        data = dict(data)
        if version == 1:
            data = _upgrade_v1(data)
        if version in (1, 2):
            data = _upgrade_v2(data)
        if version in (1, 2, 3):
            data = _upgrade_v3(data)
        if version in (1, 2, 3, 4, 5):
            data.setdefault("eval_precision", data.get("precision"))  # evaluation then ran in the training precision
        data["schema_version"] = SCHEMA_VERSION
        names = {f.name for f in dataclasses.fields(cls)} - {"path"}
        unknown = sorted(set(data) - names)
        if unknown:
            raise RecordError(f"{origin}: unknown unit record key(s) {unknown} for schema_version {version}")
        data["unit"] = spec_from_json(data["unit"], origin)
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> "UnitRecord":
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RecordError(f"{path}: unreadable unit record ({error.__class__.__name__}: {error})") from None
        record = cls.from_json(data, str(path))
        record.path = path
        return record


def _upgrade_v1(data: dict) -> dict:
    """Version 1: ``data_dirs`` lived inside ``unit``, the arm was a bare ``init`` name with no details."""
    unit = dict(data["unit"])
    data["data_dirs"] = unit.pop("data_dirs", [])
    data["unit"] = unit
    data.setdefault("init", {"spec": unit.get("init")})
    return data


def _upgrade_v2(data: dict) -> dict:
    """Before version 3 the precision was not recorded; bf16 then acted on CUDA only, so a unit trained
    on a CPU ran in fp32. On CUDA it is unknown (None)."""
    unit = data.get("unit")
    trained = not (isinstance(unit, dict) and unit.get("baseline")) and data.get("status") == "ok"
    data.setdefault("precision", "fp32" if trained and data.get("device") == "cpu" else None)
    return data


def _upgrade_v3(data: dict) -> dict:
    """Before version 4 the execution settings sat in the training config (and saved weights were asked for
    there too, as ``save_model``, now only the ``save-model`` hook)."""
    config = dict(data.get("config") or {})
    data["execution"] = {key: config.pop(key) for key in EXECUTION_KEYS if key in config}
    config.pop("save_model", None)
    data["config"] = config
    return data


def load_records(units_dir: Path, on_error=None) -> list[UnitRecord]:
    """Every ``*.json`` record under ``units_dir``; a bad file goes to ``on_error(RecordError)`` or raises."""
    records = []
    for path in sorted(Path(units_dir).glob("*.json")):
        try:
            records.append(UnitRecord.load(path))
        except RecordError as error:
            if on_error is None:
                raise
            error.path = path  # which file, for readers that account for every file (results.csv, report)
            on_error(error)
    return records
