"""A unit: one (task, fold, init, seed, mapping seed, model, config), run start to finish on its own.

A unit carries everything needed to run it, so an executor could ship it to another process
or machine. :func:`run_unit` returns the result record that is written, atomically, as
``<out>/units/<unit_id>.json`` (plus ``<unit_id>.predictions.csv`` for bootstrapping).
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import os
import resource
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
from sklearn.model_selection import train_test_split
from transformers import set_seed

from crossdomain import provenance
from crossdomain.config import TrainConfig
from crossdomain.data import TaskData, prepare_task_cached
from crossdomain.mapping import build_mapping, encode
from crossdomain.models import build_model, load_tokenizer, prune_vocabulary, resolve_model
from crossdomain.tasks import get_task
from crossdomain.trainer import EncodedSplit, device_name, train_and_evaluate

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Unit:
    task: str
    fold: int
    init: str
    seed: int
    mapping_seed: int
    model: str
    mapping: str
    train: TrainConfig
    data_dirs: tuple[str, ...] = ()

    def identity(self) -> dict:
        """Everything that changes the result (not where the data was found)."""
        return {
            "task": self.task, "task_version": get_task(self.task).version, "fold": self.fold, "init": self.init,
            "seed": self.seed, "mapping_seed": self.mapping_seed, "model": self.model, "mapping": self.mapping,
            "train": dataclasses.asdict(self.train),
        }

    @property
    def unit_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:10]
        slug = self.task.replace("/", "-")
        return f"{slug}__fold{self.fold}__{self.init}__seed{self.seed}__map{self.mapping_seed}__{digest}"


def subsample(indices: tuple[int, ...], labels: list[int], limit: int, seed: int) -> list[int]:
    """A stratified, seeded subset of at most ``limit`` indices (all of them when limit is 0)."""
    if not limit or limit >= len(indices):
        return list(indices)
    strata = [labels[i] for i in indices]
    try:
        kept, _ = train_test_split(list(indices), train_size=limit, stratify=strata, random_state=seed)
    except ValueError:  # a class too rare to stratify at this size
        kept, _ = train_test_split(list(indices), train_size=limit, random_state=seed)
    return sorted(kept)


def encode_split(data: TaskData, indices: list[int], symbol_ids: dict[str, int], cls_id: int, sep_id: int,
                 max_length: int) -> EncodedSplit:
    rule = data.task.length.truncation
    return EncodedSplit(
        input_ids=[encode(data.records[i].symbols, symbol_ids, cls_id, sep_id, max_length, rule) for i in indices],
        labels=[data.label_ids[i] for i in indices],
        ids=[data.records[i].id for i in indices],
    )


def _remap(split: EncodedSplit, remap: dict[int, int]) -> EncodedSplit:
    return EncodedSplit([[remap[t] for t in seq] for seq in split.input_ids], split.labels, split.ids)


def _peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def execute(unit: Unit, work_dir: str) -> dict:
    """Run one unit; returns the result fields (raises on failure)."""
    cfg = unit.train
    data = prepare_task_cached(unit.task, unit.data_dirs)
    if unit.fold >= len(data.folds):
        raise ValueError(f"task {unit.task!r} has {len(data.folds)} fold(s); fold {unit.fold} does not exist")
    fold = data.folds[unit.fold]
    source = resolve_model(unit.model)
    tokenizer = load_tokenizer(source)
    mapping = build_mapping(unit.mapping, data.alphabet, tokenizer, unit.mapping_seed)
    symbol_ids = mapping.ids()
    split_seed = data.task.split.seed
    index_sets = {
        "train": subsample(fold.train, data.label_ids, cfg.max_train_examples, split_seed),
        "dev": subsample(fold.dev, data.label_ids, cfg.max_eval_examples, split_seed),
        "test": subsample(fold.test, data.label_ids, cfg.max_eval_examples, split_seed),
    }
    splits = {name: encode_split(data, idx, symbol_ids, tokenizer.cls_token_id, tokenizer.sep_token_id, cfg.max_length)
              for name, idx in index_sets.items()}
    pad_id = tokenizer.pad_token_id

    set_seed(unit.seed)  # before the model exists: the classifier head (and the random arm) are reproducible
    model = build_model(source, unit.init, num_labels=len(data.task.labels))
    total_parameters = sum(p.numel() for p in model.parameters())
    vocab_rows = model.get_input_embeddings().num_embeddings
    if cfg.prune_vocab:
        remap = prune_vocabulary(model, [tokenizer.cls_token_id, tokenizer.sep_token_id, pad_id, *symbol_ids.values()])
        splits = {name: _remap(split, remap) for name, split in splits.items()}
        pad_id = remap[pad_id]
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()

    outcome = train_and_evaluate(model, splits["train"], splits["dev"], splits["test"], cfg, unit.seed,
                                 data.task.primary_metric, pad_id, work_dir)
    metrics = dict(outcome.test_metrics)
    metrics["primary_metric"] = data.task.primary_metric
    metrics["primary"] = metrics[data.task.primary_metric]
    return {
        "task": {
            "name": data.task.name, "version": data.task.version, "checksum": data.checksum,
            "sources": data.stats["sources"], "labels": data.task.labels, "primary_metric": data.task.primary_metric,
            "split": dataclasses.asdict(data.task.split),
        },
        "model": {
            "name": unit.model, "location": source.location, "parameters": total_parameters,
            "embedding_rows": vocab_rows, "embedding_rows_trained": model.get_input_embeddings().num_embeddings,
        },
        "mapping": mapping.to_json(),
        "sizes": {name: len(split) for name, split in splits.items()}
                 | {"train_available": len(fold.train), "dev_available": len(fold.dev), "test_available": len(fold.test)},
        "metrics": metrics,
        "curve": outcome.curve,
        "best_step": outcome.best_step,
        "steps": outcome.steps,
        "train_seconds": round(outcome.train_seconds, 3),
        "peak_memory_mb": _peak_memory_mb(),
        "_predictions": (splits["test"].ids, outcome.test_labels, outcome.test_predictions, outcome.test_probabilities,
                         data.task.labels),
    }


def run_unit(unit: Unit, out_dir: Path) -> dict:
    """Run a unit and write its result file, recording a failure instead of raising it."""
    started = time.perf_counter()
    record = {
        "schema_version": SCHEMA_VERSION,
        "unit_id": unit.unit_id,
        "unit": unit.identity() | {"data_dirs": list(unit.data_dirs)},
        "config": dataclasses.asdict(unit.train),
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        with tempfile.TemporaryDirectory(prefix="crossdomain-") as work_dir:
            record |= execute(unit, work_dir)
        record["status"], record["error"] = "ok", None
    except Exception as error:  # noqa: BLE001 - a failed unit must not stop the grid
        record["status"] = "failed"
        record["error"] = f"{error.__class__.__name__}: {error}"
        record["traceback"] = traceback.format_exc()
    record["wall_seconds"] = round(time.perf_counter() - started, 3)
    record["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    record["device"] = device_name()
    record["libraries"] = provenance.library_versions()
    record["git"] = provenance.git_commit()
    record["machine"] = provenance.machine()
    predictions = record.pop("_predictions", None)
    units_dir = out_dir / "units"
    units_dir.mkdir(parents=True, exist_ok=True)
    if predictions is not None:
        write_predictions(units_dir / f"{unit.unit_id}.predictions.csv", *predictions)
    atomic_write_json(units_dir / f"{unit.unit_id}.json", record)
    return record


def write_predictions(path: Path, ids, labels, predictions, probabilities, label_names) -> None:
    partial = path.with_suffix(".part")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "label", "prediction", *[f"p_{name}" for name in label_names]])
        for row in zip(ids, labels, predictions, probabilities):
            writer.writerow([row[0], label_names[row[1]], label_names[row[2]], *row[3]])
    os.replace(partial, path)


def atomic_write_json(path: Path, data: dict) -> None:
    """Write to a temporary file beside ``path`` and rename: a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, default=str)
    os.replace(temporary, path)
