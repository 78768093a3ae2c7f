"""FPT's statistics-only control: pretrained per-tensor mean and std, no structure."""
from __future__ import annotations

from dataclasses import dataclass

from crossdomain.inits.base import InitArm, InitContext, InitResult, body_parameters


@dataclass
class StatsMatched(InitArm):
    """Every body tensor drawn i.i.d. normal with that pretrained tensor's mean and std: do weight statistics alone help?"""

    name = "stats-matched"

    def build(self, context: InitContext) -> InitResult:
        import torch

        model = context.pretrained()
        generator = context.generator()
        with torch.no_grad():
            for _, parameter in sorted(body_parameters(model).items()):
                mean = parameter.mean()
                std = parameter.std() if parameter.numel() > 1 else torch.zeros(())
                draw = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
                parameter.copy_(draw * std + mean)
        return InitResult(model, {"tensors_redrawn": len(body_parameters(model))})


ARM = StatsMatched
