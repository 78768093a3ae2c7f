"""Kao & Lee's "re-emb" ablation: the pretrained body with new word embeddings."""
from __future__ import annotations

from dataclasses import dataclass

from crossdomain.inits.base import InitArm, InitContext, InitResult


@dataclass
class ReinitEmbeddings(InitArm):
    """Pretrained, word embeddings re-initialised: is the benefit in the token vectors or the body?"""

    name = "reinit-embeddings"

    def check(self, model_config) -> None:
        from crossdomain.inits.base import InitError

        size, hidden = getattr(model_config, "embedding_size", None), getattr(model_config, "hidden_size", None)
        if model_config.model_type == "albert" or (size is not None and hidden is not None and size != hidden):
            raise InitError(f"reinit-embeddings does not apply to {model_config.model_type!r}: its word embeddings are "
                            f"factorised ({size} wide, projected to {hidden}), so new word vectors would still pass "
                            "through a pretrained projection: not the paper's re-emb ablation")

    def build(self, context: InitContext) -> InitResult:
        import torch

        model = context.pretrained()
        embedding = model.get_input_embeddings()
        std = float(getattr(model.config, "initializer_range", 0.02))
        with torch.no_grad():  # the library's own rule for BERT embeddings: N(0, initializer_range), pad row 0
            embedding.weight.copy_(torch.randn(embedding.weight.shape, generator=context.generator()) * std)
            if embedding.padding_idx is not None:
                embedding.weight[embedding.padding_idx].zero_()
        return InitResult(model, {"reinitialised": "word embeddings", "std": std})


ARM = ReinitEmbeddings
