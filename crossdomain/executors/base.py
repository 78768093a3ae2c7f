"""The executor API."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass
class ExecutorOptions:
    workers: int = 0  # processes: parallel workers (0 = one per GPU, or every core split into 1-thread workers)
    threads_per_worker: int = 0  # processes: torch threads per worker (0 = cores / workers)
    slurm_partition: str = ""
    slurm_time_min: int = 120  # per unit
    slurm_gpus: int = 0  # per unit
    slurm_cpus: int = 4  # per unit
    slurm_mem_gb: int = 16  # per unit
    slurm_array_parallelism: int = 32
    dry_run: bool = False

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


class Executor:
    """Runs units; calls ``on_record`` with each record it (or a worker) finished, in the coordinating process."""

    name = ""
    runs_here = True  # whether units run on this machine (its precision and CPU are theirs)

    def __init__(self, options: ExecutorOptions):
        self.options = options

    def run(self, units: list, out_dir: Path, on_record: Callable) -> None:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"executor": self.name, **self.options.to_json()}

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def with_threads(unit, threads: int):
    """The same unit (same id: threads are not hashed) with its torch thread count set."""
    return dataclasses.replace(unit, execution=dataclasses.replace(unit.execution, threads=threads))
