"""Exact pretrained marginal distribution per tensor, positions scrambled."""
from __future__ import annotations

from dataclasses import dataclass

from crossdomain.inits.base import InitArm, InitContext, InitResult, body_parameters


@dataclass
class Shuffled(InitArm):
    """Every pretrained body tensor's entries permuted within the tensor: the exact value distribution, no structure."""

    name = "shuffled"

    def build(self, context: InitContext) -> InitResult:
        import torch

        model = context.pretrained()
        generator = context.generator()
        with torch.no_grad():
            for _, parameter in sorted(body_parameters(model).items()):
                flat = parameter.detach().reshape(-1).clone()
                order = torch.randperm(flat.numel(), generator=generator)
                parameter.copy_(flat[order].view_as(parameter))
        return InitResult(model, {"tensors_shuffled": len(body_parameters(model))})


ARM = Shuffled
