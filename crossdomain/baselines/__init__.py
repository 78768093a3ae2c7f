"""Baselines: simple models run on exactly the units' splits, reported as reference rows, never as arms.

Built-ins are the modules of this package (``kmer_logreg`` is ``kmer-logreg``), loaded lazily;
third-party baselines register through the entry-point group ``crossdomain.baselines``.
"""
from __future__ import annotations

from crossdomain.baselines.base import Baseline, BaselineOutcome, SymbolSplit
from crossdomain.registry import Registry

BASELINES: Registry[type[Baseline]] = Registry("baseline", entry_point_group="crossdomain.baselines", base=Baseline)
BASELINES.register_modules(__name__, __path__, "BASELINE", skip={"base"})

__all__ = ["BASELINES", "Baseline", "BaselineOutcome", "SymbolSplit"]
