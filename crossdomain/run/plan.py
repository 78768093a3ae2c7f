"""The plan of a run: what its suite expands to, phase by phase, with each unit's roles and the arms' roles.

The runner writes it as ``run.json`` (:func:`write_plan`); status, report and analysis read it back with
:func:`load_plan` rather than expanding the suite again. It holds the canonical arm specs and contrasts, so a run
that used a third-party arm can be reported where that plugin is not installed. A unit's roles come from here:
when a main unit is the lr-selection unit already run (first seed, chosen lr), the plan says so and the finished
unit file is left as it was written.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from crossdomain.atomic import atomic_write_json
from crossdomain.config import FULL_ARM, REFERENCE_ARM
from crossdomain.record import UnitRecord, load_records

PHASES = ("baseline", "selection", "main")


@dataclass(frozen=True)
class PlannedUnit:
    """One entry of the plan. A main unit under an lr grid has no id until its arm's lr is chosen."""

    id: str | None
    task: str
    arm: str
    phase: str  # baseline, selection or main
    roles: tuple[str, ...] = ("main",)
    awaiting: str | None = None  # "lr selection" while the id is not known yet
    reuses_selection_unit: bool = False  # it will be (or is) one of its arm's selection units
    # the point on the model and data axes it runs at (None: a baseline's model; plans before 0.1 lack both)
    model: str | None = None
    train_limit: int | None = None

    def to_json(self) -> dict:
        data = {"id": self.id, "task": self.task, "arm": self.arm, "phase": self.phase, "roles": list(self.roles)}
        data |= {key: value for key in ("model", "train_limit") if (value := getattr(self, key)) is not None}
        if self.awaiting:
            data |= {"awaiting": self.awaiting, "reuses_selection_unit": self.reuses_selection_unit}
        return data

    @classmethod
    def from_json(cls, data, baselines: list[str]) -> "PlannedUnit":
        if not isinstance(data, dict):  # the first plans listed bare ids (task and arm come from the records)
            return cls(id=data, task="?", arm="?", phase="")
        phase = data.get("phase") or ("baseline" if data.get("arm") in baselines else "main")
        return cls(id=data.get("id"), task=data.get("task", "?"), arm=data.get("arm", "?"), phase=phase,
                   roles=tuple(data.get("roles") or ("main",)), awaiting=data.get("awaiting"),
                   reuses_selection_unit=bool(data.get("reuses_selection_unit")), model=data.get("model"),
                   train_limit=data.get("train_limit"))


@dataclass
class Plan:
    units: list[PlannedUnit]
    arms: list[str]  # canonical arm specs, in suite order
    contrasts: list[tuple[str, str]]  # canonical (treatment, control) pairs the suite declares; empty: defaults
    full_arm: str  # the treatment a recovered fraction is measured against
    reference_arm: str  # the control of the default contrasts and of recovered fractions
    baselines: list[str] = field(default_factory=list)
    suite: dict = field(default_factory=dict)  # the resolved suite
    selection: dict = field(default_factory=dict)  # "task|arm[|model][|n=size]" → grid, units, dev scores, chosen lr
    executor: dict = field(default_factory=dict)
    git: dict = field(default_factory=dict)
    libraries: dict = field(default_factory=dict)
    machine: dict = field(default_factory=dict)

    def roles(self) -> dict[str, tuple[str, ...]]:
        """unit id → its roles; a unit planned in two phases (selection and main) has both."""
        roles: dict[str, tuple[str, ...]] = {}
        for unit in self.units:
            if unit.id:
                roles[unit.id] = tuple(dict.fromkeys([*roles.get(unit.id, ()), *unit.roles]))
        return roles

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["units"] = [unit.to_json() for unit in self.units]
        data["contrasts"] = [list(pair) for pair in self.contrasts]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        suite = data.get("suite") or {}
        baselines = list(data.get("baselines") or [])
        if "contrasts" in data:
            contrasts = [tuple(pair) for pair in data["contrasts"]]
        else:  # plans written before the plan held canonical contrasts: canonicalise the suite's own
            from crossdomain.inits import canonical_init

            contrasts = [tuple(canonical_init(a) for a in pair) for pair in suite.get("contrasts") or []]
        return cls(units=[PlannedUnit.from_json(u, baselines) for u in data.get("units") or []],
                   arms=list(data.get("arms") or []), contrasts=contrasts,
                   full_arm=data.get("full_arm") or suite.get("full_arm") or FULL_ARM,
                   reference_arm=data.get("reference_arm") or suite.get("reference_arm") or REFERENCE_ARM,
                   baselines=baselines, suite=suite, selection=data.get("selection") or {},
                   executor=data.get("executor") or {}, git=data.get("git") or {},
                   libraries=data.get("libraries") or {}, machine=data.get("machine") or {})

    def write(self, out_dir: Path) -> None:
        atomic_write_json(Path(out_dir) / "run.json", self.to_json())


def load_plan(run_dir: Path) -> Plan | None:
    """The run's plan, or None for a folder without a readable ``run.json``."""
    path = Path(run_dir) / "run.json"
    try:
        return Plan.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def with_planned_roles(records: list[UnitRecord], plan: Plan | None) -> list[UnitRecord]:
    """The records with the roles their plan gives them (in memory; the files are not touched)."""
    roles = plan.roles() if plan else {}
    for record in records:
        if record.unit_id in roles:
            record.roles = list(roles[record.unit_id])
    return records


def load_run_records(run_dir: Path, on_error=None) -> list[UnitRecord]:
    """Every readable unit record of a run, with its planned roles; see :func:`crossdomain.record.load_records`."""
    return with_planned_roles(load_records(Path(run_dir) / "units", on_error=on_error), load_plan(run_dir))
