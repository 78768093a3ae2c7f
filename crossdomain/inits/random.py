"""The same architecture, freshly initialised."""
from __future__ import annotations

from dataclasses import dataclass

from crossdomain.inits.base import InitArm, InitContext, InitResult


@dataclass
class Random(InitArm):
    """Same config, the library's fresh initialisation (the paper's control arm)."""

    name = "random"

    def build(self, context: InitContext) -> InitResult:
        return InitResult(context.fresh())


ARM = Random
