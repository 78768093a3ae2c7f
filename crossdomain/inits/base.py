"""The init-arm API: what a model's weights are before fine-tuning.

An arm is a dataclass whose fields are its parameters (``pretrained-layers:k=3`` sets ``k``)
and whose :meth:`InitArm.build` returns the classifier to fine-tune. Arms draw their own
randomness from :meth:`InitContext.generator`, seeded from the unit seed, so the same seed
gives the same weights on any run.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

LAYER_INDEX = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


class InitError(ValueError):
    """An arm that cannot be built for this model (e.g. ``k`` beyond the model's depth)."""


@dataclass
class InitContext:
    """What an arm may use: the model source, the number of labels and the unit seed."""

    source: Any  # crossdomain.training.models.ModelSource
    num_labels: int
    seed: int

    def pretrained(self):
        """The checkpoint's weights with a new classification head (seeded: the head is reproducible)."""
        from crossdomain.training.models import pretrained_classifier

        self._seed_everything()
        return pretrained_classifier(self.source, self.num_labels)

    def fresh(self):
        """The same architecture with the library's fresh initialisation (what the ``random`` arm is)."""
        from crossdomain.training.models import fresh_classifier

        self._seed_everything()
        return fresh_classifier(self.source, self.num_labels)

    def generator(self, salt: int = 0):
        """A private torch generator for the arm's own draws, seeded from the unit seed."""
        import torch

        return torch.Generator().manual_seed(self.seed * 1_000_003 + salt)

    def _seed_everything(self) -> None:
        from transformers import set_seed

        set_seed(self.seed)


@dataclass
class InitResult:
    model: Any
    details: dict = field(default_factory=dict)  # what the arm did, for the unit file


@dataclass
class InitArm:
    """Base class of init arms; subclasses set ``name``, a one-line docstring and their parameter fields."""

    name: ClassVar[str] = ""

    def build(self, context: InitContext) -> InitResult:
        raise NotImplementedError

    def check(self, model_config) -> None:
        """Refuse parameters this model cannot honour, before any unit starts (``model_config``: its HF config)."""

    def freeze(self, model) -> None:
        """Called after the vocabulary is pruned, just before training: set ``requires_grad`` here."""

    @property
    def spec(self) -> str:
        """The canonical spec string: ``name`` or ``name:key=value,...`` with every parameter, in field order."""
        values = [f"{f.name}={_format(getattr(self, f.name))}" for f in dataclasses.fields(self)]
        return f"{self.name}:{','.join(values)}" if values else self.name

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def _format(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# -- helpers shared by arms ----------------------------------------------------------------------


def body_parameters(model) -> dict:
    """Name → parameter of the encoder body (everything but the task head), names relative to the body."""
    return dict(model.base_model.named_parameters())


def layer_index(name: str) -> int | None:
    """The transformer layer a body parameter belongs to (``encoder.layer.3.…`` → 3), or None."""
    match = LAYER_INDEX.search(name)
    return int(match.group(1)) if match else None


def parameter_counts(model) -> dict:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_parameters": trainable, "frozen_parameters": total - trainable}
