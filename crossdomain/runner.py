"""Expand a suite into units and run them: validated first, resumable, failure-isolated, one file per unit.

The whole request is checked before any unit starts (:func:`crossdomain.suites.validate_suite`).
Re-running on the same output folder skips every unit whose result file says ``ok`` (units that
failed, or whose file is unreadable, are run again). ``results.csv`` is rewritten after each unit
from rows held in memory, so an interrupted run loses nothing already finished.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Callable

from crossdomain import provenance
from crossdomain.atomic import atomic_write_json, atomic_write_text
from crossdomain.config import SuiteConfig, to_yaml
from crossdomain.record import ROW_COLUMNS, RecordError, UnitRecord, load_records
from crossdomain.suites import task_folds, validate_suite
from crossdomain.units import Unit, run_unit


def expand_units(suite: SuiteConfig, data_dirs: tuple[str, ...] = ()) -> list[Unit]:
    """Units in an order that keeps the arms of one (task, fold, mapping seed, seed) adjacent."""
    from crossdomain.inits import canonical_init

    arms = [canonical_init(spec) for spec in suite.inits]
    units = []
    for task in suite.tasks:
        train = suite.train_for(task)
        for fold in task_folds(task, suite.folds):
            for mapping_seed in suite.mapping_seeds:
                for seed in suite.seeds:
                    for arm in arms:
                        units.append(Unit(task, fold, arm, seed, mapping_seed, suite.model, suite.mapping, train,
                                          data_dirs, tuple(suite.hooks)))
    return units


def load_unit_records(out_dir: Path) -> list[UnitRecord]:
    """Every readable unit record of a run; unreadable files are named in a warning and skipped."""
    return load_records(Path(out_dir) / "units", on_error=lambda error: warnings.warn(str(error), stacklevel=2))


def finished_ok(out_dir: Path, unit: Unit) -> bool:
    path = out_dir / "units" / f"{unit.unit_id}.json"
    if not path.exists():
        return False
    try:
        return UnitRecord.load(path).ok
    except RecordError as error:
        warnings.warn(f"{error}; the unit will be run again", stacklevel=2)
        return False


class ResultsTable:
    """``results.csv``: one row per unit file, kept in memory and rewritten atomically after each unit."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / "results.csv"
        self.rows = {record.unit_id: record.row() for record in load_unit_records(out_dir)}

    def add(self, record: UnitRecord) -> None:
        self.rows[record.unit_id] = record.row()
        self.write()

    def frame(self):
        import pandas as pd

        return pd.DataFrame([self.rows[k] for k in sorted(self.rows)], columns=ROW_COLUMNS)

    def write(self):
        frame = self.frame()
        atomic_write_text(self.path, frame.to_csv(index=False))
        return frame


def run_suite(suite: SuiteConfig, out_dir: Path, data_dirs: tuple[str, ...] = (), progress: bool = True,
              on_unit_done: Callable[[UnitRecord], None] | None = None):
    from tqdm import tqdm

    validate_suite(suite, check_resources=True)
    units = expand_units(suite, data_dirs)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "suite.yaml", to_yaml(suite))
    atomic_write_json(out_dir / "run.json", {
        "suite": dataclasses.asdict(suite), "arms": list(dict.fromkeys(u.init for u in units)),
        "units": [u.unit_id for u in units],
        "git": provenance.git_commit(), "libraries": provenance.library_versions(), "machine": provenance.machine(),
    })
    results = ResultsTable(out_dir)
    todo = [u for u in units if not finished_ok(out_dir, u)]
    if len(todo) < len(units):
        tqdm.write(f"resuming: {len(units) - len(todo)} of {len(units)} units already finished in {out_dir}")
    bar = tqdm(todo, desc=f"suite {suite.name}", unit="unit", disable=not progress)
    for unit in bar:
        bar.set_postfix_str(f"{unit.task} {unit.init} seed {unit.seed}")
        record = run_unit(unit, out_dir)
        if not record.ok:
            tqdm.write(f"unit {unit.unit_id} failed: {record.error}")
        results.add(record)
        if on_unit_done:
            on_unit_done(record)
    return results.write()
