"""Expand a suite into units and run them: validated first, resumable, failure-isolated, one file per unit.

The whole request is checked before any unit starts (:func:`crossdomain.run.suites.validate_suite`).
Re-running on the same output folder skips every unit whose result file says ``ok`` (units that
failed, or whose file is unreadable, are run again). ``results.csv`` is rewritten after each unit
from rows held in memory, so an interrupted run loses nothing already finished.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from crossdomain.atomic import atomic_write_text
from crossdomain.config import SuiteConfig, to_yaml
from crossdomain.data.tasks import get_task
from crossdomain.record import ROW_COLUMNS, RecordError, UnitRecord
from crossdomain.run import provenance
from crossdomain.run.plan import Plan, PlannedUnit, load_run_records
from crossdomain.run.suites import task_folds, validate_suite
from crossdomain.run.units import BaselineUnit, TrainedUnit, Unit


def expand_units(suite: SuiteConfig, data_dirs: tuple[str, ...] = ()) -> list[Unit]:
    """The main grid, in an order that keeps the arms of one (task, fold, mapping seed, seed) adjacent.

    Under an ``lr_grid`` these units still carry the suite's lr: :func:`run_suite` replaces it with each
    arm's selected lr once the selection units are done.
    """
    from crossdomain.inits import canonical_init

    arms = [canonical_init(spec) for spec in suite.inits]
    units = []
    for task, model, train in task_conditions(suite):
        for fold in task_folds(task, suite.folds):
            for mapping_seed in suite.mapping_seeds:
                for seed, arms_of_seed in seeds_and_arms(suite, task, arms):
                    for arm in arms_of_seed:
                        units.append(TrainedUnit(task=task, fold=fold, init=arm, seed=seed,
                                                 mapping_seed=mapping_seed, model=model, mapping=suite.mapping,
                                                 train=train, execution=suite.execution, data_dirs=data_dirs,
                                                 hooks=tuple(suite.hooks)))
    return units


def seeds_and_arms(suite: SuiteConfig, task: str, arms: list[str]) -> list[tuple[int, list[str]]]:
    """Each seed of a task with the arms that run it (``task_arm_seeds`` gives some arms other seeds), in the order
    the seeds first appear."""
    by_arm = {arm: suite.seeds_for(task, arm) for arm in arms}
    seeds = list(dict.fromkeys(seed for arm in arms for seed in by_arm[arm]))
    return [(seed, [arm for arm in arms if seed in by_arm[arm]]) for seed in seeds]


@dataclass
class Expansion:
    """A suite's units, expanded once: baselines, lr-selection units by (task, arm, model, size) and lr, and the
    main grid (which still carries the suite's lr where an arm's lr is chosen on dev)."""

    baselines: list[BaselineUnit]
    selection: dict[tuple, dict[float, list[TrainedUnit]]]
    main: list[TrainedUnit]

    @property
    def selection_units(self) -> list[TrainedUnit]:
        return flatten_selection(self.selection)


def expand(suite: SuiteConfig, data_dirs: tuple[str, ...] = ()) -> Expansion:
    from crossdomain.run import selection

    main = expand_units(suite, data_dirs)
    return Expansion(baseline_units(suite, data_dirs), selection.selection_units(suite, main), main)


def task_conditions(suite: SuiteConfig):
    """(task, model, training config) for each task, model of the model axis and size of the data axis."""
    for task in suite.tasks:
        for model in suite.model_axis():
            for size in suite.train_size_axis():
                train = suite.train_for(task)
                yield task, model, train if size is None else dataclasses.replace(
                    train, max_train_examples=size, nested_train_subsets=size > 0)


def baseline_units(suite: SuiteConfig, data_dirs: tuple[str, ...] = ()) -> list[Unit]:
    """One unit per task, fold and baseline of the task's type: baselines see the same items whatever the seed."""
    from crossdomain.baselines import BASELINES

    trains = {(task, train.max_train_examples): train for task, _, train in task_conditions(suite)}  # not per model
    return [BaselineUnit(task=task, fold=fold, train=train, execution=suite.execution, data_dirs=data_dirs, baseline=name,
                         baseline_version=BASELINES.get(name).version)
            for (task, _), train in trains.items() for fold in task_folds(task, suite.folds) for name in suite.baselines
            if get_task(task).type in BASELINES.get(name).task_types]


def load_unit_records(out_dir: Path) -> list[UnitRecord]:
    """Every readable unit record of a run, with its planned roles; unreadable files are named in a warning."""
    return load_run_records(out_dir, on_error=lambda error: warnings.warn(str(error), stacklevel=2))


def finished_ok(out_dir: Path, unit: Unit) -> bool:
    path = out_dir / "units" / f"{unit.unit_id}.json"
    if not path.exists():
        return False
    try:
        return UnitRecord.load(path).ok
    except RecordError as error:
        warnings.warn(f"{error}; the unit will be run again", stacklevel=2)
        return False


def read_unit_files(out_dir: Path) -> tuple[list[UnitRecord], list[RecordError]]:
    """(the readable records, a RecordError for each unreadable file) of a run; each unreadable file is named in
    a warning."""
    unreadable = []

    def note(error):
        unreadable.append(error)
        warnings.warn(str(error), stacklevel=3)

    return load_run_records(out_dir, on_error=note), unreadable


class ResultsTable:
    """``results.csv``: one row per unit file, kept in memory and rewritten atomically after each unit. A file
    that is not a readable record gets a row too (status ``unreadable``, the reason in ``error``)."""

    def __init__(self, out_dir: Path, loaded: tuple[list, list] | None = None):
        """``loaded``: (records, RecordErrors) of ``out_dir/units`` when the caller has read them already;
        otherwise they are read here and each unreadable file is named in a warning."""
        self.path = out_dir / "results.csv"
        records, unreadable = loaded if loaded is not None else read_unit_files(out_dir)
        self.rows = {e.path.stem: {"unit_id": e.path.stem, "status": "unreadable", "error": str(e)} for e in unreadable}
        self.rows.update({record.unit_id: record.row() for record in records})
        self.added = 0  # units this process ran

    def add(self, record: UnitRecord) -> None:
        self.added += 1
        self.refresh(record)

    def refresh(self, record: UnitRecord) -> None:
        self.rows[record.unit_id] = record.row()
        self.write()

    def frame(self):
        import pandas as pd

        return pd.DataFrame([self.rows[k] for k in sorted(self.rows)], columns=ROW_COLUMNS)

    def write(self):
        frame = self.frame()
        atomic_write_text(self.path, frame.to_csv(index=False))
        return frame


def run_units(units: list[Unit], out_dir: Path, results: ResultsTable, label: str, progress: bool,
              on_unit_done: Callable[[UnitRecord], None] | None, executor=None) -> None:
    """Run the units not yet finished through the executor; this (coordinating) process updates results.csv."""
    from tqdm import tqdm

    from crossdomain.executors import make_executor

    executor = executor or make_executor("sequential")
    todo = [u for u in units if not finished_ok(out_dir, u)]
    if len(todo) < len(units):
        tqdm.write(f"{label}: {len(units) - len(todo)} of {len(units)} units already finished in {out_dir}")
    bar = tqdm(total=len(todo), desc=label, unit="unit", disable=not progress)

    def finished(record: UnitRecord) -> None:
        bar.update(1)
        bar.set_postfix_str(f"{record.unit.task} {record.unit.arm}")
        if not record.ok:
            tqdm.write(f"unit {record.unit_id} failed: {record.error}")
        results.add(record)
        if on_unit_done:
            on_unit_done(record)

    try:
        executor.run(todo, out_dir, finished)
    finally:
        bar.close()


def plan_entry(unit: Unit, phase: str) -> PlannedUnit:
    return PlannedUnit(id=unit.unit_id, task=unit.task, arm=unit.arm, phase=phase, roles=tuple(unit.roles),
                       model=getattr(unit, "model", None), train_limit=unit.train.max_train_examples)


def awaiting_selection(unit: TrainedUnit, reuses_selection_unit: bool) -> PlannedUnit:
    """A main unit whose id is not known yet: it depends on the lr its arm's selection units will choose.

    The first main unit of each arm on each selection fold (first mapping seed and seed) will be one of its
    selection units.
    """
    return PlannedUnit(id=None, task=unit.task, arm=unit.init, phase="main", awaiting="lr selection",
                       reuses_selection_unit=reuses_selection_unit, model=unit.model,
                       train_limit=unit.train.max_train_examples)


def write_plan(out_dir: Path, suite: SuiteConfig, baselines: list[Unit], selection_units: list[Unit],
               main_units: list[Unit], selections: dict | None = None, executor=None) -> Plan:
    """``run.json``: the request, the execution settings and every planned unit with its phase and roles.

    Before the lr selection has finished, main units under an ``lr_grid`` are listed without an id
    (``awaiting: lr selection``), since their id includes the lr still to be chosen.
    """
    from crossdomain.inits import canonical_init

    pending = selection_units and selections is None
    entries = [plan_entry(u, "baseline") for u in baselines] + [plan_entry(u, "selection") for u in selection_units]
    selected_on = {(u.task, u.init, u.fold, u.mapping_seed, u.seed) for u in selection_units}
    entries += [awaiting_selection(u, (u.task, u.init, u.fold, u.mapping_seed, u.seed) in selected_on)
                if pending and isinstance(u, TrainedUnit) else plan_entry(u, "main") for u in main_units]
    plan = Plan(
        units=entries, arms=list(dict.fromkeys(u.init for u in main_units if isinstance(u, TrainedUnit))),
        contrasts=[tuple(canonical_init(a) for a in pair) for pair in suite.contrasts],
        full_arm=suite.full_arm, reference_arm=suite.reference_arm, baselines=list(suite.baselines),
        suite=dataclasses.asdict(suite),
        selection={selection_label(suite, key): s.to_json() for key, s in (selections or {}).items()},
        executor=executor.describe() if executor is not None else {"executor": "sequential"},
        git=provenance.git_commit(), libraries=provenance.library_versions(), machine=provenance.machine())
    plan.write(out_dir)
    return plan


def selection_label(suite: SuiteConfig, key: tuple) -> str:
    """``task|arm``, with the model and training size when the suite has those axes."""
    task, arm, model, size = key
    return "|".join([task, arm, *([model] if len(suite.model_axis()) > 1 else []),
                     *([f"n={size}"] if len(suite.train_size_axis()) > 1 else [])])


def select_learning_rates(suite: SuiteConfig, expansion: Expansion, out_dir: Path, results: ResultsTable,
                          progress: bool, on_unit_done, executor=None) -> tuple[list[Unit], dict]:
    """Run the lr-selection units, then give each main unit its arm's chosen lr."""
    from crossdomain.run import selection

    plan, units = expansion.selection, expansion.main
    if not plan:
        return units, {}
    label = f"{suite.name} lr selection"
    selecting = flatten_selection(plan)
    run_units(selecting, out_dir, results, label, progress, on_unit_done, executor)
    await_other_runners(selecting, out_dir, label,
                        lambda left: run_units(left, out_dir, results, label, progress, on_unit_done, executor))
    records = {r.unit_id: r for r in load_unit_records(out_dir)}
    chosen = {key: selection.choose(key[0], key[1], by_lr, records) for key, by_lr in plan.items()}
    selection_ids = {u.unit_id for u in selecting}
    main = []
    for unit in units:
        picked = chosen.get(selection.selection_key(unit))
        if picked is None:
            main.append(unit)
        elif picked.chosen_lr is None:
            warnings.warn(f"{unit.task} {unit.init}: every lr-selection unit failed; its main units are not run",
                          stacklevel=2)
        else:
            main.append(selection.apply(unit, picked, selection_ids))
    for unit in main:  # a main unit that is also a selection unit: the plan says so; its file stays as written
        record = records.get(unit.unit_id)
        if record is not None and record.roles != list(unit.roles):
            record.roles = list(unit.roles)
            results.refresh(record)
    return main, chosen


SELECTION_POLL_S = 60.0


def await_other_runners(units: list[Unit], out_dir: Path, label: str, run_here: Callable[[list[Unit]], None]) -> None:
    """Wait until every unit has a record, when another live runner on the same ``out_dir`` holds some of them.

    An lr chosen before the other runner's selection units finish would be chosen from part of the grid. A unit
    whose runner stopped without writing its record (its claim went stale) is run here, once.
    """
    import time

    from tqdm import tqdm

    from crossdomain.run.claims import live_claims

    run_here_already: set[str] = set()
    announced: list[str] = []
    while True:
        missing = [u for u in units if not (out_dir / "units" / f"{u.unit_id}.json").exists()]
        held = live_claims(out_dir / "units")
        waiting = [u.unit_id for u in missing if u.unit_id in held]
        if waiting:
            if waiting != announced:
                tqdm.write(f"{label}: waiting for {len(waiting)} unit(s) another runner is training "
                           f"({', '.join(waiting)}), so that each lr is chosen from the whole grid")
                announced = waiting
            time.sleep(SELECTION_POLL_S)
            continue
        orphaned = [u for u in missing if u.unit_id not in run_here_already]
        if not orphaned:
            return
        run_here_already.update(u.unit_id for u in orphaned)
        run_here(orphaned)


def flatten_selection(plan: dict) -> list[Unit]:
    """The selection units of a :func:`crossdomain.run.selection.selection_units` plan, in plan order."""
    return [unit for by_lr in plan.values() for group in by_lr.values() for unit in group]


def prepare_output_dir(out_dir: Path) -> None:
    """Create ``out_dir`` and its ``units/`` and prove both writable, before any unit trains."""
    from crossdomain.atomic import writable_folder_problem
    from crossdomain.config import ConfigError

    for folder in (out_dir, out_dir / "units"):
        problem = writable_folder_problem(folder)
        if problem:
            named = "" if folder == out_dir else f"{folder} "
            raise ConfigError(f"--out {out_dir}: {named}{problem}")


def run_suite(suite: SuiteConfig, out_dir: Path, data_dirs: tuple[str, ...] = (), progress: bool = True,
              on_unit_done: Callable[[UnitRecord], None] | None = None, executor=None, until: str | None = None,
              allow_mixed_precision: bool = False):
    """Baselines, then lr selection (when the suite has a grid), then the main grid; returns results.csv's frame.
    ``until="selection"`` stops before the main grid, once the plan records each arm's chosen lr.
    Units that would train in a precision none of the run's finished units trained in are refused before the
    first of them starts (baselines train nothing) (:func:`crossdomain.run.provenance.refuse_mixed_precision`), unless
    ``allow_mixed_precision``."""
    from crossdomain.data.sources import check_data_dirs

    validate_suite(suite, check_resources=True)
    check_data_dirs(data_dirs)
    expansion = expand(suite, data_dirs)
    baselines, selecting = expansion.baselines, expansion.selection_units
    prepare_output_dir(out_dir)
    atomic_write_text(out_dir / "suite.yaml", to_yaml(suite))
    write_plan(out_dir, suite, baselines, selecting, expansion.main, executor=executor)
    loaded = read_unit_files(out_dir)  # once: for the environment checks and the results table
    warn_of_another_environment(loaded[0], out_dir)
    results = ResultsTable(out_dir, loaded)
    check_precision = not allow_mixed_precision and getattr(executor, "runs_here", True)

    def before_training(phase: list[Unit]) -> None:
        if check_precision:
            todo = [u for u in phase if isinstance(u, TrainedUnit) and not finished_ok(out_dir, u)]
            provenance.refuse_mixed_precision(loaded[0], todo, out_dir)

    run_units(baselines, out_dir, results, f"{suite.name} baselines", progress, on_unit_done, executor)
    before_training(selecting)
    units, selections = select_learning_rates(suite, expansion, out_dir, results, progress, on_unit_done, executor)
    write_plan(out_dir, suite, baselines, selecting, units, selections, executor)
    if until != "selection":
        before_training(units)
        run_units(units, out_dir, results, f"suite {suite.name}", progress, on_unit_done, executor)
    frame = ResultsTable(out_dir).write()  # re-read once at the end: other runners may have added units meanwhile
    frame.attrs["ran_here"] = results.added
    return frame


def warn_of_another_environment(records: list[UnitRecord], out_dir: Path) -> None:
    """A run resumed in another environment goes on (its units stay comparable in distribution), but says so: the
    new units will record it, and the report tallies versions and CPUs. ``records``: the run's finished units."""
    differences = provenance.differences_from(records)
    if differences:
        from tqdm import tqdm

        tqdm.write(f"note: this environment differs from the one {out_dir}'s finished units ran in: "
                   + "; ".join(differences) + " (pip install -e '.[pinned]' installs the versions the committed "
                   "runs recorded)")


def plan_dry_run(suite: SuiteConfig, out_dir: Path, data_dirs: tuple[str, ...], executor) -> None:
    """What the first submission would be (baselines and lr selection first; main units follow the selection)."""
    validate_suite(suite, check_resources=True)
    expansion = expand(suite, data_dirs)
    first = expansion.baselines + expansion.selection_units
    executor.run(first or expansion.main, out_dir, lambda record: None)
