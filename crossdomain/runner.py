"""Expand a suite into units and run them: resumable, failure-isolated, one file per unit.

Re-running on the same output folder skips every unit whose result file says ``ok`` (units
that failed are tried again). ``results.csv`` is rebuilt from the unit files after each unit,
so an interrupted run loses nothing already finished.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import pandas as pd
from tqdm import tqdm

from crossdomain import provenance
from crossdomain.config import SuiteConfig, to_yaml
from crossdomain.models import INITS
from crossdomain.registry import did_you_mean
from crossdomain.tasks import get_task
from crossdomain.units import Unit, atomic_write_json, run_unit

RESULT_COLUMNS = ["unit_id", "status", "task", "fold", "init", "seed", "mapping_seed", "model", "primary_metric",
                  "primary", "accuracy", "macro_f1", "mcc", "train", "dev", "test", "steps", "best_step",
                  "train_seconds", "wall_seconds", "peak_memory_mb", "device", "error"]


def task_folds(task_name: str, wanted: list[int]) -> list[int]:
    task = get_task(task_name)
    count = task.split.folds * task.split.repeats if task.split.kind == "kfold" else 1
    return [f for f in wanted if f < count] if wanted and count > 1 else list(range(count))


def expand_units(suite: SuiteConfig, data_dirs: tuple[str, ...] = ()) -> list[Unit]:
    """Units in an order that keeps the pair (pretrained, random) of one seed adjacent."""
    for init in suite.inits:
        if init not in INITS:
            raise ValueError(f"suite {suite.name!r}: unknown init {init!r}.{did_you_mean(init, list(INITS))}")
    units = []
    for task in suite.tasks:
        train = suite.train_for(task)
        for fold in task_folds(task, suite.folds):
            for mapping_seed in suite.mapping_seeds:
                for seed in suite.seeds:
                    for init in suite.inits:
                        units.append(Unit(task, fold, init, seed, mapping_seed, suite.model, suite.mapping, train, data_dirs))
    return units


def load_unit_records(out_dir: Path) -> list[dict]:
    records = []
    for path in sorted((out_dir / "units").glob("*.json")):
        with open(path, encoding="utf-8") as handle:
            records.append(json.load(handle))
    return records


def result_row(record: dict) -> dict:
    unit, metrics, sizes = record.get("unit", {}), record.get("metrics", {}), record.get("sizes", {})
    row = {
        "unit_id": record.get("unit_id"), "status": record.get("status"), "error": record.get("error"),
        **{k: unit.get(k) for k in ("task", "fold", "init", "seed", "mapping_seed", "model")},
        **{k: metrics.get(k) for k in ("primary_metric", "primary", "accuracy", "macro_f1", "mcc")},
        **{k: sizes.get(k) for k in ("train", "dev", "test")},
        **{k: record.get(k) for k in ("steps", "best_step", "train_seconds", "wall_seconds", "peak_memory_mb", "device")},
    }
    return {column: row.get(column) for column in RESULT_COLUMNS}


def write_results_csv(out_dir: Path) -> pd.DataFrame:
    frame = pd.DataFrame([result_row(r) for r in load_unit_records(out_dir)], columns=RESULT_COLUMNS)
    partial = out_dir / ".results.csv.part"
    frame.to_csv(partial, index=False)
    partial.replace(out_dir / "results.csv")
    return frame


def finished_ok(out_dir: Path, unit: Unit) -> bool:
    path = out_dir / "units" / f"{unit.unit_id}.json"
    if not path.exists():
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle).get("status") == "ok"
    except (json.JSONDecodeError, OSError):
        return False


def run_suite(suite: SuiteConfig, out_dir: Path, data_dirs: tuple[str, ...] = (), progress: bool = True,
              on_unit_done: Callable[[dict], None] | None = None) -> pd.DataFrame:
    out_dir.mkdir(parents=True, exist_ok=True)
    units = expand_units(suite, data_dirs)
    (out_dir / "suite.yaml").write_text(to_yaml(suite), encoding="utf-8")
    atomic_write_json(out_dir / "run.json", {
        "suite": dataclasses.asdict(suite), "units": [u.unit_id for u in units],
        "git": provenance.git_commit(), "libraries": provenance.library_versions(), "machine": provenance.machine(),
    })
    todo = [u for u in units if not finished_ok(out_dir, u)]
    if len(todo) < len(units):
        tqdm.write(f"resuming: {len(units) - len(todo)} of {len(units)} units already finished in {out_dir}")
    bar = tqdm(todo, desc=f"suite {suite.name}", unit="unit", disable=not progress)
    for unit in bar:
        bar.set_postfix_str(f"{unit.task} {unit.init} seed {unit.seed}")
        record = run_unit(unit, out_dir)
        if record["status"] != "ok":
            tqdm.write(f"unit {unit.unit_id} failed: {record['error']}")
        write_results_csv(out_dir)
        if on_unit_done:
            on_unit_done(record)
    return write_results_csv(out_dir)
