"""crossdomain: is a text-pretrained BERT a better starting point for DNA, proteins and music?

The package reads in the order of the pipeline: ``data`` (task definitions, sources, records, splits) →
``training`` (token mapping, models, the trainer, hooks, a unit's stages) → ``run`` (suites, units, lr
selection, the grid, claims, status) → ``report`` and ``analysis``; the plugin kinds (``adapters``, ``inits``,
``baselines``, ``executors``) are packages of their own.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__version__ = "0.1.0"

# modules moved when the package was grouped by pipeline stage (0.2): the old names still import, with a warning
MOVED = {
    "tasks": "data.tasks", "sources": "data.sources", "data": "data.prepare", "splits": "data.splits",
    "mapping": "training.mapping", "models": "training.models", "trainer": "training.trainer",
    "pipeline": "training.stages", "hooks": "training.hooks", "units": "run.units", "runner": "run.grid",
    "selection": "run.selection", "claims": "run.claims", "status": "run.status", "suites": "run.suites",
    "provenance": "run.provenance",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import crossdomain.tasks`` (an old name) gives ``crossdomain.data.tasks``, with a DeprecationWarning.
    ``crossdomain.data`` is now a package, so its old name is not aliased: import ``crossdomain.data.prepare``."""

    def find_spec(self, fullname, path=None, target=None):
        old = fullname.removeprefix(f"{__name__}.")
        if fullname.startswith(f"{__name__}.") and old in MOVED and old != "data":
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = f"{__name__}.{MOVED[spec.name.removeprefix(f'{__name__}.')]}"
        warnings.warn(f"{spec.name} moved to {new}; the old name will be removed in 0.3", DeprecationWarning,
                      stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module):
        sys.modules[module.__spec__.name] = module  # the new module under its old name too, already executed


sys.meta_path.insert(0, _MovedModules())  # before the path finders: an old file left on the path never wins
