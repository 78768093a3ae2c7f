"""``crossdomain analyze``: what happens inside the model, per init arm, before and after fine-tuning.

Analyses are the modules of this package that define ``ANALYSIS`` (``probes``, ``attention``,
``layer_change``, ``embeddings``), loaded lazily; third-party analyses register through the
entry-point group ``crossdomain.analyses``.
"""
from __future__ import annotations

import pkgutil

from crossdomain.registry import Registry

INFRASTRUCTURE = {"base", "cka", "context", "figures", "runner"}
ANALYSES = Registry("analysis", entry_point_group="crossdomain.analyses")
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in INFRASTRUCTURE:
        ANALYSES.register(_module.name.replace("_", "-"), f"crossdomain.analysis.{_module.name}:ANALYSIS")
