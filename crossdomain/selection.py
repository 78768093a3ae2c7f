"""Per-arm learning-rate selection, fair to both arms.

For each (task, arm) of a suite with an ``lr_grid``, one *selection unit* per grid value runs on
the suite's first seed, fold and mapping seed. The chosen lr is the one with the best dev score
(the task's primary metric, best over the learning curve; a tie goes to the smaller lr); test
scores are never looked at. The main units then train each arm with its own chosen lr, and the
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
    unit_ids: dict[float, str]  # lr → selection unit id
    dev_scores: dict[float, float]  # lr → best dev score over the curve (finished units only)
    chosen_lr: float | None

    def to_json(self) -> dict:
        return {"grid": self.grid, "units": {str(k): v for k, v in self.unit_ids.items()},
                "dev_scores": {str(k): v for k, v in self.dev_scores.items()}, "chosen_lr": self.chosen_lr}

    def annotation(self) -> dict:
        """What a main unit records about how its lr was chosen."""
        return {"grid": self.grid, "chosen_lr": self.chosen_lr, "selection_units": list(self.unit_ids.values()),
                "dev_scores": {str(k): v for k, v in self.dev_scores.items()}}


def selection_units(suite, base_units) -> dict[tuple[str, str], dict[float, object]]:
    """(task, arm) → lr → selection unit, built from the main grid's first (fold, mapping seed, seed) units."""
    plan: dict[tuple[str, str], dict[float, object]] = {}
    for unit in base_units:
        grid = suite.lr_grid_for(unit.task)
        if unit.baseline or not grid or (unit.task, unit.init) in plan:
            continue
        plan[(unit.task, unit.init)] = {
            lr: dataclasses.replace(unit, train=dataclasses.replace(unit.train, lr=lr), roles=("selection",))
            for lr in grid}
    return plan


def best_dev(record: UnitRecord) -> float:
    return max(point["dev"] for point in record.curve) if record.curve else float("-inf")


def choose(task: str, arm: str, units: dict[float, object], records: dict[str, UnitRecord]) -> Selection:
    scores = {lr: best_dev(records[u.unit_id]) for lr, u in units.items()
              if u.unit_id in records and records[u.unit_id].ok}
    chosen = min(scores, key=lambda lr: (-scores[lr], lr)) if scores else None
    return Selection(task, arm, sorted(units), {lr: u.unit_id for lr, u in units.items()}, scores, chosen)


def apply(unit, selection: Selection, selection_ids: set[str]):
    """The main unit with its arm's chosen lr, marked when it is also a selection unit."""
    chosen = dataclasses.replace(unit, train=dataclasses.replace(unit.train, lr=selection.chosen_lr),
                                 selection=selection.annotation())
    roles = ("selection", "main") if chosen.unit_id in selection_ids else ("main",)
    return dataclasses.replace(chosen, roles=roles)
