"""Init arms: what the weights are before fine-tuning, as a registry of small classes.

Built-ins are the modules of this package (module ``stats_matched`` is the arm
``stats-matched``), loaded lazily; third-party arms register through the entry-point group
``crossdomain.inits``. A spec is a name, or a name with parameters:
``pretrained-layers:k=3``, ``frozen:base=random``.
"""
from __future__ import annotations

from crossdomain.config import FULL_ARM, REFERENCE_ARM, ConfigError, build
from crossdomain.inits.base import InitArm, InitContext, InitError, InitResult
from crossdomain.registry import Registry

INITS: Registry[type[InitArm]] = Registry("init arm", entry_point_group="crossdomain.inits", base=InitArm)
INITS.register_modules(__name__, __path__, "ARM", skip={"base"})

# FULL_ARM and REFERENCE_ARM (from config) are the defaults of a suite's full_arm and reference_arm; readers take
# the roles from the run's plan.


def parse_init(text: str) -> InitArm:
    """``name`` or ``name:key=value[,key=value]`` → an arm instance; unknown names and keys get a did-you-mean."""
    name, has_params, rest = str(text).strip().partition(":")
    arm_class = INITS.get(name.strip())
    params: dict[str, str] = {}
    for item in rest.split(",") if has_params else []:
        key, has_value, value = item.partition("=")
        if not has_value or not key.strip():
            raise ConfigError(f"init {text!r}: expected NAME:KEY=VALUE[,KEY=VALUE], got {item!r}")
        if key.strip() in params:
            raise ConfigError(f"init {text!r}: parameter {key.strip()!r} given twice")
        params[key.strip()] = value.strip()
    try:
        return build(arm_class, params, f"init {text!r}")
    except InitError as error:
        raise ConfigError(f"init {text!r}: {error}") from error


def canonical_init(text: str) -> str:
    return parse_init(text).spec


__all__ = ["INITS", "InitArm", "InitContext", "InitError", "InitResult", "REFERENCE_ARM", "FULL_ARM", "parse_init",
           "canonical_init"]
