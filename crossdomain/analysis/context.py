"""The analysis run: which units, their model states and representations (computed once, reused by every analysis)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crossdomain.analysis.representations import Representations, UnitModel, load_state, represent


def symbol_vectors(unit_model: UnitModel) -> dict:
    weights = unit_model.model.get_input_embeddings().weight.detach().numpy()
    return {symbol: weights[row].copy() for symbol, row in unit_model.symbol_rows.items()}


def saved_model_dir(record) -> Path:
    """Where a unit's ``save-model`` hook keeps its fine-tuned weights: beside its record."""
    return record.path.parent / record.unit_id / "save-model"


def has_saved_weights(record) -> bool:
    """Whether the unit's ``save-model`` hook kept its fine-tuned weights beside its record."""
    return (saved_model_dir(record) / "model.safetensors").exists()


def choose_unit(held, candidate):
    """Of a task and arm's units, in fold, mapping seed and seed order: the first whose fine-tuned weights were
    saved, so that both halves are analysed where any unit allows it (weights are git-ignored and may be kept
    for some seeds only); the first unit where none were saved."""
    if held is None or (not has_saved_weights(held) and has_saved_weights(candidate)):
        return candidate
    return held


@dataclass
class AnalysisResult:
    table: pd.DataFrame
    figures: dict = field(default_factory=dict)  # name → matplotlib Figure
    notes: list = field(default_factory=list)  # lines for analysis.md
    captions: dict = field(default_factory=dict)  # figure name → caption (analysis.md, figures.md, figures.tex)


class AnalysisContext:
    def __init__(self, run_dir: Path, tasks: list[str] | None, examples: int, all_seeds: bool = False,
                 data_dirs: tuple[str, ...] | None = None):
        from crossdomain.run.plan import load_run_records

        self.run_dir, self.examples, self.data_dirs = Path(run_dir), examples, data_dirs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = [r for r in load_run_records(self.run_dir, on_error=lambda e: None)
                       if r.ok and not r.is_baseline and "main" in r.roles]
        from crossdomain.report import arm_order, run_plan, run_visuals

        self.roles = run_plan([self.run_dir])
        planned, pair = self.roles.arms, (self.roles.full, self.roles.reference)
        self.visuals = run_visuals([r.unit.init for r in records], planned, pair)  # the report's colours, all tasks
        if tasks:
            records = [r for r in records if r.unit.task in tasks]
        rank = {arm: i for i, arm in enumerate(arm_order({r.unit.init for r in records}, planned, pair))}
        records.sort(key=lambda r: (r.unit.task, rank[r.unit.init], r.unit.fold, r.unit.mapping_seed,
                                    r.unit.seed))
        chosen = {}
        for record in records:  # one unit per task and arm unless all_seeds: see choose_unit
            key = (record.unit.task, record.unit.init) if not all_seeds else record.unit_id
            chosen[key] = choose_unit(chosen.get(key), record)
        self.records = list(chosen.values())
        self._current_model: tuple | None = None  # (unit id, state) → UnitModel, the latest one only
        self._symbol_vectors: dict = {}
        self._representations: dict = {}
        self.missing_after = [r.unit_id for r in self.records if not has_saved_weights(r)]

    @property
    def tasks(self) -> list[str]:
        return sorted({r.unit.task for r in self.records})

    def arms(self, task: str) -> list:
        return [r for r in self.records if r.unit.task == task]

    def model(self, record, state: str) -> UnitModel | None:
        """The unit's model in one state. Only the latest model is kept in memory (a run may hold hundreds of
        units); what analyses need from it later (representations, symbol embeddings) is cached, small."""
        key = (record.unit_id, state)
        if self._current_model is None or self._current_model[0] != key:
            from crossdomain.run.units import Unit

            self._current_model = None  # release the previous model before the next one is built
            loaded = load_state(Unit.from_record(record, self.data_dirs), record, state)
            self._current_model = (key, loaded)
            self._symbol_vectors[key] = symbol_vectors(loaded) if loaded is not None else None
        return self._current_model[1]

    def symbol_vectors(self, record, state: str) -> dict | None:
        """symbol → its input-embedding vector in that state (None without saved 'after' weights)."""
        key = (record.unit_id, state)
        if key not in self._symbol_vectors:
            self.model(record, state)
        return self._symbol_vectors[key]

    def representations(self, record, state: str, split: str = "test") -> Representations | None:
        """Hidden states on a seeded sample of the unit's own split; attention statistics too on test."""
        key = (record.unit_id, state, split)
        if key not in self._representations:
            model = self.model(record, state)
            self._representations[key] = (represent(model, split, self.examples, attention=split == "test")
                                          if model else None)
        return self._representations[key]
