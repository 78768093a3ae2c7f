"""Which layers carry the benefit: the bottom k layers pretrained, the rest fresh."""
from __future__ import annotations

from dataclasses import dataclass

from crossdomain.inits.base import InitArm, InitContext, InitError, InitResult, body_parameters, layer_index


@dataclass
class PretrainedLayers(InitArm):
    """Embeddings + the first k transformer layers pretrained, the rest (and the pooler) freshly initialised.

    A tensor of the encoder that belongs to no one layer but is used by all of them (MPNet's shared relative
    attention bias) comes with the pretrained layers: copied when k >= 1, fresh when k = 0."""

    name = "pretrained-layers"
    k: int

    def __post_init__(self):
        if self.k < 0:
            raise InitError(f"pretrained-layers: k must be >= 0, got {self.k}")

    def check(self, model_config) -> None:
        if getattr(model_config, "num_hidden_groups", None) is not None:
            raise InitError(f"pretrained-layers does not apply to {model_config.model_type!r}: its layers share one "
                            "set of weights (ALBERT's layer groups), so there are no first k layers to copy")
        depth = getattr(model_config, "num_hidden_layers", None)
        if depth is None:
            raise InitError("pretrained-layers: the model config has no num_hidden_layers")
        if self.k > depth:
            raise InitError(f"pretrained-layers: k={self.k} but the model has {depth} layers (k must be 0..{depth})")

    def build(self, context: InitContext) -> InitResult:
        import torch

        model = context.fresh()  # same seed as the random arm: identical weights from layer k on, identical head
        checkpoint = body_parameters(context.pretrained())
        copied = []
        with torch.no_grad():
            for name, parameter in body_parameters(model).items():
                layer = layer_index(name)
                shared = layer is None and name.startswith("encoder.")  # used by every layer
                if name.startswith("embeddings.") or (layer is not None and layer < self.k) or (shared and self.k):
                    parameter.copy_(checkpoint[name])
                    copied.append(name)
        if self.k and not any(layer_index(n) is not None for n in copied):
            raise InitError(f"pretrained-layers: no parameter of {context.source.name!r} is named like 'layer.N.'")
        shared = [n for n in copied if layer_index(n) is None and n.startswith("encoder.")]
        return InitResult(model, {"pretrained_tensors": len(copied), "pretrained_layers": list(range(self.k)),
                                  **({"pretrained_shared": shared} if shared else {})})


ARM = PretrainedLayers
