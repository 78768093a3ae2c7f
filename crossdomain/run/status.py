"""``crossdomain status RUN_DIR``: how far a run is, from its plan (run.json), unit files and claims.

Units are counted per phase (baselines, lr selection, main grid), task and arm. Main units under an
``lr_grid`` have no id until their arm's lr is chosen; they count as pending ("awaiting selection").
The projection estimates each unfinished unit from the finished units of the same task and kind
(training or baseline), since a music unit and a promoters unit can differ twenty-fold, and where the plan names
the unit's model and training-set size, from those at the same point of the axes (a unit on 2000 sequences
costs several times one on 64).
"""
from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

from crossdomain.config import ConfigError
from crossdomain.record import load_records
from crossdomain.run.claims import live_claims
from crossdomain.run.plan import Plan, load_plan, with_planned_roles

PHASES = ("baseline", "selection", "main")
STATES = ("done", "failed", "running", "pending")


def planned_units(plan: Plan, records: dict) -> list[dict]:
    """The plan's unit entries; the first plans listed bare ids, whose task and arm come from the records."""
    entries = []
    for planned in plan.units:
        entry = planned.to_json()
        record = records.get(planned.id) if planned.task == "?" else None
        if record is not None:
            entry |= {"task": record.unit.task, "arm": record.unit.arm}
        if not planned.phase:
            entry["phase"] = "baseline" if entry["arm"] in plan.baselines else "main"
        entries.append(entry)
    return entries


def distinct_units(entries: list[dict]) -> dict:
    """The plan's entries with each unit once (for "all"): a main unit that is one of its arm's selection units
    counts among those; a main unit still awaiting lr selection (no id yet) is keyed by its place in the plan."""
    return {entry["id"] or ("awaiting", index): entry for index, entry in enumerate(entries)
            if not entry.get("reuses_selection_unit")}


def unit_state(entry: dict, records: dict, claims: dict) -> str:
    record = records.get(entry["id"]) if entry["id"] else None
    if record is not None:
        return "done" if record.ok else "failed"
    return "running" if entry["id"] in claims else "pending"


def seconds_estimator(records: dict):
    """(task, is_baseline, model, training-set limit) → typical wall seconds of a unit: the median of the finished
    units at that point of the axes, else of the task's units of that kind, else of all units of that kind."""
    by_point: dict[tuple, list[float]] = {}
    by_kind: dict[tuple[str, bool], list[float]] = {}
    for record in records.values():
        if record.ok and record.wall_seconds:
            kind = (record.unit.task, record.is_baseline)
            point = (*kind, getattr(record.unit, "model", None), record.train_limit)
            by_kind.setdefault(kind, []).append(unit_seconds(record))
            by_point.setdefault(point, []).append(unit_seconds(record))
    overall = {baseline: [s for (_, b), values in by_kind.items() if b == baseline for s in values]
               for baseline in (False, True)}

    def estimate(task: str, baseline: bool, model: str | None = None, train_limit: int | None = None) -> float | None:
        values = (by_point.get((task, baseline, model, train_limit)) if train_limit is not None else None) \
            or by_kind.get((task, baseline)) or overall[baseline]
        return statistics.median(values) if values else None

    return estimate


def run_status(run_dir: Path) -> str:
    """The status table; also rewrites results.csv from the unit files (the view of every runner together)."""
    plan = load_plan(run_dir)
    if plan is None:
        raise ConfigError(f"{run_dir}: no readable run.json (is this a crossdomain run folder?)")
    errors: list = []  # the unreadable files: named at the end of the status, and rows of results.csv
    loaded = with_planned_roles(load_records(Path(run_dir) / "units", on_error=errors.append), plan)
    records = {r.unit_id: r for r in loaded}
    claims = live_claims(Path(run_dir) / "units")
    from crossdomain.run.grid import ResultsTable

    ResultsTable(Path(run_dir), (loaded, errors)).write()
    entries = planned_units(plan, records)
    counts: dict[tuple[str, str, str], Counter] = {}
    for entry in entries:
        counts.setdefault((entry["phase"], entry["task"], entry["arm"]), Counter())[
            unit_state(entry, records, claims)] += 1
    distinct = {key: (unit_state(entry, records, claims), entry) for key, entry in distinct_units(entries).items()}
    total = Counter(state for state, _ in distinct.values())

    header = f"{'phase':<11}{'task':<24}{'arm':<26}" + "".join(f"{s:>9}" for s in STATES)
    lines = [header]
    for (phase, task, arm), c in sorted(counts.items(), key=lambda item: (PHASES.index(item[0][0]), item[0][1:])):
        lines.append(f"{phase:<11}{task:<24}{arm:<26}" + "".join(f"{c[s]:>9}" for s in STATES))
    lines.append(f"{'all (distinct units)':<61}" + "".join(f"{total[s]:>9}" for s in STATES))
    awaiting = sum(1 for _, entry in distinct.values() if entry.get("awaiting"))
    if awaiting:
        lines.append(f"{awaiting} further main units are pending until the lr selection of their arm is finished "
                     "(their ids include the chosen lr; each arm's first main unit is one of its selection units)")
    lines += outside_the_plan(loaded, entries)
    lines += resumable(Path(run_dir) / "units", records)
    lines += projection(records, distinct, plan)
    if total["pending"] or total["failed"]:
        lines += precision_here(loaded, plan)
    lines += [f"not a unit record (left out above; its unit counts as pending): {error}" for error in errors]
    return "\n".join(lines)


def precision_here(records: list, plan: Plan) -> list[str]:
    """A line where the units left would train here in a precision none of the finished ones did (which `run`
    refuses without --allow-mixed-precision)."""
    from crossdomain.config import ExecutionConfig, build
    from crossdomain.run.provenance import precision_conflict

    execution = build(ExecutionConfig, plan.suite.get("execution") or {}, "run.json: suite.execution")
    conflict = precision_conflict(records, execution)
    if not conflict:
        return []
    return [f"precision: the finished trained units ran {conflict['theirs']}, but the units left would train in "
            f"{conflict['here']} here ({conflict['reason']}); `crossdomain run` refuses to add them unless "
            f"--allow-mixed-precision ({conflict['remedy']})"]


def outside_the_plan(records: list, entries: list[dict]) -> list[str]:
    """Finished unit files the plan does not list: the units of an earlier or an extending command on the same
    folder (e.g. more seeds for one task). They are not counted above, but the report includes them."""
    planned = {entry["id"] for entry in entries}
    extra = Counter((r.unit.task, r.unit.arm) for r in records if r.ok and r.unit_id not in planned)
    if not extra:
        return []
    parts = ", ".join(f"{task} {arm} {count}" for (task, arm), count in sorted(extra.items()))
    return [f"{sum(extra.values())} finished units are not in this plan (run.json lists the last command's units; "
            f"the report includes them): {parts}"]


def resumable(units_dir: Path, records: dict) -> list[str]:
    """Unfinished units that an interrupted attempt left a checkpoint for: the next run resumes them there."""
    from crossdomain.training import resume

    found = [f"{unit_id} (step {step})" for unit_id, step in resume.pending(units_dir).items() if unit_id not in records]
    if not found:
        return []
    return [f"{len(found)} unfinished unit(s) will resume from a checkpoint: {', '.join(found)}"]


def unit_seconds(record) -> float:
    """A unit's wall time; a resumed unit's wall time is its last attempt's, its training time every attempt's."""
    return max(record.wall_seconds or 0.0, record.train_seconds or 0.0)


def projection(records: dict, distinct: dict, plan: Plan) -> list[str]:
    finished = [r for r in records.values() if r.ok and r.wall_seconds]
    if not finished:
        return []
    estimate = seconds_estimator(records)
    remaining = [entry for state, entry in distinct.values() if state != "done"]
    guesses = [estimate(entry["task"], entry["phase"] == "baseline", entry.get("model"), entry.get("train_limit"))
               for entry in remaining]
    planned_workers = max(1, int(plan.executor.get("workers") or 1))
    running = sum(1 for state, _ in distinct.values() if state == "running")
    workers = max(planned_workers, running)  # more units running than planned: several runners share the folder
    who = " (the units running now, by several runners)" if workers > planned_workers else ""
    spent = sum(unit_seconds(r) for r in finished)
    lines = [f"unit time so far: {spent / 60:.1f} unit-minutes in {len(finished)} finished units"]
    if remaining and all(g is not None for g in guesses):
        left = sum(guesses)
        lines.append(f"projected remaining: {left / 60:.1f} unit-minutes, about {left / 60 / workers:.0f} min wall "
                     f"with {workers} worker(s){who} (each unit: the median of the finished units of its task at its model "
                     "and training-set size, else of its task; failed and running units count as still to run)")
    elif remaining:
        lines.append("projected remaining: unknown until a training unit has finished")
    return lines
