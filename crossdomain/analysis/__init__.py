"""``crossdomain analyze``: what happens inside the model, per init arm, before and after fine-tuning.

Analyses are the modules of this package that define ``ANALYSIS`` (``probes``, ``attention``,
``layer_change``, ``embeddings``), loaded lazily; third-party analyses register through the
entry-point group ``crossdomain.analyses``.
"""
from __future__ import annotations

from crossdomain.registry import Registry

INFRASTRUCTURE = {"analyze", "cka", "context", "figures", "representations", "retrain"}
ANALYSES = Registry("analysis", entry_point_group="crossdomain.analyses")
ANALYSES.register_modules(__name__, __path__, "ANALYSIS", skip=INFRASTRUCTURE)
