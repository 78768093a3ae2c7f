"""Per-arm learning-rate selection, fair to both arms.

For each (task, arm) of a suite with an ``lr_grid`` (``task_lr_grid`` per task, ``arm_lr_grid`` per arm),
one *selection unit* per grid value runs on the arm's first seed (the suite's, unless ``task_arm_seeds`` gives
the arm its own), fold and mapping seed (``task_lr_selection_folds``: on each of the task's first N folds).
The chosen lr is the one with the best dev score (the task's primary metric, best over the learning curve, or
the final one for a unit that keeps its final weights; averaged over the selection folds; a tie goes to the
smaller lr); test scores are never looked at. The main units then train each arm with its own chosen lr, and a
main unit that coincides with a selection unit (first seed, chosen lr) is that same unit, run once.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from crossdomain.record import UnitRecord


class SelectionError(RuntimeError):
    pass


@dataclass
class Selection:
    task: str
    arm: str
    grid: list[float]
    unit_ids: dict[float, list[str]]  # lr → its selection units' ids (one per selection fold)
    dev_scores: dict[float, float]  # lr → dev score (finished units only; mean over the selection folds)
    chosen_lr: float | None

    def units_json(self) -> dict:
        """lr → unit id (a list of ids when the lr was scored on several folds)."""
        return {str(k): v[0] if len(v) == 1 else v for k, v in self.unit_ids.items()}

    def to_json(self) -> dict:
        return {"grid": self.grid, "units": self.units_json(),
                "dev_scores": {str(k): v for k, v in self.dev_scores.items()}, "chosen_lr": self.chosen_lr}

    def annotation(self) -> dict:
        """What a main unit records about how its lr was chosen."""
        return {"grid": self.grid, "chosen_lr": self.chosen_lr,
                "selection_units": [i for ids in self.unit_ids.values() for i in ids],
                "dev_scores": {str(k): v for k, v in self.dev_scores.items()}}


def selection_key(unit) -> tuple:
    """What an lr is chosen for: a task, an arm, a model and a training-set size (the model and data axes)."""
    return unit.task, unit.init, unit.model, unit.train.max_train_examples


def selection_units(suite, base_units) -> dict[tuple, dict[float, list]]:
    """(task, arm, model, training size) → lr → selection units: the main grid's first (mapping seed, seed) unit of
    each of the task's first ``task_lr_selection_folds`` folds (default 1), with the lr replaced."""
    from crossdomain.run.units import TrainedUnit

    bases: dict[tuple, dict[int, object]] = {}
    for unit in base_units:
        folds = bases.setdefault(selection_key(unit), {})
        wanted = suite.task_lr_selection_folds.get(unit.task, 1)
        selected = isinstance(unit, TrainedUnit) and suite.lr_grid_for(unit.task, unit.init)
        if selected and unit.fold not in folds and len(folds) < wanted:
            folds[unit.fold] = unit
    return {key: {lr: [dataclasses.replace(unit, train=dataclasses.replace(unit.train, lr=lr), roles=("selection",))
                       for unit in folds.values()] for lr in suite.lr_grid_for(key[0], key[1])}
            for key, folds in bases.items() if folds}


def primary_metric(record: UnitRecord):
    from crossdomain.metrics import METRICS, get_metric

    name = (record.task or {}).get("primary_metric") or (record.metrics or {}).get("primary_metric") or "accuracy"
    return METRICS.get(name) or get_metric("accuracy")


def dev_score(record: UnitRecord) -> float:
    """The dev score of the weights the unit keeps: the best over the curve (in the metric's direction), or the
    final one without keep_best."""
    metric = primary_metric(record)
    if not record.curve:
        return metric.worst
    if record.config.get("keep_best", True) is False:
        return record.curve[-1]["dev"]
    return metric.best(point["dev"] for point in record.curve)


def choose(task: str, arm: str, units: dict[float, list], records: dict[str, UnitRecord]) -> Selection:
    scores, higher = {}, True
    for lr, group in units.items():
        finished = [records[u.unit_id] for u in group if u.unit_id in records and records[u.unit_id].ok]
        if finished:
            scores[lr] = sum(dev_score(r) for r in finished) / len(finished)
            higher = primary_metric(finished[0]).higher_is_better
    sign = -1 if higher else 1
    chosen = min(scores, key=lambda lr: (sign * scores[lr], lr)) if scores else None
    return Selection(task, arm, sorted(units), {lr: [u.unit_id for u in group] for lr, group in units.items()},
                     scores, chosen)


def apply(unit, selection: Selection, selection_ids: set[str]):
    """The main unit with its arm's chosen lr, marked when it is also a selection unit."""
    chosen = dataclasses.replace(unit, train=dataclasses.replace(unit.train, lr=selection.chosen_lr),
                                 selection=selection.annotation())
    roles = ("selection", "main") if chosen.unit_id in selection_ids else ("main",)
    return dataclasses.replace(chosen, roles=roles)
