"""The analysis run: which units, their model states and representations (computed once, reused by every analysis)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crossdomain.analysis.base import Representations, UnitModel, load_state, represent


@dataclass
class AnalysisResult:
    table: pd.DataFrame
    figures: dict = field(default_factory=dict)  # name → matplotlib Figure
    notes: list = field(default_factory=list)  # lines for analysis.md


class AnalysisContext:
    def __init__(self, run_dir: Path, tasks: list[str] | None, examples: int, all_seeds: bool = False,
                 data_dirs: tuple[str, ...] | None = None):
        from crossdomain.record import load_records

        self.run_dir, self.examples, self.data_dirs = Path(run_dir), examples, data_dirs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = [r for r in load_records(self.run_dir / "units", on_error=lambda e: None)
                       if r.ok and not r.unit.get("baseline") and "main" in r.roles]
        if tasks:
            records = [r for r in records if r.unit["task"] in tasks]
        from crossdomain.report import arm_order, run_plan

        rank = {arm: i for i, arm in enumerate(arm_order({r.unit["init"] for r in records}, run_plan([self.run_dir])[0]))}
        records.sort(key=lambda r: (r.unit["task"], rank[r.unit["init"]], r.unit["fold"], r.unit["mapping_seed"],
                                    r.unit["seed"]))
        chosen = {}
        for record in records:  # one unit per task and arm (its first fold/mapping seed/seed) unless all_seeds
            key = (record.unit["task"], record.unit["init"]) if not all_seeds else record.unit_id
            chosen.setdefault(key, record)
        self.records = list(chosen.values())
        self._models: dict = {}
        self._representations: dict = {}
        self.missing_after = [r.unit_id for r in self.records
                              if not (r.path.parent / r.unit_id / "save-model" / "model.safetensors").exists()]

    @property
    def tasks(self) -> list[str]:
        return sorted({r.unit["task"] for r in self.records})

    def arms(self, task: str) -> list:
        return [r for r in self.records if r.unit["task"] == task]

    def model(self, record, state: str) -> UnitModel | None:
        key = (record.unit_id, state)
        if key not in self._models:
            from crossdomain.units import Unit

            self._models[key] = load_state(Unit.from_record(record, self.data_dirs), record, state)
        return self._models[key]

    def representations(self, record, state: str, split: str = "test") -> Representations | None:
        """Hidden states on a seeded sample of the unit's own split; attention statistics too on test."""
        key = (record.unit_id, state, split)
        if key not in self._representations:
            model = self.model(record, state)
            self._representations[key] = (represent(model, split, self.examples, attention=split == "test")
                                          if model else None)
        return self._representations[key]
