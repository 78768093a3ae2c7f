"""Executors: how a list of units is run — one after another, in local worker processes, or on SLURM.

Each unit writes its own record (claimed first, so concurrent runners never duplicate work); the
coordinating process gets each finished record through ``on_record`` and alone rewrites
``results.csv``. Built-ins are the modules of this package, loaded lazily; third-party executors
register through the entry-point group ``crossdomain.executors``.
"""
from __future__ import annotations

from crossdomain.executors.base import Executor, ExecutorOptions
from crossdomain.registry import Registry

EXECUTORS: Registry[type[Executor]] = Registry("executor", entry_point_group="crossdomain.executors", base=Executor)
EXECUTORS.register_modules(__name__, __path__, "EXECUTOR", skip={"base"})


def make_executor(name: str, options: ExecutorOptions | None = None) -> Executor:
    return EXECUTORS.get(name)(options or ExecutorOptions())


__all__ = ["EXECUTORS", "Executor", "ExecutorOptions", "make_executor"]
