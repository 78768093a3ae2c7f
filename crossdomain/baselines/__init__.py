"""Baselines: simple models run on exactly the units' splits, reported as reference rows, never as arms.

Built-ins are the modules of this package (``kmer_logreg`` is ``kmer-logreg``), loaded lazily;
third-party baselines register through the entry-point group ``crossdomain.baselines``.
"""
from __future__ import annotations

import pkgutil

from crossdomain.baselines.base import Baseline, BaselineOutcome, SymbolSplit
from crossdomain.registry import Registry

BASELINES: Registry[type[Baseline]] = Registry("baseline", entry_point_group="crossdomain.baselines")
for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        BASELINES.register(_module.name.replace("_", "-"), f"crossdomain.baselines.{_module.name}:BASELINE")

# the baseline figures draw as a dashed reference line
REFERENCE_LINE = "majority"

__all__ = ["BASELINES", "Baseline", "BaselineOutcome", "SymbolSplit", "REFERENCE_LINE"]
