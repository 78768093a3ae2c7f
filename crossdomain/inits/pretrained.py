"""The checkpoint's own weights."""
from __future__ import annotations

from dataclasses import dataclass

from crossdomain.inits.base import InitArm, InitContext, InitResult


@dataclass
class Pretrained(InitArm):
    """The checkpoint's text-pretrained weights (the paper's treatment arm)."""

    name = "pretrained"

    def build(self, context: InitContext) -> InitResult:
        return InitResult(context.pretrained())


ARM = Pretrained
