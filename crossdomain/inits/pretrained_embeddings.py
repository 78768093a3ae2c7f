"""Kao & Lee's "pretrain_embed" arm: a random body with the pretrained position and token-type embeddings."""
from __future__ import annotations

from dataclasses import dataclass

from crossdomain.inits.base import InitArm, InitContext, InitError, InitResult, body_parameters

COPIED = ("embeddings.position_embeddings.", "embeddings.token_type_embeddings.")


@dataclass
class PretrainedEmbeddings(InitArm):
    """Random body and word embeddings; the position and token-type embeddings copied from the checkpoint."""

    name = "pretrained-embeddings"

    def build(self, context: InitContext) -> InitResult:
        import torch

        model = context.fresh()  # the random arm's weights (same seed), then the copied tables
        checkpoint = body_parameters(context.pretrained())
        copied = []
        with torch.no_grad():
            for name, parameter in body_parameters(model).items():
                if name.startswith(COPIED):
                    parameter.copy_(checkpoint[name])
                    copied.append(name)
        if not any(name.startswith(COPIED[0]) for name in copied):
            raise InitError(f"pretrained-embeddings: {context.source.name!r} has no parameter named "
                            "'embeddings.position_embeddings.*' to copy")
        return InitResult(model, {"pretrained_tensors": sorted(copied)})


ARM = PretrainedEmbeddings
