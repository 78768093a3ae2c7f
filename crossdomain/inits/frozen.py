"""FPT's frozen body: only layer norms, position embeddings, token rows and the head train."""
from __future__ import annotations

from dataclasses import dataclass

from crossdomain.inits.base import InitArm, InitContext, InitError, InitResult

TRAINABLE_IN_BODY = ("LayerNorm", "layer_norm", "position_embeddings", "word_embeddings")


@dataclass
class Frozen(InitArm):
    """The base arm with the transformer body frozen; layer norms, position embeddings, mapped token rows and the
    classifier train (FPT)."""

    name = "frozen"
    base: str = "pretrained"

    def __post_init__(self):
        self.base_arm()  # refuse an unknown base, or one that needs parameters, when the spec is parsed

    def base_arm(self) -> InitArm:
        from crossdomain.inits import INITS
        from crossdomain.registry import did_you_mean

        candidates = [n for n in INITS.names() if n != self.name]
        if self.base not in candidates:
            raise InitError(f"frozen: unknown base arm {self.base!r}.{did_you_mean(self.base, candidates)}")
        try:
            return INITS.get(self.base)()
        except TypeError as error:
            raise InitError(f"frozen: base arm {self.base!r} needs parameters; frozen takes an arm without") from error

    def check(self, model_config) -> None:
        self.base_arm().check(model_config)

    def build(self, context: InitContext) -> InitResult:
        result = self.base_arm().build(context)
        return InitResult(result.model, {"base": self.base, **result.details})

    def freeze(self, model) -> None:
        body = model.base_model
        for name, parameter in body.named_parameters():
            parameter.requires_grad_(any(part in name for part in TRAINABLE_IN_BODY))


ARM = Frozen
