"""Post-training hooks: code that runs on a unit's fine-tuned model and leaves files in ``units/<unit_id>/``.

A hook is a small class with ``after_training(context) -> dict``; the dict is recorded under
``artifacts`` in the unit file. Built-ins load lazily; third-party hooks register through the
entry-point group ``crossdomain.training.hooks``. A suite lists its hooks (``hooks: [save-model]``); hooks
record, they do not change the result, so they are not part of the unit id.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from crossdomain.registry import Registry


@dataclass
class HookContext:
    unit: object  # crossdomain.run.units.Unit
    prepared: object  # crossdomain.training.stages.PreparedData
    built: object  # crossdomain.training.stages.BuiltModel (the model holds the fine-tuned, best-dev weights)
    outcome: object  # crossdomain.training.trainer.TrainOutcome
    directory: Path  # this hook's own folder under units/<unit_id>/


class Hook:
    name = ""

    def after_training(self, context: HookContext) -> dict:
        raise NotImplementedError


class SaveModel(Hook):
    """Saves the fine-tuned model (safetensors) and the token-id map it reads, for later analysis."""

    name = "save-model"

    def after_training(self, context: HookContext) -> dict:
        from crossdomain.training.models import kept_vocabulary_ids

        context.built.model.save_pretrained(context.directory, safe_serialization=True)
        keep = kept_vocabulary_ids(context.unit.train.prune_vocab, context.prepared)
        (context.directory / "vocabulary_ids.json").write_text(json.dumps(keep), encoding="utf-8")
        return {"files": sorted(p.name for p in context.directory.iterdir())}


HOOKS: Registry[type[Hook]] = Registry("post-training hook", entry_point_group="crossdomain.hooks", base=Hook)
HOOKS.register("save-model", SaveModel)
